"""What every chat model backend provides, and the parsing of model spec strings."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field

from assistant.errors import ConfigError

Message = dict[str, str]


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Filled by backends that know better than a local estimate (Ollama reports real counts).
    exact_prompt_tokens: bool = False
    # The model stopped at max_tokens, not at its own end: the text was cut off.
    cut_off: bool = False


@dataclass(frozen=True)
class ModelSpec:
    backend: str
    name: str
    base_url: str = ""

    @property
    def text(self) -> str:
        if self.backend == "openai":
            return f"openai:{self.base_url}#{self.name}"
        return f"{self.backend}:{self.name}"


BACKENDS = ("llamacpp", "ollama", "openai")


def parse_spec(spec: str) -> ModelSpec:
    """`llamacpp:<catalog-name|path.gguf>`, `ollama:<model>[:tag]`, `openai:<base-url>#<model>`."""
    backend, sep, rest = spec.strip().partition(":")
    if not sep or backend not in BACKENDS or not rest:
        raise ConfigError(
            f"Model spec '{spec}' is not understood",
            "use llamacpp:<catalog-name or path.gguf>, ollama:<model>[:tag] or "
            "openai:<base-url>#<model>",
        )
    if backend == "openai":
        base_url, hash_, model = rest.rpartition("#")
        if not hash_ or not base_url.startswith(("http://", "https://")) or not model:
            raise ConfigError(
                f"Model spec '{spec}' needs a base URL and a model",
                "write it as openai:http://127.0.0.1:8080/v1#model-name",
            )
        return ModelSpec("openai", model, base_url.rstrip("/"))
    return ModelSpec(backend, rest)


@dataclass
class ChatModel(ABC):
    spec: ModelSpec
    context_window: int
    # One generation at a time per loaded model: llama.cpp contexts are not re-entrant, and on 2
    # cores two interleaved generations are each slower than two queued ones.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def label(self) -> str:
        return self.spec.text

    def count_tokens(self, text: str) -> int:
        # A conservative estimate for backends without a local tokenizer: ~3.5 chars per token.
        return int(len(text) / 3.5) + 1

    def stream(
        self,
        messages: list[Message],
        max_tokens: int,
        temperature: float,
        stats: GenerationStats | None = None,
    ) -> Iterator[str]:
        stats = stats if stats is not None else GenerationStats()
        stats.prompt_tokens = sum(self.count_tokens(m["content"]) + 4 for m in messages)
        with self.lock:
            for piece in self._stream(messages, max_tokens, temperature, stats):
                if piece:
                    stats.completion_tokens += 1
                    yield piece

    def forget_prompt(self) -> None:
        """Drop any prompt the backend keeps evaluated for reuse. llama.cpp reuses the prefix the
        last prompt shares with the next one, and that changes the arithmetic just enough that
        a greedy answer can differ with the question asked before; the eval calls this before
        each question so its answers do not depend on question order. A no-op by default."""
        return None

    def complete(self, messages: list[Message], max_tokens: int, temperature: float = 0.0) -> str:
        return "".join(self.stream(messages, max_tokens, temperature))

    @abstractmethod
    def _stream(
        self, messages: list[Message], max_tokens: int, temperature: float, stats: GenerationStats
    ) -> Iterator[str]: ...
