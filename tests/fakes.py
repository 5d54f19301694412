"""Fakes for exact unit tests of logic. End-to-end tests use the real models instead."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from assistant.models.base import ChatModel, GenerationStats, Message, ModelSpec


@dataclass
class FakeChatModel(ChatModel):
    """Replies from a queue and records every prompt it was sent."""

    replies: list[str] = field(default_factory=list)
    prompts: list[list[Message]] = field(default_factory=list)
    # Pieces handed out so far; with `gate`, the piece after `pause_after` waits until it is set
    # (a model still writing, for tests of what happens meanwhile).
    yielded: int = 0
    gate: threading.Event | None = None
    pause_after: int = 0

    @classmethod
    def scripted(cls, *replies: str, context_window: int = 2048) -> FakeChatModel:
        return cls(spec=ModelSpec("fake", "scripted"), context_window=context_window,
                   replies=list(replies))

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _stream(
        self, messages: list[Message], max_tokens: int, temperature: float, stats: GenerationStats
    ) -> Iterator[str]:
        self.prompts.append(messages)
        reply = self.replies.pop(0) if self.replies else ""
        words = reply.split(" ")
        # Like a real model: one word a token, stopped at max_tokens and flagged as cut off.
        stats.cut_off = len(words) > max_tokens
        for word in words[:max_tokens]:
            if self.gate is not None and self.yielded == self.pause_after:
                self.gate.wait()
            self.yielded += 1
            yield word + " "


@dataclass
class FakeEmbedder:
    """Vectors chosen by the test: each text maps to the vector of the first keyword it contains."""

    vectors: dict[str, list[float]]
    dim: int = 3
    identity: str = "fake-embedder"
    calls: int = 0

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _vec(self, text: str) -> list[float]:
        for key, vec in self.vectors.items():
            if key in text.lower():
                return vec
        return [0.0] * (self.dim - 1) + [1.0]

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vec(text)
