"""The overview questions of eval/questions.jsonl (kind `overview`): their shape, and that every
key-point string is really in the document (and provision) asked about."""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from assistant.eval import runner
from assistant.eval.metrics import score, score_overview, summarize, summarize_overview
from assistant.eval.questions import Question, load_questions
from assistant.eval.report import overview_rows, render_html, render_markdown, summary_table
from assistant.ingest.blocks import Block
from assistant.ingest.loaders import load_blocks

REPO = Path(__file__).resolve().parents[1]
INDEX = REPO / "index"

# The type of an overview question is read off its id.
TYPES = ("ov-sum-article-", "ov-sum-doc-", "ov-sum-prov-", "ov-list-", "ov-two-")

# The provision each question about part of a document asks about, as the loaders' locators
# name it: every group must be matched inside it, not just somewhere in a 1 MB act. Every AI Act
# question needs an entry.
PROVISIONS = {
    "ov-list-art5": ("Article 5",),
    "ov-list-art5-banned": ("Article 5",),
    "ov-list-penalties": ("Article 99", "Article 101"),
    "ov-sum-prov-art99": ("Article 99",),
    "ov-sum-prov-art50": ("Article 50",),
    "ov-sum-prov-art50-labels": ("Article 50",),
    "ov-sum-prov-art53": ("Article 53",),
    "ov-sum-prov-art113": ("Article 113",),
    "ov-list-annex3": ("Annex III",),
    "ov-list-annex3-kinds": ("Annex III",),
    "ov-sum-prov-license-s1": ("Section 1",),
    "ov-sum-prov-license-s2": ("Section 2",),
    "ov-sum-prov-license-s5": ("Section 5",),
}
ACT = "eu-ai-act-2024-1689"
ARTICLE = "etcentric-meta-spotify-statement"


@cache
def overview() -> tuple[Question, ...]:
    questions = load_questions(REPO / "eval" / "questions.jsonl")
    return tuple(q for q in questions if q.kind == "overview")


@cache
def blocks(doc_id: str) -> tuple[Block, ...]:
    manifest = tomllib.loads((INDEX / "sources.toml").read_text(encoding="utf-8"))
    doc = next(d for d in manifest["document"] if d["doc_id"] == doc_id)
    return tuple(load_blocks(INDEX / doc["file"], doc["format"]))


def flat(text: str) -> str:
    """Case, spacing and the ways of writing one figure aside: "EUR 35 000 000", "35,000,000"
    and "35 million" are one number, "7 %" and "7%" one share. Other words must be verbatim."""
    text = re.sub(r"\s+", " ", text.casefold())
    text = re.sub(r"(?<=\d)[ ,](?=\d{3}(?!\d))", "", text)
    text = re.sub(r"(\d+(?:\.\d+)?) million", lambda m: str(round(float(m[1]) * 1e6)), text)
    return re.sub(r"(?<=\d) %", "%", text)


def in_provision(locator: str, names: tuple[str, ...]) -> bool:
    # "Section 1" holds "Section 1.b.i" but not "Section 10"; "Article 5" holds "Article 5(1)".
    return any(locator == n or locator.startswith((f"{n}(", f"{n}.", f"{n},")) for n in names)


def texts(q: Question) -> tuple[str, str]:
    """(the text of the documents asked about, the text of the provision asked about)"""
    whole = [b.text for d in q.sources for b in blocks(d)]
    names = PROVISIONS.get(q.id)
    part = [b.text for d in q.sources for b in blocks(d)
            if names and in_provision(b.locator, names)]
    return flat("\n".join(whole)), flat("\n".join(part))


def test_flat_reads_one_figure_written_three_ways() -> None:
    assert flat("EUR 35 000 000 or 7 % of") == "eur 35000000 or 7% of"
    assert flat("35,000,000") == flat("35 million") == "35000000"
    assert flat("7.5 million") == flat("7 500 000")


def test_enough_overview_questions_of_every_type_in_both_splits() -> None:
    qs = overview()
    assert len(qs) >= 34
    assert all(q.id.startswith(TYPES) and q.answerable for q in qs)
    for split in ("tune", "holdout"):
        part = [q for q in qs if q.split == split]
        assert len(part) >= 16
        for prefix in TYPES:
            assert any(q.id.startswith(prefix) for q in part), (split, prefix)
    assert sum(q.id.startswith("ov-two-") for q in qs) >= 4


def test_overview_questions_name_known_documents_and_provisions() -> None:
    manifest = tomllib.loads((INDEX / "sources.toml").read_text(encoding="utf-8"))
    known = {d["doc_id"] for d in manifest["document"]}
    for q in overview():
        assert q.sources and set(q.sources) <= known, q.id
        assert 3 <= len(q.must_include) <= 8, q.id
        if ACT in q.sources:
            assert q.id in PROVISIONS, f"{q.id}: say which provision of the act it asks about"
    assert set(PROVISIONS) <= {q.id for q in overview()}


