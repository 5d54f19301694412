"""Deciding "the corpus does not say": from retrieval evidence before generation, and from the
model's own words and the support check after it."""

from __future__ import annotations

import re

from assistant.answer.citations import Sentence, strip_markers
from assistant.retrieve.text import tokens

NO_EVIDENCE = "no_relevant_passages"
MODEL_DECLINED = "passages_do_not_answer"
UNSUPPORTED = "answer_not_supported"

MESSAGES = {
    NO_EVIDENCE: "The documents do not say: nothing in them is about this question.",
    MODEL_DECLINED: "The documents do not say: the closest passages (listed below) do not answer "
    "this question.",
    UNSUPPORTED: "The documents do not say: the draft answer was not supported by the passages "
    "(listed below), so it is not shown.",
}

_DECLINE = re.compile(
    r"\b(do|does|did)\s+not\s+(say|mention|contain|provide|specify|state|include|answer)\b|"
    r"\b(doesn't|don't)\s+(say|mention|specify|state)\b|\bno (information|mention|answer)\b|"
    r"\bnot (mentioned|specified|provided|stated|found) in\b|\b(cannot|can't|unable to) "
    r"(answer|find|determine)\b|\bi don'?t know\b|\bthere is no information\b",
    re.IGNORECASE,
)


def retrieval_says_nothing(best_similarity: float, min_relevance: float) -> bool:
    return best_similarity < min_relevance


def model_declined(answer: str) -> bool:
    # Only the opening of the answer counts: "X is Y. The documents do not say Z." still answers.
    head = answer.strip()[:160]
    return bool(_DECLINE.search(head))


# Filler a small model wraps around an echo: "Based on the passage, X is [1]."
_FILLER = frozenset(
    "according based passage passages document documents information provided given text "
    "state states stated answer question".split()
)


def echoes_question(answer: str, question: str) -> bool:
    """The answer adds no word of its own to the question: "When was X signed?" answered with
    "X was signed on [1]." That is no answer, whatever its citation says."""
    asked = set(tokens(question))
    said = set(tokens(strip_markers(answer))) - _FILLER
    return not (said - asked)


# Questions whose answer is a quantity or a date: an answer with no figure in it does not answer.
_ASKS_FOR_NUMBER = re.compile(
    r"\bhow (much|many|old)\b|\b(what|which) (year|date|day)\b", re.IGNORECASE
)
_FIGURE = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion)\b",
    re.IGNORECASE,
)


def misses_the_figure(answer: str, question: str) -> bool:
    """ "How much was Meta fined?" answered "Meta was fined under the GDPR." says no amount."""
    return bool(_ASKS_FOR_NUMBER.search(question)) and not _FIGURE.search(strip_markers(answer))


def unsupported(sentences: list[Sentence]) -> bool:
    """Every sentence failed the support check: the model answered from its own memory."""
    return bool(sentences) and not any(s.supported for s in sentences)
