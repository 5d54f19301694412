"""Evaluation metrics: pure functions of plain result records (dicts as written to results-*.jsonl).

A metric without a denominator (no answerable question, no answer with citations, ...) is None,
never 0: "not measured" and "always wrong" must not look alike in a report.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from assistant.answer.checks import NO_EVIDENCE, NOT_MENTIONED
from assistant.answer.citations import markers, support
from assistant.eval.compare import wilson
from assistant.sentences import Rule, split

Record = Mapping[str, Any]

# Per-question values stored in each result record; the summary aggregates these.
QUESTION_METRICS = (
    "correct", "yes_no", "verdict", "citation_hit", "citation_precision", "retrieval_hit",
    "reciprocal_rank", "answer_in_context", "model_ran",
)
SUMMARY_METRICS = (
    "accuracy", "accuracy_ci95", "yes_no_accuracy", "truth_score", "citation_hit",
    "citation_precision", "hit_at_k", "mrr",
    "answer_in_context",
    "abstention_accuracy", "false_abstention_rate",
    "first_token_ms_p50", "first_token_ms_p95", "total_ms_p50", "total_ms_p95",
    "prompt_tokens_p50",
)
# Questions about a whole document or provision (summaries, complete lists, two-sided answers):
# scored by the OVERVIEW_METRICS, and kept out of `summarize` so the lookup scores stay
# comparable with reports written before they existed.
OVERVIEW = "overview"
OVERVIEW_METRICS = ("coverage", "bullets", "bullets_supported", "cites_other_doc",
                    "about_article")
OVERVIEW_SUMMARY = (
    "questions", "abstained", "coverage", "bullets", "bullets_supported", "bullet_support",
    "other_doc_answers", "article_questions", "article_other_doc_answers", "seconds_mean",
    "seconds_max", "modes",
)
# The news article: a summary of it that cites the AI Act or a licence has summarised the
# wrong thing, however well.
ARTICLE = "etcentric-meta-spotify-statement"
# Fixed here rather than read from the answer settings: the measure must not move when the
# answer's own support threshold is tuned.
BULLET_SUPPORT = 0.5


def matches(answer: str, must_include: Sequence[Sequence[str]]) -> bool:
    """Every group has at least one of its strings in the answer (case-insensitive substring)."""
    text = answer.casefold()
    return all(any(s.casefold() in text for s in group) for group in must_include)


Polarity = Literal["yes", "no"]
Verdict = Literal["right", "refused", "wrong"]
# The truth score's value of each verdict: a wrong answer costs what a right one earns, so
# answering everything is not rewarded over declining what the model does not know.
TRUTH = {"right": 1, "refused": 0, "wrong": -1}

# Leading quotes, markdown and punctuation before an answer's first word ("**No.**", "> Yes").
_FIRST_WORD = re.compile(r"[\W_]*([^\W_]+)")
# A sentence ends at . ! ? before a capital (or the end), or at a line break: "Art. 53(1)" and
# "e.g. the" stay inside one sentence. Answers are markdown, so the end mark may sit inside bold
# ("**No.** The licence") and the next sentence open with quotes, brackets or "**"; the end mark
# is dropped: only the words are read (is the first sentence negated?).
FIRST_SENTENCE = Rule(ends=r"[.!?]", closers=r"[*_]*", opens=r"[\"'“‘(\[*]*[A-Z]",
                      keep_ends=False)
# "No 765/2008" numbers a regulation; it negates nothing.
_NEGATION = re.compile(
    r"\b(?:not|never|cannot|none|nothing|neither|nor)\b|n['’]t\b|\bno\b(?!\.?\s*\d)",
    re.IGNORECASE,
)


def _first_word(text: str) -> tuple[str, str]:
    """(the first word, casefolded; the text after it)"""
    match = _FIRST_WORD.match(text)
    return (match.group(1).casefold(), text[match.end():]) if match else ("", text)


def first_sentence(text: str) -> str:
    # Punctuation left of the first word too: the text after "Yes." starts with ". It ...".
    return split(text.lstrip(" \t\r\n.,:;!?"), FIRST_SENTENCE)[0].rstrip()


def polarity(text: str) -> Polarity | None:
    """The side a text takes: "yes" or "no" when its first word is Yes or No (case, quotes,
    markdown and punctuation aside): how a yes/no question is told from its expected answer."""
    word = _first_word(text)[0]
    return "yes" if word == "yes" else "no" if word == "no" else None


def negated(text: str) -> bool:
    return _NEGATION.search(text) is not None


def contradicts(answer: str, expected_answer: str) -> bool:
    """The answer takes the other side of a yes/no question (one whose expected answer opens with
    Yes or No; for any other question, False).

    - An answer opening with Yes or No contradicts when it is the other word.
    - Otherwise the opening is undecided, and only a "no" can be read off it: its first sentence
      has a negation (not, n't, no, never, cannot, none, nothing, neither, nor). That contradicts
      an expected Yes, unless the expected answer's own first sentence after the Yes has a
      negation too ("Yes: the duties do not apply to open-source models"), when a negated
      sentence is how the yes is said. An affirmative sentence decides nothing, for an expected
      No is often explained by one ("No. The requirements are the same ...")."""
    expected = polarity(expected_answer)
    if expected is None:
        return False
    said = polarity(answer)
    if said is not None:
        return said != expected
    if expected == "no":
        return False
    reason = _first_word(expected_answer)[1]
    return negated(first_sentence(answer)) and not negated(first_sentence(reason))


def is_correct(
    answer: str, abstained: bool, answerable: bool, must_include: Sequence[Sequence[str]],
    expected_answer: str = "",
) -> bool:
    """Abstained on an unanswerable question; or, on an answerable one, answered with every
    `must_include` group and without contradicting a yes/no expected answer (`contradicts`)."""
    # For an unanswerable question the right behaviour is to abstain; for an answerable one an
    # abstention is wrong even when the refusal message happens to contain a required string.
    if not answerable:
        return abstained
    return (not abstained and matches(answer, must_include)
            and not contradicts(answer, expected_answer))


def question_verdict(answerable: bool, abstained: bool, correct: bool) -> Verdict:
    """Declining is "refused" on an answerable question but "right" on an unanswerable one."""
    if not answerable:
        return "right" if abstained else "wrong"
    if abstained:
        return "refused"
    return "right" if correct else "wrong"


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def cited_docs(record: Record) -> list[str]:
    return _unique(c["doc_id"] for c in record.get("citations") or [])


def retrieved_docs(record: Record) -> list[str]:
    """Doc id of each retrieved passage, in rank order (repeats kept: rank is per passage)."""
    return [p["doc_id"] for p in record.get("retrieved") or []]


def reciprocal_rank(retrieved: Sequence[str], gold: Iterable[str]) -> float:
    gold_set = set(gold)
    for rank, doc_id in enumerate(retrieved, 1):
        if doc_id in gold_set:
            return 1.0 / rank
    return 0.0


def answer_in_context(record: Record, must_include: Sequence[Sequence[str]]) -> bool | None:
    """The gold answer's required strings appear in the passages the model was given: a finer
    ceiling on accuracy than hit@k, which counts the right document even when the retrieved
    chunk of it is the wrong one. A retrieved passage the prompt budget left out does not count
    (records written before `in_prompt` was kept count them all). None for records written
    without passage text."""
    retrieved = record.get("retrieved") or []
    texts = [p.get("text") for p in retrieved]
    if not texts or any(t is None for t in texts):
        return None
    return matches("\n".join(p["text"] for p in retrieved if p.get("in_prompt", True)),
                   must_include)


def model_ran(record: Record) -> bool:
    """False when the answer was an abstention decided from retrieval, before any generation."""
    before = (NO_EVIDENCE, NOT_MENTIONED)
    return not (record.get("abstained") and record.get("abstain_reason") in before)


def score(
    record: Record, must_include: Sequence[Sequence[str]], sources: Sequence[str],
    expected_answer: str = "",
) -> dict[str, Any]:
    """Per-question values: bools/floats, or None where the metric does not apply. Without
    `expected_answer` no question is a yes/no one."""
    answerable = bool(record["answerable"])
    abstained = bool(record["abstained"])
    gold = set(sources)
    correct = is_correct(record.get("answer") or "", abstained, answerable, must_include,
                         expected_answer)
    out: dict[str, Any] = {
        "correct": correct,
        "yes_no": correct if answerable and polarity(expected_answer) is not None else None,
        "verdict": question_verdict(answerable, abstained, correct),
        "citation_hit": None,
        "citation_precision": None,
        "retrieval_hit": None,
        "reciprocal_rank": None,
        "answer_in_context": answer_in_context(record, must_include) if answerable else None,
        "model_ran": model_ran(record),
    }
    if answerable and gold:
        docs = retrieved_docs(record)
        out["retrieval_hit"] = any(d in gold for d in docs)
        out["reciprocal_rank"] = reciprocal_rank(docs, gold)
        if not abstained:
            cited = cited_docs(record)
            out["citation_hit"] = any(d in gold for d in cited)
            if cited:
                out["citation_precision"] = sum(d in gold for d in cited) / len(cited)
    return out


def mean(values: Iterable[float | bool | None]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return sum(present) / len(present) if present else None


def percentile(values: Iterable[float | int | None], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), q in [0, 100]."""
    data = sorted(float(v) for v in values if v is not None)
    if not data:
        return None
    pos = (len(data) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _interval(correct: int, n: int) -> list[float] | None:
    bounds = wilson(correct, n)
    return None if bounds is None else [round(bounds[0], 4), round(bounds[1], 4)]


def summarize(records: Sequence[Record]) -> dict[str, Any]:
    """Aggregate scored records (each carrying the QUESTION_METRICS values from `score`)."""
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    ran = [r for r in records if r["model_ran"]]
    timings = [r.get("timings") or {} for r in ran]
    yes_no = [r for r in answerable if r["yes_no"] is not None]
    return {
        "questions": len(records),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "model_ran": len(ran),
        "k": max((len(r.get("retrieved") or []) for r in records), default=0),
        "accuracy": _round(mean(r["correct"] for r in answerable), 4),
        "accuracy_ci95": _interval(sum(bool(r["correct"]) for r in answerable), len(answerable)),
        # Abstentions count in the denominator, as in accuracy: the truth score tells a refusal
        # from a wrong yes or no.
        "yes_no_accuracy": _round(mean(r["yes_no"] for r in yes_no), 4),
        "yes_no_questions": len(yes_no),
        "yes_no_right": sum(bool(r["yes_no"]) for r in yes_no),
        "truth_score": _round(mean(TRUTH[r["verdict"]] for r in records), 4),
        "citation_hit": _round(mean(r["citation_hit"] for r in answerable), 4),
        "citation_precision": _round(mean(r["citation_precision"] for r in answerable), 4),
        "hit_at_k": _round(mean(r["retrieval_hit"] for r in answerable), 4),
        "mrr": _round(mean(r["reciprocal_rank"] for r in answerable), 4),
        "answer_in_context": _round(mean(r.get("answer_in_context") for r in answerable), 4),
        "abstention_accuracy": _round(mean(r["abstained"] for r in unanswerable), 4),
        "false_abstention_rate": _round(mean(r["abstained"] for r in answerable), 4),
        "first_token_ms_p50": _round(percentile((t.get("first_token_ms") for t in timings), 50), 1),
        "first_token_ms_p95": _round(percentile((t.get("first_token_ms") for t in timings), 95), 1),
        "total_ms_p50": _round(percentile((t.get("total_ms") for t in timings), 50), 1),
        "total_ms_p95": _round(percentile((t.get("total_ms") for t in timings), 95), 1),
        "prompt_tokens_p50": _round(percentile((r.get("prompt_tokens") for r in ran), 50), 1),
        # Answers that are a quoted passage sentence (the model declined twice), and how many of
        # those were right: the quote's precision, beside the model's own.
        "quoted": sum(bool(r.get("quoted")) for r in records),
        "quoted_correct": sum(bool(r.get("quoted")) and bool(r["correct"]) for r in records),
    }


def summarize_by_kind(records: Sequence[Record]) -> dict[str, dict[str, Any]]:
    kinds = _unique(r["kind"] for r in records)
    return {k: summarize([r for r in records if r["kind"] == k]) for k in kinds}


def summarize_by_split(records: Sequence[Record]) -> dict[str, dict[str, Any]]:
    splits = _unique(r.get("split", "tune") for r in records)
    return {s: summarize([r for r in records if r.get("split", "tune") == s]) for s in splits}


R = TypeVar("R", bound=Record)


def lookups(records: Sequence[R]) -> list[R]:
    """The records every existing score is over: all but the overview questions."""
    return [r for r in records if r.get("kind") != OVERVIEW]


def coverage(answer: str, must_include: Sequence[Sequence[str]]) -> float | None:
    """Share of the groups (key points) with at least one of their strings in the answer, the
    matching of `matches` group by group. None without groups."""
    if not must_include:
        return None
    text = answer.casefold()
    return sum(any(s.casefold() in text for s in g) for g in must_include) / len(must_include)


_BULLET = re.compile(r"^\s*- ")


def bullets(answer: str) -> list[str]:
    """The answer's bullet lines ("- " after any indent), without the dash; an intro line is
    not one."""
    return [_BULLET.sub("", line).strip() for line in answer.splitlines() if _BULLET.match(line)]


def bullet_supported(bullet: str, citations: Sequence[Record]) -> bool:
    """The passage(s) the bullet cites ([n] is the citation whose "n" is n) hold at least half of
    its content words (`support`). A bullet citing nothing, or only numbers no citation has, is
    unsupported."""
    texts = {c["n"]: c.get("text") or "" for c in citations}
    cited = [texts[n] for n in markers(bullet) if n in texts]
    return bool(cited) and support(bullet, "\n".join(cited)) >= BULLET_SUPPORT


def score_overview(
    record: Record, must_include: Sequence[Sequence[str]], sources: Sequence[str]
) -> dict[str, Any]:
    """Per-question values of an overview question (beside those of `score`). An abstention
    covers nothing and has no bullets."""
    abstained = bool(record.get("abstained"))
    answer = "" if abstained else record.get("answer") or ""
    citations = record.get("citations") or []
    lines = bullets(answer)
    return {
        "coverage": 0.0 if abstained and must_include else coverage(answer, must_include),
        "bullets": len(lines),
        "bullets_supported": sum(bullet_supported(b, citations) for b in lines),
        "cites_other_doc": any(d not in sources for d in cited_docs(record)),
        "about_article": list(sources) == [ARTICLE],
    }


def summarize_overview(records: Sequence[Record]) -> dict[str, Any]:
    """Aggregate overview records (each carrying the OVERVIEW_METRICS of `score_overview`).
    Bullet support is over all bullets of all answers; seconds over answers the model wrote."""
    totals = [(r.get("timings") or {}).get("total_ms") for r in records if r.get("model_ran")]
    seconds = [ms / 1000 for ms in totals if ms is not None]
    n_bullets = sum(r["bullets"] for r in records)
    supported = sum(r["bullets_supported"] for r in records)
    article = [r for r in records if r["about_article"]]
    return {
        "questions": len(records),
        "abstained": sum(bool(r.get("abstained")) for r in records),
        "coverage": _round(mean(r["coverage"] for r in records), 4),
        "bullets": n_bullets,
        "bullets_supported": supported,
        "bullet_support": _round(supported / n_bullets, 4) if n_bullets else None,
        "other_doc_answers": sum(bool(r["cites_other_doc"]) for r in records),
        "article_questions": len(article),
        "article_other_doc_answers": sum(bool(r["cites_other_doc"]) for r in article),
        "seconds_mean": _round(mean(seconds), 2),
        "seconds_max": _round(max(seconds, default=None), 2),
        # The answer mode the assistant chose ("summary", "list", ...; "-" in records written
        # before it had modes): an overview answered as a lookup explains a low coverage.
        "modes": dict(sorted(Counter(r.get("mode") or "-" for r in records).items())),
    }


def summarize_overview_by_split(records: Sequence[Record]) -> dict[str, dict[str, Any]]:
    """Per split, over the overview records only; empty when there are none."""
    mine = [r for r in records if r.get("kind") == OVERVIEW]
    splits = _unique(r.get("split", "tune") for r in mine)
    return {s: summarize_overview([r for r in mine if r.get("split", "tune") == s])
            for s in splits}


def fired_checks(record: Record) -> list[str]:
    """Every answer check that fired on any draft of the record (or before generation)."""
    return _unique(name for d in record.get("drafts") or [] for name in d.get("checks", []))


def answer_without(record: Record, check: str) -> str | None:
    """What the record would have shown with `check` turned off, when that can be read off its
    drafts: a draft on which `check` alone fired would have been the answer. None when the
    outcome would not change, or cannot be known (a check before generation stopped the model,
    so there is no draft to show)."""
    drafts = [d for d in record.get("drafts") or [] if d.get("text") is not None]
    if not drafts:
        return None
    first = drafts[0]
    if first.get("checks") == [check]:
        return str(first["text"])
    # Another draft check stopped the first draft; the retry may have been stopped by this one.
    if len(drafts) > 1 and drafts[1].get("checks") == [check]:
        return str(drafts[1]["text"])
    return None


def check_table(records: Sequence[Record], questions: Mapping[str, Any]) -> dict[str, Any]:
    """Per named check: how often it fired on answerable and on unanswerable questions, how
    often it decided an abstention, and its worth estimated from the drafts: the questions that
    turning it off would gain and lose. `questions` maps id -> Question (for must_include)."""
    names = _unique(n for r in records for n in fired_checks(r))
    table = {}
    for name in names:
        row = {"fired_answerable": 0, "fired_unanswerable": 0, "decided_answerable": 0,
               "decided_unanswerable": 0, "without_gained": 0, "without_lost": 0}
        for r in records:
            side = "answerable" if r["answerable"] else "unanswerable"
            if name in fired_checks(r):
                row[f"fired_{side}"] += 1
            if r.get("abstain_check") == name:
                row[f"decided_{side}"] += 1
            shown = answer_without(r, name)
            q = questions.get(r["id"])
            if shown is None or q is None:
                continue
            right = is_correct(shown, False, bool(r["answerable"]), q.must_include,
                               q.expected_answer)
            if right and not r["correct"]:
                row["without_gained"] += 1
            elif r["correct"] and not right:
                row["without_lost"] += 1
        table[name] = row
    return table