@pytest.mark.parametrize("q", overview(), ids=lambda q: q.id)
def test_every_key_point_is_in_the_document_asked_about(q: Question) -> None:
    whole, part = texts(q)
    for group in q.must_include:
        missing = [s for s in group if flat(s) not in whole]
        assert not missing, f"{q.id}: not in {', '.join(q.sources)}: {missing}"
        if q.id in PROVISIONS:
            assert any(flat(s) in part for s in group), (
                f"{q.id}: no string of {group} in {', '.join(PROVISIONS[q.id])}")


# ---- the overview section of a run's summary and reports ---------------------------------------


def _records() -> list[dict[str, Any]]:
    fact: dict[str, Any] = {
        "id": "fact-ek", "kind": "fact", "split": "holdout", "answerable": True,
        "answer": "Daniel Ek [1].", "abstained": False, "abstain_reason": "", "quoted": False,
        "citations": [{"n": 1, "doc_id": ARTICLE, "text": "Spotify CEO Daniel Ek"}],
        "retrieved": [{"doc_id": ARTICLE}], "timings": {"total_ms": 2000.0}, "drafts": [],
    }
    fact.update(score(fact, [["Daniel Ek"]], [ARTICLE]))
    ov: dict[str, Any] = {
        **fact, "id": "ov-sum-article-main", "kind": "overview", "mode": "summary",
        "answer": "The article:\n- Zuckerberg and Daniel Ek joined forces [1]\n- A pizza [1]",
        "citations": [{"n": 1, "doc_id": ACT, "text": "Zuckerberg and Daniel Ek joined forces"}],
        "timings": {"total_ms": 12_500.0},
    }
    groups = [["Zuckerberg"], ["Facebook"], ["privacy"], ["Daniel Ek"]]
    ov.update(score(ov, groups, [ARTICLE]))
    ov.update(score_overview(ov, groups, [ARTICLE]))
    return [fact, ov]


def test_a_model_summary_keeps_overview_questions_out_of_the_lookup_scores() -> None:
    fact, ov = _records()
    data = runner._model_summary({"model": "m"}, [fact, ov], {})
    assert data["overall"] == summarize([fact]) and data["overall"]["questions"] == 1
    assert data["by_split"] == {"holdout": summarize([fact])}
    assert set(data["by_kind"]) == {"fact", "overview"}
    assert data["overview"] == {"holdout": summarize_overview([ov])}
    assert data["overview"]["holdout"]["coverage"] == 0.5
    assert data["overview"]["holdout"]["article_other_doc_answers"] == 1


def test_reports_have_an_overview_table() -> None:
    records = _records()
    data = runner._model_summary(dict.fromkeys(
        ["model", "embedder", "chunking", "prompt_version", "corpus_hash"], "x"), records, {})
    summary = {"question_file": "q.jsonl", "questions": 2, "kinds": ["fact", "overview"],
               "created": "now", "models": {"m": data}}
    header, rows = overview_rows(summary)
    assert header == ["model · split", "coverage", "bullets supported", "citing another doc",
                      "about the article, citing another doc", "s/answer mean", "s/answer max",
                      "abstained", "modes"]
    assert rows == [["m · holdout (1 q)", "50.0%", "50.0% (1/2)", "1 of 1", "1 of 1", "12.5",
                     "12.5", "0 of 1", "summary 1"]]
    questions = [Question("fact-ek", "Who?", "Ek", [["Daniel Ek"]], [ARTICLE], True, "fact"),
                 Question("ov-sum-article-main", "Main points?", "...", [["Zuckerberg"]],
                          [ARTICLE], True, "overview")]
    md = render_markdown(summary, questions, {"m": records})
    assert "## Overview questions" in md
    assert "| m · holdout (1 q) | 50.0% | 50.0% (1/2) | 1 of 1 | 1 of 1 | 12.5 |" in md
    assert "(key points 50.0%, bullets supported 1/2)" in md
    page = render_html(summary, questions, {"m": records}, {})
    assert "<h2>Overview questions</h2>" in page and "<td class=n>50.0% (1/2)</td>" in page
    assert "overview questions:" in summary_table(summary)
    # A run without overview questions shows no such section.
    plain = {**summary, "models": {"m": {**data, "overview": {}}}}
    assert overview_rows(plain)[1] == []
    assert "Overview questions" not in render_markdown(plain, questions[:1], {"m": records[:1]})
