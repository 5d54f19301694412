"""Answer checks as named parts: each decides one way an answer is not an answer.

A check has a name (what `abstain_check` reports and `--without NAME` turns off), the stage it
runs at, and the abstention message family it leads to (`abstain_reason`):

- "before": from the question and the retrieved passages, before any generation;
- "draft": from the model's draft text (a fired draft check earns the draft one retry);
- "sentences": from the draft's sentences after the support check.

The verdict is a loop over the enabled checks of a stage: every check runs (so the eval can
count how often each one fires), the first that fires decides. Checks live one family a
module: `evidence` (before), `draft` and `injection` (draft), `support` (sentences).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from assistant.answer.citations import Sentence
from assistant.errors import ConfigError

Stage = Literal["before", "draft", "sentences"]
STAGES: tuple[Stage, ...] = ("before", "draft", "sentences")

# Abstention families: the message the user reads. Several checks share one.
NO_EVIDENCE = "no_relevant_passages"
MODEL_DECLINED = "passages_do_not_answer"
UNSUPPORTED = "answer_not_supported"
NOT_MENTIONED = "passages_do_not_mention"
OBEYED_PASSAGE = "followed_passage_instruction"

MESSAGES = {
    NO_EVIDENCE: "The documents do not say: nothing in them is about this question.",
    MODEL_DECLINED: "The documents do not say: the closest passages (listed below) do not answer "
    "this question.",
    UNSUPPORTED: "The documents do not say: the draft answer was not supported by the passages "
    "(listed below), so it is not shown.",
    NOT_MENTIONED: "The documents do not say: the closest passages (listed below) never mention "
    "{names}.",
    OBEYED_PASSAGE: "No answer: the draft followed an instruction written in a passage (flagged "
    "below) instead of answering from the passages' facts, so it is not shown.",
}

# A declined draft that still pointed at passages ("The term ... is [3]."): no answer is shown,
# but the reader learns where the model looked. The reason stays MODEL_DECLINED.
POINTED = (
    "No answer in words: the model pointed at {which} (listed first below) but did not say what "
    "in it answers the question. Read it to check; nothing here confirms it."
)


@dataclass(frozen=True)
class Evidence:
    """What every check may look at, besides the draft."""

    question: str  # what was asked: for a follow-up, the earlier question and this one
    own_question: str  # this turn's question alone
    texts: list[str]  # each passage as the model saw it (title, locator, text)
    headers: list[str] = field(default_factory=list)  # passage headings and titles
    publishers: list[str] = field(default_factory=list)
    best_similarity: float = 1.0
    min_relevance: float = 0.0
    # Sentences of the passages that give the assistant orders (assistant/ingest/injection.py),
    # as written; `texts` holds the passages without them.
    injected: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Draft:
    text: str
    sentences: list[Sentence] = field(default_factory=list)


# A check returns "" when it does not fire, else a short detail (the missing names, ...).
Test = Callable[[Evidence, Draft | None], str]


@dataclass(frozen=True)
class Check:
    name: str
    stage: Stage
    family: str  # one of MESSAGES' keys
    test: Test
    about: str  # one line for --help, the report and docs
    settings: tuple[str, ...] = ()  # the AnswerSettings fields it reads


@dataclass(frozen=True)
class Fired:
    check: Check
    detail: str


REGISTRY: dict[str, Check] = {}


def register(check: Check) -> Check:
    if check.name in REGISTRY:
        raise ValueError(f"answer check {check.name!r} registered twice")
    REGISTRY[check.name] = check
    return check


def names() -> list[str]:
    _load()
    return list(REGISTRY)


def unknown(disabled: Iterable[str]) -> list[str]:
    _load()
    return [n for n in disabled if n not in REGISTRY]


def require_known(disabled: Iterable[str]) -> None:
    off = unknown(disabled)
    if off:
        raise ConfigError(f"Unknown answer check(s): {', '.join(off)}",
                          f"name one of {', '.join(names())}")


def run(stage: Stage, evidence: Evidence, draft: Draft | None,
        disabled: Iterable[str] = ()) -> list[Fired]:
    """Every enabled check of the stage that fires, in registry order; the first decides."""
    _load()
    off = set(disabled)
    fired = []
    for check in REGISTRY.values():
        if check.stage != stage or check.name in off:
            continue
        detail = check.test(evidence, draft)
        if detail:
            fired.append(Fired(check, detail))
    return fired


def _load() -> None:
    # The families register themselves on import; importing them here keeps the order of
    # the registry (and so which check decides) the order of this list.
    from assistant.answer.checks import draft, evidence, injection, support  # noqa: F401
