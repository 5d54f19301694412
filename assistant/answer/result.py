"""The one record of an answer, as every caller (CLI, UI, eval, API) receives it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.answer.citations import Sentence
from assistant.retrieve.hybrid import Passage, Retrieval


@dataclass
class AnswerResult:
    question: str
    answer: str
    abstained: bool
    model: str
    passages: list[Passage]
    cited: list[int]
    sentences: list[Sentence]
    standalone_query: str = ""
    abstain_reason: str = ""
    # The named check that decided the abstention (assistant/answer/checks/).
    abstain_check: str = ""
    raw_answer: str = ""
    # Each draft the model wrote (the first, and the retry's) with the checks that fired on it;
    # the first entry with no draft holds the checks that ran before generation.
    drafts: list[dict[str, Any]] = field(default_factory=list)
    # True when the first draft declined and the answer shown comes from the retry prompt.
    retried: bool = False
    # Passages (numbers into `passages`) a declined draft pointed at without answering.
    pointed: list[int] = field(default_factory=list)
    # The answer shown stopped at the length cap (max_answer_tokens), mid-sentence maybe.
    cut_off: bool = False
    # The model declined; the answer is the passage sentence that best matches the question.
    quoted: bool = False
    # Sentences of the model's answer not shown: each gave the assistant's reader an order or
    # repeated one a passage gave (answer/steps.py drop_orders).
    dropped: list[str] = field(default_factory=list)
    retrieved: list[Passage] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    stamp: dict[str, str] = field(default_factory=dict)
    # The doc ids the question was limited to (assistant ask --doc, the chat's scope); empty
    # when the whole corpus was searched.
    scope: list[str] = field(default_factory=list)
    # "lookup" (passages found by search), or an overview of a unit: "summary" or "list".
    mode: str = "lookup"
    # The document or provision the question named (retrieve/units.py Unit.to_json); {} if none.
    unit: dict[str, Any] = field(default_factory=dict)

    @property
    def searched(self) -> str:
        """The query searched, when it differs from the question (a follow-up made standalone)."""
        return searched_for({"question": self.question, "standalone_query": self.standalone_query})

    def citations(self) -> list[dict[str, Any]]:
        return [
            {"n": n, **self.passages[n - 1].to_json(),
             "supported": all(s.supported for s in self.sentences if n in s.cited)}
            for n in self.cited
        ]

    def pointed_passages(self) -> list[dict[str, Any]]:
        return [{"n": n, **self.passages[n - 1].to_json()} for n in self.pointed]

    @classmethod
    def unfinished(cls, question: str, text: str, model: str,
                   found: Retrieval | None) -> AnswerResult:
        """An answer stopped before it was checked (or not begun: the search alone): its text
        and the passages it was being written from."""
        passages = found.passages if found is not None else []
        return cls(question, text.strip(), False, model, passages, [], [],
                   standalone_query=found.query if found is not None else "",
                   retrieved=passages, scope=found.scope if found is not None else [])

    def to_json(self) -> dict[str, Any]:
        """The one record of an answer: CLI JSON, UI history, eval results and the API."""
        given = {p.chunk_id for p in self.passages}
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "abstain_check": self.abstain_check,
            "model": self.model,
            "citations": self.citations(),
            # The prompt budget may leave the last passages out.
            "retrieved": [{**p.to_json(), "in_prompt": p.chunk_id in given}
                          for p in self.retrieved],
            "timings": self.timings,
            "standalone_query": self.standalone_query,
            "raw_answer": self.raw_answer,
            "retried": self.retried,
            "pointed": self.pointed_passages(),
            "cut_off": self.cut_off,
            "quoted": self.quoted,
            "dropped": self.dropped,
            "sentences": [asdict(s) for s in self.sentences],
            "drafts": self.drafts,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "stamp": self.stamp,
            "scope": self.scope,
            "mode": self.mode,
            "unit": self.unit,
        }


def searched_for(record: Mapping[str, Any]) -> str:
    """What an answer record's question was searched as, when that differs from the question
    (a follow-up made standalone); "" otherwise, and for records that do not say."""
    query = str(record.get("standalone_query") or "").strip()
    return query if query != str(record.get("question") or "").strip() else ""
