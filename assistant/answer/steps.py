"""The steps of the answer path, in the order generate() runs them: gather the evidence, check it
before generation, draft, judge, retry, fall back to a quote, finish. The model (draft, retry)
and the embedder (fallback) are the only I/O; the rest is plain data in and out."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from assistant.answer import checks, polarity, two_sided
from assistant.answer.checks import Check, Draft, Evidence, Fired
from assistant.answer.checks import draft as draft_checks
from assistant.answer.citations import (
    Sentence,
    check_sentences,
    cited_numbers,
    markers,
    render,
    split_sentences,
    strip_markers,
    support,
)
from assistant.answer.options import AnswerOptions
from assistant.answer.prompt import BuiltPrompt, build_prompt, passage_header
from assistant.answer.quote import closest_sentence
from assistant.answer.result import AnswerResult
from assistant.embeddings import Embedder
from assistant.ingest import injection
from assistant.models.base import ChatModel, GenerationStats
from assistant.prompts import PromptLibrary
from assistant.retrieve.hybrid import Passage


@dataclass(frozen=True)
class Ask:
    """One question put to one model with one set of options: what every step reads."""

    model: ChatModel
    prompts: PromptLibrary
    question: str
    earlier_question: str
    options: AnswerOptions

    @property
    def asked(self) -> str:
        """What was asked: for a follow-up, the earlier question and this one."""
        return f"{self.earlier_question} {self.question}".strip()

    @property
    def budget(self) -> int:
        # The answer has to fit in the context window after the prompt.
        return min(self.options.prompt_budget,
                   self.model.context_window - self.options.max_tokens - 16)

    @property
    def yes_no(self) -> bool:
        """A yes/no question whose answer opens with its deciding sentence (answer/polarity.py)."""
        return self.options.yes_no_evidence_first and polarity.is_yes_no(self.question)

    def prompt(self, passages: list[Passage], system: str = "answer") -> BuiltPrompt:
        return build_prompt(self.prompts, self.question, passages, self.model.count_tokens,
                            self.budget, self.earlier_question, system=system,
                            injections=self.options.injections)


@dataclass
class Written:
    """A candidate answer and the checks that fired on it. `by` says where it came from: the
    model's first draft, its retry, or the quote fallback."""

    text: str
    sentences: list[Sentence]
    fired: list[Fired]
    by: Literal["draft", "retry", "quote", "positions"]
    stats: GenerationStats = field(default_factory=GenerationStats)
    # Sentences taken out before it is shown: they gave an order (see `drop_orders`).
    dropped: list[str] = field(default_factory=list)

    @property
    def declined(self) -> bool:
        """A draft check stopped it (it declined, echoed the question, ...), not a check on its
        sentences: only such a draft earns the retry and the quote fallback."""
        return bool(self.fired) and self.fired[0].check.stage == "draft"

    def log(self) -> dict[str, Any]:
        return _log(self.text, self.fired)


@dataclass
class Clock:
    started: float = field(default_factory=time.perf_counter)
    first: float = 0.0  # when the first piece of the draft arrived; 0 until then


def marked(passages: list[Passage]) -> list[Passage]:
    """The passages, each marked with the orders today's detector finds in it: a chunk indexed
    before the detector knew an order carries the mark too, to the sources panel, the API and
    MCP results (about 2 ms a passage)."""
    return [p if p.injection else replace(p, injection=injection.kinds(p.text))
            for p in passages]


