"""How the eval puts one question to one model, and what it records: the part of the runner
whose code decides the answers, so its hash (not the whole runner's) stamps each result."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.answer.generate import AnswerOptions, AnswerResult
from assistant.chat import ChatService, Turn
from assistant.errors import BadQuestion, ConfigError
from assistant.eval.metrics import score
from assistant.eval.questions import Question
from assistant.events import final
from assistant.models.base import ChatModel
from assistant.retrieve.hybrid import Passage, Retrieval


@dataclass
class FrozenRetrieval:
    id: str
    key: str
    question: str
    standalone: str
    earlier: str
    passages: list[Passage]
    best_similarity: float
    retrieve_ms: float
    scope: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["passages"] = [p.to_dict() for p in self.passages]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FrozenRetrieval:
        return cls(**{**data, "passages": [Passage(**p) for p in data["passages"]]})


def freeze(service: ChatService, q: Question, key: str, source: Path) -> FrozenRetrieval:
    started = time.perf_counter()
    try:
        # No model: an LLM rewrite would make retrieval depend on which model runs first.
        turn = service.prepare(q.question, q.history)
        scope = service.scope(q.docs)
    except BadQuestion as e:
        raise ConfigError(f"{source}: question '{q.id}' is not accepted: {e.message}",
                          e.hint) from e
    found = service.search(turn, docs=scope)
    return FrozenRetrieval(
        id=q.id, key=key, question=turn.question, standalone=turn.standalone,
        earlier=turn.earlier, passages=found.passages, best_similarity=found.best_similarity,
        retrieve_ms=round((time.perf_counter() - started) * 1000, 1), scope=scope,
    )


def answer(
    service: ChatService, model: ChatModel, frozen: FrozenRetrieval, options: AnswerOptions
) -> AnswerResult:
    model.forget_prompt()  # the same answer whatever question came before
    turn = Turn(frozen.question, frozen.standalone, frozen.earlier)
    # The unit is a function of the question and the documents' metadata, so it is resolved
    # again rather than frozen: the answer takes the chat's own path (lookup or overview).
    found = Retrieval(frozen.standalone, frozen.passages, frozen.best_similarity,
                      scope=frozen.scope, unit=service.unit(turn, frozen.scope))
    return final(service.answer(model, turn, found, frozen.retrieve_ms, options))


def record(
    q: Question, frozen: FrozenRetrieval, result: AnswerResult, stamp: dict[str, str], config: str
) -> dict[str, Any]:
    # What was searched (frozen.standalone) is in the result already: service.answer sets it.
    result.scope = frozen.scope
    result.stamp = stamp
    # The answer's one record shape (as `ask --json` prints it), plus what the eval adds.
    record: dict[str, Any] = {
        "id": q.id,
        **result.to_json(),
        "question": q.question,
        "kind": q.kind,
        "split": q.split,
        "answerable": q.answerable,
        "model": stamp["model"],
        "config": config,
        "answered_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    record.update(score(record, q.must_include, q.sources))
    return record
