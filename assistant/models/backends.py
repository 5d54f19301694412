"""Backends behind the model spec strings, each wrapping a llama-index LLM.

Heavy imports (llama_cpp, ollama, openai) happen inside the factories, so listing models or
running unit tests never loads them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import BackendUnavailable, ModelNotInstalled
from assistant.models.base import ChatModel, GenerationStats, Message, ModelSpec

log = logging.getLogger(__name__)

# ChatML end markers used by SmolLM2 and Qwen2.5; harmless for models that never emit them.
STOP = ["<|im_end|>", "<|endoftext|>", "<|im_start|>"]


@dataclass
class LlamaCppModel(ChatModel):
    llm: Any = field(default=None, repr=False)

    @classmethod
    def load(cls, spec: ModelSpec, path: Path, context_window: int, threads: int) -> LlamaCppModel:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        from llama_index.llms.llama_cpp import LlamaCPP

        if not path.exists():
            raise ModelNotInstalled(f"Model file {path} does not exist", "check the path")
        try:
            llm = LlamaCPP(
                model_path=str(path),
                context_window=context_window,
                max_new_tokens=256,
                verbose=False,
                model_kwargs={"n_threads": threads, "n_batch": 512, "verbose": False},
                generate_kwargs={"stop": STOP},
            )
        except ValueError as e:
            raise ModelNotInstalled(f"llama.cpp could not load {path}: {e}", "") from e
        meta = llm._model.metadata
        template = meta.get("tokenizer.chat_template")
        if template:
            # The model's own chat template from the GGUF, so each model is prompted as trained.
            formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=llm._model.detokenize([llm._model.token_eos()]).decode(errors="ignore"),
                bos_token=llm._model.detokenize([llm._model.token_bos()]).decode(errors="ignore"),
            )
            llm.messages_to_prompt = lambda msgs: formatter(
                messages=[{"role": m.role.value, "content": m.content} for m in msgs]
            ).prompt
        model = cls(spec=spec, context_window=llm.context_window)
        model.llm = llm
        return model

    def count_tokens(self, text: str) -> int:
        return len(self.llm._model.tokenize(text.encode(), add_bos=False, special=True))

    @property
    def model_path(self) -> str:
        return str(self.llm.model_path)

    def forget_prompt(self) -> None:
        with self.lock:
            self.llm._model.reset()

    @contextmanager
    def as_completion_llm(
        self, max_tokens: int, on_prompt: Callable[[str], None] | None = None
    ) -> Iterator[Any]:
        """This model as a plain llama-index completion LLM, greedy and capped at `max_tokens`,
        each prompt wrapped in the model's own chat template (and shown to `on_prompt`): for code
        that drives llama-index itself, such as the bench's plain-RAG baseline."""
        llm = self.llm
        original = llm.completion_to_prompt

        def to_prompt(text: str) -> str:
            formatted = self.format([{"role": "user", "content": text}])
            if on_prompt:
                on_prompt(formatted)
            return formatted

        # LlamaCPP is a pydantic model that validates assignments; a plain function is refused.
        object.__setattr__(llm, "completion_to_prompt", to_prompt)
        llm.generate_kwargs.update({"temperature": 0.0, "max_tokens": max_tokens})
        try:
            yield llm
        finally:
            object.__setattr__(llm, "completion_to_prompt", original)

    def format(self, messages: list[Message]) -> str:
        from llama_index.core.llms import ChatMessage

        return str(self.llm.messages_to_prompt([ChatMessage(**m) for m in messages]))

    def _stream(
        self, messages: list[Message], max_tokens: int, temperature: float, stats: GenerationStats
    ) -> Iterator[str]:
        prompt = self.format(messages)
        stats.prompt_tokens = self.count_tokens(prompt)
        stats.exact_prompt_tokens = True
        self.llm.generate_kwargs.update({"temperature": temperature, "max_tokens": max_tokens})
        for response in self.llm.stream_complete(prompt, formatted=True):
            choice = (response.raw or {}).get("choices", [{}])[0]
            stats.cut_off = choice.get("finish_reason") == "length"
            yield response.delta or ""


