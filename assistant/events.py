"""The answer stream's events, and the one place that tells them apart.

ChatService.stream yields Searched, then Piece after Piece, then Answered; ChatService.compare
puts a ModelStart before each model's pieces. A consumer (CLI, UI, API, eval, bench) adds each
event to a Progress and reads what it needs from it, rather than testing the events' types.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from assistant.answer.result import AnswerResult
from assistant.retrieve.hybrid import Retrieval


@dataclass(frozen=True)
class Searched:
    """The search is done: the passages show while the model reads them."""

    found: Retrieval


@dataclass(frozen=True)
class ModelStart:
    """In a comparison: what follows, up to its Answered, is this model's answer."""

    spec: str
    index: int


@dataclass(frozen=True)
class Piece:
    """Answer text as the model writes it (a retry's answer is not streamed: see Answered)."""

    text: str


@dataclass(frozen=True)
class Answered:
    """The checked answer, which replaces the pieces shown before it."""

    result: AnswerResult


Event = Searched | ModelStart | Piece | Answered
Kind = Literal["searched", "model", "piece", "answered"]


def answer_events(items: Iterable[str | AnswerResult],
                  finish: Callable[[AnswerResult], None] | None = None
                  ) -> Iterator[Piece | Answered]:
    """The answer stage's output (text pieces, then the AnswerResult) as events; `finish` fills
    in what the caller knows about the answer before it is passed on."""
    for item in items:
        if isinstance(item, str):
            yield Piece(item)
            continue
        if finish is not None:
            finish(item)
        yield Answered(item)


@dataclass
class Progress:
    """What a stream has said so far. `add` is the one dispatch over the events; it returns the
    event's kind for a consumer that reacts to some (the CLI prints pieces, the UI shows the
    passages as soon as they are found)."""

    found: Retrieval | None = None
    # The model answering now (a comparison's ModelStart), its place, and its text so far.
    model: str = ""
    index: int = 0
    partial: str = ""
    # The text the last Piece added.
    piece: str = ""
    pieces: int = 0
    results: list[AnswerResult] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def add(self, event: Event) -> Kind:
        match event:
            case Searched(found):
                self.found = found
                return "searched"
            case ModelStart(spec, index):
                self.model, self.index, self.partial = spec, index, ""
                return "model"
            case Piece(text):
                self.piece = text
                self.partial += text
                self.pieces += 1
                return "piece"
            case Answered(result):
                self.results.append(result)
                self.index, self.partial = len(self.results), ""
                return "answered"
        raise TypeError(f"not an answer stream event: {event!r}")

    def follow(self, events: Iterable[Event]) -> Progress:
        for event in events:
            self.add(event)
        return self

    @property
    def result(self) -> AnswerResult | None:
        """The last answer finished (a single answer's only one)."""
        return self.results[-1] if self.results else None

    @property
    def query(self) -> str:
        return self.found.query if self.found is not None else ""

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 1)


def drain(events: Iterable[Event]) -> Progress:
    """Run a stream to its end."""
    return Progress().follow(events)


def final(events: Iterable[Event]) -> AnswerResult:
    """Run a single answer's stream to its end: its AnswerResult."""
    result = drain(events).result
    assert result is not None, "the answer ended without an AnswerResult"
    return result