def gather_evidence(ask: Ask, passages: list[Passage], best_similarity: float
                    ) -> tuple[BuiltPrompt | None, Evidence]:
    """The prompt (None without passages) and what the checks judge by: the passages that fit
    the prompt budget, as the model reads them."""
    injections = ask.options.injections
    built = ask.prompt(passages) if passages else None
    kept = built.passages if built else []
    evidence = Evidence(
        question=ask.asked, own_question=ask.question,
        # The model sees each passage's title and locator too ("... Definition – 1.0-RC1"); a
        # sentence giving the assistant orders supports nothing, so it is left out.
        texts=[f"{p.title} {p.locator}\n{_informing(p.text, injections)}" for p in kept],
        injected=[] if injections == "off" else [
            f.text for p in kept for f in injection.find(p.text)],
        headers=[passage_header(p) for p in kept] + [p.title for p in kept],
        publishers=[p.publisher for p in kept],
        best_similarity=best_similarity, min_relevance=ask.options.min_relevance,
    )
    return built, evidence


def check_before(ask: Ask, evidence: Evidence, built: BuiltPrompt | None) -> list[Fired]:
    """The checks that decide without the model. Without passages there is no prompt, so
    no_relevant_passages decides even when it is turned off: it is never empty then."""
    before = checks.run("before", evidence, None, ask.options.disabled_checks)
    if built is None:
        before = before or [Fired(checks.REGISTRY["no_relevant_passages"], "no passages")]
    return before


def draft(ask: Ask, built: BuiltPrompt, evidence: Evidence, clock: Clock,
          on_token: Callable[[str], None] | None) -> Generator[str, None, Written]:
    """Stream the model's first draft piece by piece, then return it judged."""
    stats = GenerationStats()
    pieces: list[str] = []
    for piece in ask.model.stream(built.messages, ask.options.max_tokens,
                                  ask.options.temperature, stats):
        if not clock.first:
            clock.first = time.perf_counter()
        pieces.append(piece)
        if on_token:
            on_token(piece)
        yield piece
    text = "".join(pieces).strip()
    return Written(text, *judge(evidence, text, ask.options), by="draft", stats=stats)


def judge(evidence: Evidence, text: str, options: AnswerOptions
          ) -> tuple[list[Sentence], list[Fired]]:
    """The draft's checked sentences, and every enabled check that fires on it: the draft
    checks first, then the checks on its sentences."""
    sentences = check_sentences(text, evidence.texts, options.support_threshold,
                                question=evidence.question) if options.check_support else []
    checked = Draft(text, sentences)
    fired = checks.run("draft", evidence, checked, options.disabled_checks)
    if options.check_support:
        fired += checks.run("sentences", evidence, checked, options.disabled_checks)
    return sentences, fired


def retry(ask: Ask, built: BuiltPrompt, evidence: Evidence) -> Written:
    """One more try with the `retry` prompt, which tells the model the answer is in the
    passages, judged by the same checks. Not streamed: the final AnswerResult replaces what
    was shown."""
    again = ask.prompt(built.passages, system="retry")
    stats = GenerationStats()
    text = "".join(ask.model.stream(again.messages, ask.options.max_tokens,
                                    ask.options.temperature, stats)).strip()
    return Written(text, *judge(evidence, text, ask.options), by="retry", stats=stats)


def evidence_first(ask: Ask, built: BuiltPrompt, evidence: Evidence, shown: Written,
                   embedder: Embedder | None) -> Written:
    """For a yes/no question, the answer opens with the passage sentence that decides it (the
    one closest to the question among the passages the answer cites), quoted and cited; the
    model's words follow without their own Yes or No. Kept only if no check stops it."""
    if not ask.yes_no or shown.fired or shown.by == "quote" or not embedder:
        return shown
    pool = cited_numbers(shown.sentences) or list(range(1, len(built.passages) + 1))
    injections = ask.options.injections
    quote = closest_sentence(ask.asked, [_informing(built.passages[n - 1].text, injections)
                                         for n in pool], embedder.embed_query, embedder.embed)
    if quote is None:
        return shown
    # The marker before the full stop, so the sentence splitter keeps it with the quote.
    said = quote.text.replace("[", "(").replace("]", ")").rstrip(" .;:")
    text = f"“{said}” [{pool[quote.n - 1]}]. {polarity.strip_opening(shown.text)}".strip()
    sentences, fired = judge(evidence, text, ask.options)
    return shown if fired else Written(text, sentences, [], by=shown.by, stats=shown.stats)