@dataclass
class OllamaModel(ChatModel):
    llm: Any = field(default=None, repr=False)
    host: str = ""

    @classmethod
    def connect(
        cls, spec: ModelSpec, host: str, context_window: int, timeout: float
    ) -> OllamaModel:
        from llama_index.llms.ollama import Ollama

        # num_ctx is always sent: Ollama's own default (2048 or 4096) would silently cut prompts.
        llm = Ollama(
            model=spec.name, base_url=host, context_window=context_window,
            request_timeout=timeout,
        )
        model = cls(spec=spec, context_window=context_window, host=host)
        model.llm = llm
        return model

    def _stream(
        self, messages: list[Message], max_tokens: int, temperature: float, stats: GenerationStats
    ) -> Iterator[str]:
        from llama_index.core.llms import ChatMessage

        self.llm.temperature = temperature
        self.llm.additional_kwargs = {"num_predict": max_tokens}
        finished = False
        try:
            for response in self.llm.stream_chat([ChatMessage(**m) for m in messages]):
                raw = response.raw or {}
                if isinstance(raw, dict):
                    finished = finished or bool(raw.get("done"))
                    stats.cut_off = raw.get("done_reason") == "length"
                    if raw.get("prompt_eval_count"):
                        stats.prompt_tokens = int(raw["prompt_eval_count"])
                        stats.exact_prompt_tokens = True
                yield response.delta or ""
        except Exception as e:  # httpx and ollama raise many types; translate them all once here
            raise translate_remote_error(e, f"Ollama at {self.host}", self.spec) from e
        if not finished:
            # The stream ended without Ollama's final "done" line: the server went away.
            raise BackendUnavailable(
                f"Ollama at {self.host} stopped in the middle of the answer",
                "check that `ollama serve` is still running, then ask again",
            )


@dataclass
class OpenAICompatModel(ChatModel):
    llm: Any = field(default=None, repr=False)

    @classmethod
    def connect(
        cls, spec: ModelSpec, api_key: str, context_window: int, timeout: float
    ) -> OpenAICompatModel:
        from llama_index.llms.openai_like import OpenAILike

        llm = OpenAILike(
            model=spec.name, api_base=spec.base_url, api_key=api_key, is_chat_model=True,
            context_window=context_window, timeout=timeout, max_retries=0,
        )
        model = cls(spec=spec, context_window=context_window)
        model.llm = llm
        return model

    def _stream(
        self, messages: list[Message], max_tokens: int, temperature: float, stats: GenerationStats
    ) -> Iterator[str]:
        from llama_index.core.llms import ChatMessage

        self.llm.temperature = temperature
        self.llm.max_tokens = max_tokens
        try:
            for response in self.llm.stream_chat([ChatMessage(**m) for m in messages]):
                choices = getattr(response.raw, "choices", None) or [None]
                stats.cut_off = getattr(choices[0], "finish_reason", None) == "length"
                yield response.delta or ""
        except Exception as e:
            raise translate_remote_error(e, f"the server at {self.spec.base_url}", self.spec) from e


def translate_remote_error(e: Exception, where: str, spec: ModelSpec) -> Exception:
    text = f"{type(e).__name__}: {e}"
    lowered = text.lower()
    if "not found" in lowered and ("model" in lowered or "404" in lowered):
        hint = (
            f"pull it with `ollama pull {spec.name}`" if spec.backend == "ollama"
            else "check the model name the server offers (GET /v1/models)"
        )
        return ModelNotInstalled(f"Model '{spec.name}' is not available on {where}", hint)
    if any(w in lowered for w in ("connect", "refused", "timed out", "timeout", "unreachable",
                                  "remoteprotocol", "disconnected", "incomplete", "reset")):
        start = "start it with `ollama serve`" if spec.backend == "ollama" else "start the server"
        return BackendUnavailable(
            f"{where} is not answering ({type(e).__name__})",
            f"{start} or pick another model with --model",
        )
    return BackendUnavailable(f"{where} failed: {text[:300]}", "see the server's log")
