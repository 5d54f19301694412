"""Questions scoped to chosen documents: the real store of the small shipped documents, the real
MiniLM, and (in the CLI test) the real SmolLM2. Other documents' passages must not compete."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assistant.errors import BadQuestion
from assistant.eval.questions import parse_question
from tests.helpers import TEST_MODEL

ARTICLE = "etcentric-meta-spotify-statement"
LICENSE = "llama-3.1-community-license"
AUP_32 = "llama-3.2-acceptable-use-policy"
META_DOCS = {LICENSE, "llama-3.1-acceptable-use-policy", AUP_32}
# Unscoped, the article answers this (test_e2e_cli); scoped to the license it cannot.
WHO = "Which CEO joined Mark Zuckerberg in the joint statement on EU AI rules?"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from assistant.chat import ChatService
    from assistant.corpus import load_manifest
    from assistant.ingest.pipeline import ingest
    from assistant.settings import load_settings

    data_dir = tmp_path_factory.mktemp("scope")
    settings = load_settings(data_dir=data_dir, model=TEST_MODEL, top_k=4)
    docs = [d for d in load_manifest(settings.corpus_manifest).documents
            if d.doc_id != "eu-ai-act-2024-1689"]
    assert not ingest(settings, docs, progress=False).failed
    return ChatService(settings)


def test_unscoped_search_finds_the_article_first(small):
    # The premise of the scoped tests below: without a scope, the article wins.
    found = small.retrieve(WHO)
    assert found.passages[0].doc_id == ARTICLE
    assert found.scope == []


def test_a_scope_keeps_other_documents_out_of_both_rankings(small):
    found = small.retrieve(WHO, docs=[LICENSE])
    assert found.passages and {p.doc_id for p in found.passages} == {LICENSE}
    assert found.scope == [LICENSE]
    chunk_doc = {c.chunk_id: c.doc_id for c in small.store.all_chunks()}
    # Both sides of the hybrid search were limited, not just the fused result.
    assert found.candidates["vector"] and found.candidates["bm25"]
    for side in ("vector", "bm25"):
        assert {chunk_doc[c] for c in found.candidates[side]} == {LICENSE}, side
    # The relevance floor is judged on the scoped chunks: lower than the article's best.
    assert found.best_similarity < small.retrieve(WHO).best_similarity


def test_a_provision_named_outside_the_scope_is_not_pulled_in(small):
    # "Section 1.b.ii" is a locator in the license; scoped to the 3.2 policy it must not appear.
    query = "What does Section 1.b.ii say?"
    assert LICENSE in {p.doc_id for p in small.retrieve(query).passages}
    found = small.retrieve(query, docs=[AUP_32])
    assert {p.doc_id for p in found.passages} == {AUP_32}


def test_a_publisher_scope_is_all_of_its_documents(small):
    assert small.scope(publishers=["meta platforms, inc."]) == sorted(META_DOCS)
    assert small.scope([ARTICLE], ["Meta Platforms, Inc."]) == sorted({ARTICLE, *META_DOCS})
    found = small.retrieve(WHO, docs=small.scope(publishers=["Meta Platforms, Inc."]))
    assert {p.doc_id for p in found.passages} <= META_DOCS


def test_unknown_doc_or_publisher_lists_the_valid_ones(small):
    with pytest.raises(BadQuestion) as e:
        small.scope(["etcentric"])
    assert "No document 'etcentric'" in e.value.message
    assert ARTICLE in e.value.hint and LICENSE in e.value.hint
    with pytest.raises(BadQuestion) as e:
        small.scope(publishers=["The Economist"])
    assert "Meta Platforms, Inc." in e.value.hint
    assert small.scope(["", " "]) == []


def test_a_scoped_question_whose_documents_do_not_say_it_abstains(small):
    # No passage of the 3.2 policy names Zuckerberg: the usual check decides, before the model.
    result = small.ask(WHO, docs=[AUP_32])
    assert result.abstained
    assert result.abstain_check in ("no_relevant_passages", "names_unmentioned")
    assert result.drafts[0]["text"] is None  # decided before generation, as unscoped
    assert result.scope == [AUP_32]
    record = result.to_json()
    assert record["scope"] == [AUP_32]
    assert {r["doc_id"] for r in record["retrieved"]} == {AUP_32}
    assert record["citations"] == []


def test_an_eval_question_may_carry_a_scope(small, tmp_path: Path):
    from assistant.eval.answering import FrozenRetrieval, freeze

    line = {"id": "fact-x", "question": WHO, "expected_answer": "Daniel Ek",
            "must_include": [["Ek"]], "sources": [ARTICLE], "answerable": True, "kind": "fact"}
    assert parse_question(line).docs == []
    q = parse_question({**line, "docs": [LICENSE]})
    assert q.docs == [LICENSE]
    with pytest.raises(ValueError, match="'docs' must be a list of doc ids"):
        parse_question({**line, "docs": LICENSE})
    frozen = freeze(small, q, "key", tmp_path / "q.jsonl")
    assert frozen.scope == [LICENSE]
    assert {p.doc_id for p in frozen.passages} == {LICENSE}
    # Saved and read back (the runner resumes from this file) with the scope.
    assert FrozenRetrieval.from_json(json.loads(json.dumps(frozen.to_json()))).scope == [LICENSE]


@pytest.mark.slow
def test_cli_ask_doc_scopes_the_answer_and_refuses_unknown_ids(small):
    data_dir = str(small.settings.data_dir)
    base = [sys.executable, "-m", "assistant.cli", "ask", "--data-dir", data_dir,
            "--model", TEST_MODEL]
    run = subprocess.run([*base, WHO, "--json", "--doc", LICENSE, "--doc", ARTICLE],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["scope"] == sorted([ARTICLE, LICENSE])
    assert {r["doc_id"] for r in out["retrieved"]} <= {ARTICLE, LICENSE}
    assert {c["doc_id"] for c in out["citations"]} <= {ARTICLE, LICENSE}

    bad = subprocess.run([*base, WHO, "--doc", "no-such-doc"], capture_output=True, text=True,
                         timeout=600)
    assert bad.returncode == 2
    assert "No document 'no-such-doc' in the index" in bad.stderr
    assert f"valid doc ids: {ARTICLE}" in bad.stderr