def positions(ask: Ask, built: BuiltPrompt, evidence: Evidence) -> Written | None:
    """For a yes/no question the passages answer with conflicting attributed claims, each
    claim quoted with its source (answer/two_sided.py) instead of the model's Yes or No; kept
    only if no check stops it."""
    if not ask.yes_no:
        return None
    found = two_sided.positions(ask.question, [_informing(p.text, ask.options.injections)
                                               for p in built.passages])
    if not found:
        return None
    text = two_sided.render(found)
    sentences, fired = judge(evidence, text, ask.options)
    return None if fired else Written(text, sentences, [], by="positions")


def fallback(ask: Ask, built: BuiltPrompt, evidence: Evidence, embedder: Embedder | None
             ) -> Written | None:
    """The passage sentence that matches the question best, quoted with its marker, when it
    scores at least options.quote_threshold (never with 0 or without an embedder)."""
    options = ask.options
    if not (options.quote_threshold > 0 and embedder):
        return None
    # Never a sentence that gives the assistant orders: quoted, it would be obeyed for it.
    quote = closest_sentence(ask.asked, [_informing(p.text, options.injections)
                                         for p in built.passages],
                             embedder.embed_query, embedder.embed)
    if quote and quote.score >= options.quote_threshold:
        # Brackets in the passage ("Article 5 [3]") must not read as citation markers.
        text = quote.text.replace("[", "(").replace("]", ")")
        text = f"“{text}” [{quote.n}]"
        # The passage's own words: its sentences are checked for the record, and no check
        # stops it.
        return Written(text, judge(evidence, text, options)[0], [], by="quote")
    return None


# An answer sentence that shares this much of its words with an order in a passage repeats it.
REPEATS_ORDER = 0.6


def drop_orders(ask: Ask, evidence: Evidence, shown: Written) -> Written:
    """`shown` without the sentences that give an order: one the detector flags (it addresses
    an assistant, overrides instructions, dictates a payload), or one that repeats a passage
    sentence flagged as an order. The prompt already leaves such sentences out and
    `repeats_injection` stops a draft that carries an order's payload; this is the last step,
    for whatever both missed (a detector's miss at ingest is re-checked here: `injected` is
    found again when the prompt is built). "off", the measurement's baseline, keeps all."""
    if ask.options.injections == "off" or not shown.text:
        return shown

    def order(text: str) -> bool:
        body = strip_markers(text)
        return bool(injection.classify(body)) or any(
            support(body, flagged) >= REPEATS_ORDER for flagged in evidence.injected)

    if shown.sentences:
        flags = [order(s.text) for s in shown.sentences]
        kept = [s for s, f in zip(shown.sentences, flags, strict=True) if not f]
        dropped = [s.text for s, f in zip(shown.sentences, flags, strict=True) if f]
        text = render(kept) if dropped else shown.text
    else:
        pieces = split_sentences(shown.text)
        flags = [order(p) for p in pieces]
        dropped = [p for p, f in zip(pieces, flags, strict=True) if f]
        kept = []
        text = " ".join(p for p, f in zip(pieces, flags, strict=True) if not f) if dropped \
            else shown.text
    if not dropped:
        return shown
    return Written(text, kept, shown.fired, shown.by, shown.stats, dropped)


def abstain_before(ask: Ask, before: list[Fired], built: BuiltPrompt | None,
                   retrieved: list[Passage], retrieve_ms: float) -> AnswerResult:
    """An answer decided before generation: the check that fired, and nothing generated."""
    fired = before[0]
    family = fired.check.family
    return AnswerResult(
        question=ask.question, answer=checks.MESSAGES[family].format(names=fired.detail),
        abstained=True, model=ask.model.label, cited=[], sentences=[],
        passages=built.passages if built and family != checks.NO_EVIDENCE else [],
        abstain_reason=family, abstain_check=fired.check.name, retrieved=retrieved,
        drafts=[_log(None, before)],
        timings={"retrieve_ms": round(retrieve_ms, 1), "first_token_ms": 0.0, "total_ms": 0.0,
                 "tokens_per_s": 0.0},
    )


