"""Answering from given passages: prompt, stream, check citations, decide abstention.

The steps are in steps.py; generate() is their order. AnswerOptions and AnswerResult are
imported from here by most callers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from assistant.answer import steps
from assistant.answer.options import AnswerOptions
from assistant.answer.result import AnswerResult
from assistant.embeddings import Embedder
from assistant.models.base import ChatModel
from assistant.prompts import PromptLibrary
from assistant.retrieve.hybrid import Passage

__all__ = ["AnswerOptions", "AnswerResult", "generate"]


def generate(
    model: ChatModel,
    prompts: PromptLibrary,
    question: str,
    passages: list[Passage],
    options: AnswerOptions,
    best_similarity: float,
    retrieve_ms: float = 0.0,
    earlier_question: str = "",
    on_token: Callable[[str], None] | None = None,
    embedder: Embedder | None = None,
) -> Iterator[str | AnswerResult]:
    """Yield answer text pieces as they stream, then the final AnswerResult.

    The named checks (assistant/answer/checks/) decide whether a draft is an answer. A draft
    that a draft check stops (it declined, echoed the question, ...) although retrieval found
    relevant passages gets one more try with the `retry` prompt, which tells the model the
    answer is in the passages. Small models decline too readily; the retry's answer passes the
    same checks, so an invented answer still ends as an abstention. The retry is not streamed:
    the final AnswerResult replaces what was shown. When the retry is stopped too, a passage
    sentence that matches the question closely enough (options.quote_threshold, with an
    embedder) is quoted as the answer, marked `quoted`.
    """
    ask = steps.Ask(model, prompts, question, earlier_question, options)
    passages = steps.marked(passages)
    built, evidence = steps.gather_evidence(ask, passages, best_similarity)
    before = steps.check_before(ask, evidence, built)
    if built is None or before:
        yield steps.abstain_before(ask, before, built, passages, retrieve_ms)
        return
    clock = steps.Clock()
    if two_sided := steps.positions(ask, built, evidence):
        # The passages dispute what is asked: each side, quoted with its source, no model.
        yield two_sided.text
        yield steps.finish(ask, built, passages, [two_sided], two_sided, clock, retrieve_ms)
        return
    first = yield from steps.draft(ask, built, evidence, clock, on_token)
    written, shown = [first], first
    if first.declined and options.retry_declined:
        again = steps.retry(ask, built, evidence)
        written.append(again)
        if not again.fired:
            shown = again
    if shown.declined:
        shown = steps.fallback(ask, built, evidence, embedder) or shown
    shown = steps.evidence_first(ask, built, evidence, shown, embedder)
    shown = steps.drop_orders(ask, evidence, shown)
    yield steps.finish(ask, built, passages, written, shown, clock, retrieve_ms)
