"""llama-index's LLM interface over a `llama_cpp.Llama` loaded and owned by `LlamaCppModel`.

In its own module because llama-index takes seconds to import: `backends.py` imports this only
when something asks a llama.cpp model for its llama-index LLM (`LlamaCppModel.llm`, the bench's
plain-RAG baseline); answering calls llama.cpp without it.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.llms import (
    CompletionResponse,
    CompletionResponseGen,
    CustomLLM,
    LLMMetadata,
)
from llama_index.core.llms.callbacks import llm_completion_callback

from assistant.models.backends import llamacpp_generate


class LlamaCppLLM(CustomLLM):
    """llama-index's LLM interface over a `llama_cpp.Llama` that LlamaCppModel loaded and owns.

    llama-index's own LlamaCPP (llama-index-llms-llama-cpp 0.7) keeps its Llama private and reads
    the sampling settings of every call from one dict that each call overwrites, so two callers of
    a shared model would change each other's settings. Here a call's keyword arguments (any of
    `Llama.create_completion`'s: temperature, max_tokens, stop, grammar, ...) go to that call
    only, over `generate_defaults`. The Llama is not re-entrant: callers hold the owning
    model's lock while they generate."""

    model_path: str = Field(description="The GGUF file the model was loaded from.")
    context_window: int = Field(description="Tokens of prompt and answer the model holds.")
    generate_defaults: dict[str, Any] = Field(
        default_factory=dict, description="Settings of calls that do not pass their own."
    )
    _llama: Any = PrivateAttr()

    def __init__(self, llama: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._llama = llama

    @classmethod
    def class_name(cls) -> str:
        return "assistant_llama_cpp"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=int(self.generate_defaults.get("max_tokens", 256)),
            model_name=self.model_path,
        )

    def _generate(self, prompt: str, formatted: bool, stream: bool, kwargs: dict[str, Any]) -> Any:
        if not formatted:
            assert self.completion_to_prompt is not None  # llama-index sets a default
            prompt = self.completion_to_prompt(prompt)
        return llamacpp_generate(self._llama, prompt, self.context_window, self.model_path, stream,
                                 {**self.generate_defaults, **kwargs})

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        response = self._generate(prompt, formatted, False, kwargs)
        return CompletionResponse(text=response["choices"][0]["text"], raw=response)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        chunks = self._generate(prompt, formatted, True, kwargs)

        def gen() -> CompletionResponseGen:
            text = ""
            for chunk in chunks:
                delta = chunk["choices"][0]["text"]
                text += delta
                yield CompletionResponse(delta=delta, text=text, raw=chunk)

        return gen()