def finish(ask: Ask, built: BuiltPrompt, retrieved: list[Passage], written: list[Written],
           shown: Written, clock: Clock, retrieve_ms: float) -> AnswerResult:
    """The AnswerResult of `shown` among the model's drafts (`written`); when a check stopped
    it, the abstention that check decides."""
    ended = time.perf_counter()
    gen_s = ended - (clock.first or ended)
    completion_tokens = sum(w.stats.completion_tokens for w in written)
    sentences = shown.sentences
    result = AnswerResult(
        question=ask.question, answer=render(sentences) if sentences else shown.text,
        abstained=False, model=ask.model.label, passages=built.passages,
        cited=cited_numbers(sentences), sentences=sentences, raw_answer=shown.text,
        mode="two-sided" if shown.by == "positions" else "lookup",
        retrieved=retrieved, retried=shown.by == "retry", quoted=shown.by == "quote",
        cut_off=shown.stats.cut_off and not shown.fired, drafts=[w.log() for w in written],
        dropped=shown.dropped,
        prompt_tokens=sum(w.stats.prompt_tokens for w in written),
        completion_tokens=completion_tokens,
        timings={
            "retrieve_ms": round(retrieve_ms, 1),
            "first_token_ms": round(((clock.first or ended) - clock.started) * 1000, 1),
            "total_ms": round((ended - clock.started) * 1000 + retrieve_ms, 1),
            "tokens_per_s": round(completion_tokens / gen_s, 2) if gen_s > 0 else 0.0,
        },
    )
    if shown.fired:
        _abstain(result, shown.fired[0].check, _pointing(written), ask.asked)
    elif shown.dropped and not (sentences or shown.text):
        # Every sentence was an order: nothing of the model's answer is left to show.
        _abstain(result, checks.REGISTRY["repeats_injection"], "", ask.asked)
    return result


def _abstain(result: AnswerResult, decided: Check, pointing: str, asked: str) -> None:
    result.abstained, result.abstain_reason = True, decided.family
    result.abstain_check = decided.name
    result.answer, result.cited = checks.MESSAGES[decided.family], []
    if decided.family == checks.MODEL_DECLINED:
        result.pointed = _pointed(pointing, len(result.passages), asked)
        if result.pointed:
            which = " and ".join(f"[{n}]" for n in result.pointed)
            result.answer = checks.POINTED.format(which=which)


def _pointing(written: list[Written]) -> str:
    # Only a retry that declined may point; one that said something unsupported does not.
    last = written[-1]
    return last.text if last.by == "draft" or last.declined else ""


def _log(text: str | None, fired: list[Fired]) -> dict[str, Any]:
    return {"text": text, "checks": [f.check.name for f in fired]}


def _informing(text: str, injections: str) -> str:
    if injections == "off":  # as before there was any of this: the measurement's baseline
        return text
    return injection.neutralise(text, "remove").replace(injection.NOTE, " ")


def _pointed(text: str, count: int, asked: str) -> list[int]:
    """The passages a declined draft (the retry's, when there was one: it was asked to find the
    answering sentence) pointed at: at most two, and a draft citing every passage points nowhere.

    "Llama 3.2 was released on [1]." is no pointer: the marker stands where the date should be,
    and small models write it so whether or not any passage has the date (measured on the eval:
    every such marker on a date question pointed at a passage without the answer)."""
    if draft_checks.model_declined(text) or draft_checks.misses_the_figure(text, asked):
        return []
    numbers = [n for n in markers(text) if 1 <= n <= count]
    return numbers if len(numbers) <= min(2, count - 1) else []
