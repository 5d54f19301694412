"""Backends behind the model spec strings. Ollama and OpenAI-compatible servers answer through
llama-index's LLMs; a llama.cpp model answers through llama_cpp directly and offers the same
llama-index LLM (`LlamaCppModel.llm`) to code that drives llama-index, made on first use.

Heavy imports (llama_cpp, ollama, openai, llama-index) happen inside the factories, so listing
models or running unit tests never loads them, and `assistant ask` with a llama.cpp model does not
import llama-index (about 1.3 s of CPU on this machine's 2 cores) before its first answer.

A loaded model is shared by every request, so nothing a call chooses (temperature, max_tokens,
stop words) is written onto a shared object: each call passes its settings along. Errors of the
client libraries are told apart by their types and status codes where they are raised, and become
the types of `assistant/errors.py`; an error of any other type is a bug and surfaces as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from assistant.errors import (
    BackendUnavailable,
    ModelNotInstalled,
    ModelNotOnServer,
    PromptTooLong,
    ServerNotAnswering,
)
from assistant.models.base import ChatModel, GenerationStats, Message, ModelSpec

log = logging.getLogger(__name__)

# ChatML end markers used by SmolLM2 and Qwen2.5; harmless for models that never emit them.
STOP = ["<|im_end|>", "<|endoftext|>", "<|im_start|>"]


def _prompt_too_long(tokens: int, window: int, where: str) -> PromptTooLong:
    return PromptTooLong(
        f"The prompt ({tokens} tokens) does not fit in the context window of {where} "
        f"({window} tokens)",
        "ask a shorter question or start a new conversation, or raise context_window "
        "(ASSISTANT_CONTEXT_WINDOW) up to what the model supports",
    )


def generic_prompt(messages: Sequence[Message]) -> str:
    """llama-index's generic chat prompt ("role: content" lines, then "assistant: "), for a GGUF
    without a chat template."""
    return "\n".join([*(f"{m['role']}: {m['content']}" for m in messages), "assistant: "])


def llamacpp_generate(llama: Any, prompt: str, context_window: int, model_path: str,
                      stream: bool, kwargs: dict[str, Any]) -> Any:
    """One call of a loaded `llama_cpp.Llama` on a formatted prompt, with `kwargs` (any of
    `Llama.create_completion`'s) for this call only. A prompt llama.cpp would refuse with a
    ValueError is refused here with our own type first, counted as llama.cpp counts it (with
    the BOS/EOS the model adds)."""
    tokens = len(llama.tokenize(prompt.encode(), add_bos=True, special=True))
    if tokens >= context_window:
        raise _prompt_too_long(tokens, context_window, Path(model_path).name)
    return llama(prompt=prompt, stream=stream, **kwargs)


@dataclass
class LlamaCppModel(ChatModel):
    # The llama_cpp.Llama loaded here: weights, tokenizer and prompt cache.
    llama: Any = field(default=None, repr=False)
    model_path: str = ""
    # Chat messages -> the model's prompt (its own chat template).
    to_prompt: Callable[[Sequence[Message]], str] = field(default=generic_prompt, repr=False)
    generate_defaults: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, spec: ModelSpec, path: Path, context_window: int, threads: int) -> LlamaCppModel:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if not path.exists():
            raise ModelNotInstalled(f"Model file {path} does not exist", "check the path")
        try:
            llama = Llama(model_path=str(path), n_ctx=context_window, n_threads=threads,
                          n_batch=512, verbose=False)
        except ValueError as e:  # llama-cpp-python's type for a file it cannot load
            raise ModelNotInstalled(
                f"llama.cpp could not load {path}: {e}", "check that the file is a GGUF model"
            ) from e
        to_prompt: Callable[[Sequence[Message]], str] = generic_prompt
        template = llama.metadata.get("tokenizer.chat_template")
        if template:
            # The model's own chat template from the GGUF, so each model is prompted as trained.
            formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=llama.detokenize([llama.token_eos()]).decode(errors="ignore"),
                bos_token=llama.detokenize([llama.token_bos()]).decode(errors="ignore"),
            )

            def to_prompt(msgs: Sequence[Message]) -> str:
                chat: list[Any] = [{"role": m["role"], "content": m["content"]} for m in msgs]
                return str(formatter(messages=chat).prompt)

        return cls(spec=spec, context_window=llama.n_ctx(), llama=llama, model_path=str(path),
                   to_prompt=to_prompt,
                   generate_defaults={"stop": STOP, "temperature": 0.0, "max_tokens": 256})

    @cached_property
    def llm(self) -> Any:
        """This model behind llama-index's LLM interface (LlamaCppLLM), sharing the weights and
        the defaults. Made on first use: answering goes to llama.cpp directly, so a new process
        does not import llama-index (seconds) before its first answer."""
        return self._llama_index_llm(self.generate_defaults)

    def _llama_index_llm(self, defaults: dict[str, Any],
                         completion_to_prompt: Callable[[str], str] | None = None) -> Any:
        from assistant.models.llamacpp_llm import LlamaCppLLM

        def messages_to_prompt(msgs: Sequence[Any]) -> str:
            return self.to_prompt([{"role": m.role.value, "content": m.content} for m in msgs])

        return LlamaCppLLM(
            self.llama, model_path=self.model_path, context_window=self.context_window,
            messages_to_prompt=messages_to_prompt, completion_to_prompt=completion_to_prompt,
            generate_defaults=defaults,
        )

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode(), add_bos=False, special=True))

    def forget_prompt(self) -> None:
        with self.lock:
            self.llama.reset()

    @contextmanager
    def as_completion_llm(
        self, max_tokens: int, on_prompt: Callable[[str], None] | None = None
    ) -> Iterator[Any]:
        """This model as a plain llama-index completion LLM, greedy and capped at `max_tokens`,
        each prompt wrapped in the model's own chat template (and shown to `on_prompt`): for code
        that drives llama-index itself, such as the bench's plain-RAG baseline. It shares the
        loaded weights but none of the settings; hold `self.lock` while it generates."""

        def to_prompt(text: str) -> str:
            formatted = self.format([{"role": "user", "content": text}])
            if on_prompt:
                on_prompt(formatted)
            return formatted

        yield self._llama_index_llm({**self.generate_defaults, "max_tokens": max_tokens},
                                    completion_to_prompt=to_prompt)

    def format(self, messages: list[Message]) -> str:
        return self.to_prompt(messages)

    def _stream(
        self, messages: list[Message], max_tokens: int, temperature: float, stats: GenerationStats
    ) -> Iterator[str]:
        prompt = self.format(messages)
        stats.prompt_tokens = self.count_tokens(prompt)
        stats.exact_prompt_tokens = True
        chunks = llamacpp_generate(
            self.llama, prompt, self.context_window, self.model_path, True,
            {**self.generate_defaults, "temperature": temperature, "max_tokens": max_tokens},
        )
        for chunk in chunks:
            choice = chunk["choices"][0]
            stats.cut_off = choice.get("finish_reason") == "length"
            yield choice["text"] or ""


def _not_answering(where: str, e: BaseException, spec: ModelSpec) -> ServerNotAnswering:
    start = "start it with `ollama serve`" if spec.backend == "ollama" else "start the server"
    return ServerNotAnswering(
        f"{where} is not answering ({type(e).__name__})",
        f"{start} or pick another model with --model",
    )


def ollama_error(e: Exception, host: str, spec: ModelSpec) -> Exception | None:
    """The engine's error for an exception of the Ollama client (None: not one of its)."""
    import httpx
    import ollama

    where = f"Ollama at {host}"
    # The client turns a refused connection into ConnectionError when it is not streaming; a
    # stream raises httpx's own errors (refused, timed out, or cut in the middle).
    if isinstance(e, httpx.TransportError | ConnectionError):
        return _not_answering(where, e, spec)
    if isinstance(e, ollama.ResponseError):
        if e.status_code == 404:
            return ModelNotOnServer(
                f"Model '{spec.name}' is not available on {where}",
                f"pull it with `ollama pull {spec.name}`",
            )
        return BackendUnavailable(f"{where} failed: {str(e)[:300]}", "see the server's log")
    return None


def openai_error(e: Exception, base_url: str, spec: ModelSpec) -> Exception | None:
    """The engine's error for an exception of the OpenAI client (None: not one of its)."""
    import httpx
    import openai

    where = f"the server at {base_url}"
    if isinstance(e, openai.APIConnectionError | httpx.TransportError):
        return _not_answering(where, e, spec)
    if isinstance(e, openai.APIStatusError):
        if e.code == "model_not_found":
            return ModelNotOnServer(
                f"Model '{spec.name}' is not available on {where}",
                "check the model name the server offers (GET /v1/models)",
            )
        if e.code == "context_length_exceeded":
            return PromptTooLong(
                f"The prompt does not fit in the context window of {where}: {e.message[:200]}",
                "ask a shorter question or start a new conversation, or serve the model with a "
                "larger context",
            )
        if e.status_code == 404:
            return BackendUnavailable(
                f"{where} has no chat completions endpoint (HTTP 404)",
                "check the base URL: it usually ends in /v1",
            )
        return BackendUnavailable(
            f"{where} failed (HTTP {e.status_code}): {e.message[:300]}", "see the server's log"
        )
    if isinstance(e, openai.OpenAIError):
        return BackendUnavailable(f"{where} failed: {str(e)[:300]}", "see the server's log")
    return None


@dataclass
class OllamaModel(ChatModel):
    client: Any = field(default=None, repr=False)  # the ollama.Client every call shares
    host: str = ""
    timeout: float = 0.0

    @classmethod
    def connect(
        cls, spec: ModelSpec, host: str, context_window: int, timeout: float
    ) -> OllamaModel:
        import ollama

        client = ollama.Client(host=host, timeout=timeout)
        return cls(spec=spec, context_window=context_window, client=client, host=host,
                   timeout=timeout)

    def _llm(self, max_tokens: int, temperature: float) -> Any:
        from llama_index.llms.ollama import Ollama

        # llama-index's Ollama reads the options of a request from its own fields only, so each
        # call gets its own (cheap) Ollama object over the one shared client. num_ctx is always
        # sent: Ollama's own default (2048 or 4096) would silently cut prompts.
        return Ollama(
            model=self.spec.name, base_url=self.host, context_window=self.context_window,
            request_timeout=self.timeout, temperature=temperature,
            additional_kwargs={"num_predict": max_tokens}, client=self.client,
        )

    def _stream(
        self, messages: list[Message], max_tokens: int, temperature: float, stats: GenerationStats
    ) -> Iterator[str]:
        from llama_index.core.llms import ChatMessage

        llm = self._llm(max_tokens, temperature)
        finished = False
        try:
            for response in llm.stream_chat([ChatMessage(**m) for m in messages]):
                raw = response.raw or {}
                if isinstance(raw, dict):
                    finished = finished or bool(raw.get("done"))
                    stats.cut_off = raw.get("done_reason") == "length"
                    if raw.get("prompt_eval_count"):
                        stats.prompt_tokens = int(raw["prompt_eval_count"])
                        stats.exact_prompt_tokens = True
                yield response.delta or ""
        except Exception as e:
            translated = ollama_error(e, self.host, self.spec)
            if translated is None:
                raise
            raise translated from e
        if not finished:
            # The stream ended without Ollama's final "done" line: the server went away.
            raise ServerNotAnswering(
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

        # No max_tokens here: set, it would override the one each call passes.
        llm = OpenAILike(
            model=spec.name, api_base=spec.base_url, api_key=api_key, is_chat_model=True,
            context_window=context_window, timeout=timeout, max_retries=0,
        )
        return cls(spec=spec, context_window=context_window, llm=llm)

    def _stream(
        self, messages: list[Message], max_tokens: int, temperature: float, stats: GenerationStats
    ) -> Iterator[str]:
        from llama_index.core.llms import ChatMessage

        try:
            for response in self.llm.stream_chat(
                [ChatMessage(**m) for m in messages], temperature=temperature,
                max_tokens=max_tokens,
            ):
                choices = getattr(response.raw, "choices", None) or [None]
                stats.cut_off = getattr(choices[0], "finish_reason", None) == "length"
                yield response.delta or ""
        except Exception as e:
            translated = openai_error(e, self.spec.base_url, self.spec)
            if translated is None:
                raise
            raise translated from e
