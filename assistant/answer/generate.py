"""Answering from given passages: prompt, stream, check citations, decide abstention."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.answer import checks
from assistant.answer.checks import Draft, Evidence, Fired
from assistant.answer.checks import draft as draft_checks
from assistant.answer.citations import (
    SUPPORT_THRESHOLD,
    Sentence,
    check_sentences,
    cited_numbers,
    markers,
    render,
)
from assistant.answer.prompt import build_prompt, passage_header
from assistant.answer.quote import closest_sentence
from assistant.embeddings import Embedder
from assistant.ingest import injection
from assistant.models.base import ChatModel, GenerationStats
from assistant.prompts import PromptLibrary
from assistant.retrieve.hybrid import Passage


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
    retrieved: list[Passage] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    stamp: dict[str, str] = field(default_factory=dict)
    # The doc ids the question was limited to (assistant ask --doc, the chat's scope); empty
    # when the whole corpus was searched.
    scope: list[str] = field(default_factory=list)

    def citations(self) -> list[dict[str, Any]]:
        out = []
        for n in self.cited:
            p = self.passages[n - 1]
            out.append({
                "n": n, "doc_id": p.doc_id, "title": p.title, "url": p.url, "text": p.text,
                "score": p.score, "locator": p.locator, "publisher": p.publisher, "date": p.date,
                "chunk_id": p.chunk_id, "injection": p.injection,
                "supported": all(s.supported for s in self.sentences if n in s.cited),
            })
        return out

    def pointed_passages(self) -> list[dict[str, Any]]:
        return [
            {"n": n, "doc_id": p.doc_id, "chunk_id": p.chunk_id, "title": p.title,
             "locator": p.locator, "url": p.url}
            for n in self.pointed for p in [self.passages[n - 1]]
        ]

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
            "retrieved": [
                {"doc_id": p.doc_id, "chunk_id": p.chunk_id, "score": p.score,
                 "similarity": p.similarity, "locator": p.locator, "title": p.title,
                 "url": p.url, "publisher": p.publisher, "date": p.date, "text": p.text,
                 "injection": p.injection,
                 # The prompt budget may leave the last passages out.
                 "in_prompt": p.chunk_id in given}
                for p in self.retrieved
            ],
            "timings": self.timings,
            "standalone_query": self.standalone_query,
            "raw_answer": self.raw_answer,
            "retried": self.retried,
            "pointed": self.pointed_passages(),
            "cut_off": self.cut_off,
            "quoted": self.quoted,
            "sentences": [asdict(s) for s in self.sentences],
            "drafts": self.drafts,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "stamp": self.stamp,
            "scope": self.scope,
        }


@dataclass
class AnswerOptions:
    max_tokens: int = 160
    temperature: float = 0.0
    prompt_budget: int = 1100
    min_relevance: float = 0.3
    check_support: bool = True
    retry_declined: bool = True
    # Quote the best-matching passage sentence when the model declines and the sentence scores
    # at least this (see answer/quote.py); 0 turns it off.
    quote_threshold: float = 0.0
    support_threshold: float = SUPPORT_THRESHOLD
    # Names of answer checks turned off (assistant/answer/checks/).
    disabled_checks: tuple[str, ...] = ()
    # What the prompt does with passage sentences that give the assistant orders.
    injections: str = "remove"


def abstention(
    question: str, model: str, fired: Fired, retrieved: list[Passage], retrieve_ms: float
) -> AnswerResult:
    """An answer decided before generation: the check that fired, and nothing generated."""
    family = fired.check.family
    return AnswerResult(
        question=question, answer=checks.MESSAGES[family].format(names=fired.detail),
        abstained=True, model=model, passages=[], cited=[], sentences=[],
        abstain_reason=family, abstain_check=fired.check.name, retrieved=retrieved,
        timings={"retrieve_ms": round(retrieve_ms, 1), "first_token_ms": 0.0, "total_ms": 0.0,
                 "tokens_per_s": 0.0},
    )


def _judge(evidence: Evidence, text: str, options: AnswerOptions
           ) -> tuple[list[Sentence], list[Fired]]:
    """The draft's checked sentences, and every enabled check that fires on it: the draft
    checks first, then the checks on its sentences."""
    sentences = check_sentences(text, evidence.texts, options.support_threshold,
                                question=evidence.question) if options.check_support else []
    draft = Draft(text, sentences)
    fired = checks.run("draft", evidence, draft, options.disabled_checks)
    if options.check_support:
        fired += checks.run("sentences", evidence, draft, options.disabled_checks)
    return sentences, fired


def _log(text: str | None, fired: list[Fired]) -> dict[str, Any]:
    return {"text": text, "checks": [f.check.name for f in fired]}


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
    asked = f"{earlier_question} {question}".strip()
    budget = min(options.prompt_budget, model.context_window - options.max_tokens - 16)
    built = build_prompt(prompts, question, passages, model.count_tokens, budget,
                         earlier_question, injections=options.injections) if passages else None
    kept = built.passages if built else []
    evidence = Evidence(
        question=asked, own_question=question,
        # The model sees each passage's title and locator too ("... Definition – 1.0-RC1"); a
        # sentence giving the assistant orders supports nothing, so it is left out.
        texts=[f"{p.title} {p.locator}\n{_informing(p.text, options.injections)}" for p in kept],
        injected=[] if options.injections == "off" else [
            f.text for p in kept for f in injection.find(p.text)],
        headers=[passage_header(p) for p in kept] + [p.title for p in kept],
        publishers=[p.publisher for p in kept],
        best_similarity=best_similarity, min_relevance=options.min_relevance,
    )
    before = checks.run("before", evidence, None, options.disabled_checks)
    if not built or not passages:
        before = before or [Fired(checks.REGISTRY["no_relevant_passages"], "no passages")]
    if before:
        result = abstention(question, model.label, before[0], passages, retrieve_ms)
        result.passages = kept if before[0].check.family != checks.NO_EVIDENCE else []
        result.drafts = [_log(None, before)]
        yield result
        return
    assert built is not None
    stats = GenerationStats()
    started = time.perf_counter()
    first = 0.0
    pieces: list[str] = []
    for piece in model.stream(built.messages, options.max_tokens, options.temperature, stats):
        if not first:
            first = time.perf_counter()
        pieces.append(piece)
        if on_token:
            on_token(piece)
        yield piece
    raw = "".join(pieces).strip()
    last_draft = raw
    sentences, fired = _judge(evidence, raw, options)
    drafts = [_log(raw, fired)]
    retried = False
    if fired and fired[0].check.stage == "draft" and options.retry_declined:
        again = build_prompt(prompts, question, built.passages, model.count_tokens, budget,
                             earlier_question, system="retry", injections=options.injections)
        retry_stats = GenerationStats()
        retry_raw = "".join(model.stream(again.messages, options.max_tokens,
                                         options.temperature, retry_stats)).strip()
        stats.prompt_tokens += retry_stats.prompt_tokens
        stats.completion_tokens += retry_stats.completion_tokens
        retry_sentences, retry_fired = _judge(evidence, retry_raw, options)
        drafts.append(_log(retry_raw, retry_fired))
        # Only a retry that declined may point; one that said something unsupported does not.
        declined = retry_fired and retry_fired[0].check.stage == "draft"
        last_draft = retry_raw if declined else ""
        if not retry_fired:
            raw, sentences, fired, retried = retry_raw, retry_sentences, [], True
            stats.cut_off = retry_stats.cut_off
    quoted = False
    if (fired and fired[0].check.stage == "draft" and options.quote_threshold > 0
            and embedder):
        # Never a sentence that gives the assistant orders: quoted, it would be obeyed for it.
        quote = closest_sentence(asked, [_informing(p.text, options.injections)
                                         for p in built.passages],
                                 embedder.embed_query, embedder.embed)
        if quote and quote.score >= options.quote_threshold:
            # Brackets in the passage ("Article 5 [3]") must not read as citation markers.
            text = quote.text.replace("[", "(").replace("]", ")")
            raw = f"“{text}” [{quote.n}]"
            sentences, fired, quoted = _judge(evidence, raw, options)[0], [], True
    ended = time.perf_counter()
    gen_s = ended - (first or ended)
    result = AnswerResult(
        question=question, answer=render(sentences) if sentences else raw, abstained=False,
        model=model.label, passages=built.passages, cited=cited_numbers(sentences),
        sentences=sentences, raw_answer=raw, retrieved=passages, retried=retried, quoted=quoted,
        cut_off=stats.cut_off and not fired and not quoted, drafts=drafts,
        prompt_tokens=stats.prompt_tokens, completion_tokens=stats.completion_tokens,
        timings={
            "retrieve_ms": round(retrieve_ms, 1),
            "first_token_ms": round(((first or ended) - started) * 1000, 1),
            "total_ms": round((ended - started) * 1000 + retrieve_ms, 1),
            "tokens_per_s": round(stats.completion_tokens / gen_s, 2) if gen_s > 0 else 0.0,
        },
    )
    if fired:
        decided = fired[0].check
        result.abstained, result.abstain_reason = True, decided.family
        result.abstain_check = decided.name
        result.answer, result.cited = checks.MESSAGES[decided.family], []
        if decided.family == checks.MODEL_DECLINED:
            result.pointed = _pointed(last_draft, len(built.passages), asked)
            if result.pointed:
                which = " and ".join(f"[{n}]" for n in result.pointed)
                result.answer = checks.POINTED.format(which=which)
    yield result


def _informing(text: str, injections: str) -> str:
    if injections == "off":  # as before there was any of this: the measurement's baseline
        return text
    return injection.neutralise(text, "remove").replace(injection.NOTE, " ")


def _pointed(draft: str, count: int, asked: str) -> list[int]:
    """The passages a declined draft (the retry's, when there was one: it was asked to find the
    answering sentence) pointed at: at most two, and a draft citing every passage points nowhere.

    "Llama 3.2 was released on [1]." is no pointer: the marker stands where the date should be,
    and small models write it so whether or not any passage has the date (measured on the eval:
    every such marker on a date question pointed at a passage without the answer)."""
    if draft_checks.model_declined(draft) or draft_checks.misses_the_figure(draft, asked):
        return []
    numbers = [n for n in markers(draft) if 1 <= n <= count]
    return numbers if len(numbers) <= min(2, count - 1) else []
