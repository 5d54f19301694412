"""The lexical index on disk scores exactly like bm25s, before and after documents change.

The chunks are the shipped corpus's, cut as ingest cuts them (the embedder's tokenizer counts,
no model runs) and tokenised as retrieval tokenises them; bm25s over the same tokens is the
reference.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import threading
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import StoreDamaged, StoreMismatch
from assistant.retrieve.lexical import LexChunk, LexicalIndex, pick_merge
from assistant.retrieve.text import tokens
from tests.helpers import REPO

Docs = dict[str, list[LexChunk]]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Docs:
    from assistant.corpus import load_manifest
    from assistant.embeddings import get_embedder
    from assistant.ingest.chunking import chunk_blocks
    from assistant.ingest.loaders import load_blocks
    from assistant.settings import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("unused"))
    count = get_embedder(settings.embedder).count_tokens
    docs: Docs = {}
    for s in load_manifest(settings.corpus_manifest).documents:
        assert s.path is not None
        chunks = chunk_blocks(s.doc_id, load_blocks(s.path, s.format), count,
                              settings.chunk_tokens, settings.chunk_overlap_tokens, s.title)
        docs[s.doc_id] = [LexChunk(c.chunk_id, tokens(c.embed_text(s.title)) or ["_"], c.start,
                                   c.locator, c.heading) for c in chunks]
    assert len(docs) == 6 and sum(map(len, docs.values())) > 500
    return docs


@pytest.fixture(scope="module")
def queries() -> list[list[str]]:
    lines = (REPO / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    out = [tokens(json.loads(line)["question"]) for line in lines if line.strip()]
    out = [q for q in out if q][:60]
    out.append(["ai", "system", "ai", "risk"])  # a repeated word counts twice in bm25s
    return out


def reference(docs: Docs, queries: list[list[str]], scope: Collection[str] = ()
              ) -> list[dict[str, float]]:
    """bm25s lucene over `docs`: each query's positive scores by chunk, out-of-scope ones
    masked."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    chunks = [(d, c) for d, cs in docs.items() for c in cs]
    bm25 = bm25s.BM25()
    bm25.index([c.tokens for _, c in chunks], show_progress=False)
    mask = (np.array([d in scope for d, _ in chunks], dtype=np.float32) if scope else None)
    out = []
    for q in queries:
        scores = bm25.get_scores(q, weight_mask=mask)
        out.append({chunks[i][1].chunk_id: float(scores[i]) for i in np.flatnonzero(scores > 0)})
    return out


def assert_same(index: LexicalIndex, docs: Docs, queries: list[list[str]],
                scope: Collection[str] = (), top: int = 50) -> None:
    for q, want in zip(queries, reference(docs, queries, scope), strict=True):
        got = index.search(q, 10**6, scope)
        assert {c for c, _ in got} == set(want), q
        for cid, score in got:
            assert score == pytest.approx(want[cid], abs=1e-4), (q, cid)
        # The top of the ranking is bm25s's, up to the order of equal scores.
        best = sorted(want.values(), reverse=True)[:top]
        assert [s for _, s in index.search(q, top, scope)] == pytest.approx(best, abs=1e-4)


def test_scores_equal_bm25s_on_the_shipped_corpus(tmp_path: Path, shipped: Docs,
                                                   queries: list[list[str]]) -> None:
    with LexicalIndex(tmp_path / "lex.sqlite3") as index:
        for doc_id, chunks in shipped.items():
            index.replace_document(doc_id, "v1", chunks)
        assert len(queries) > 30
        assert_same(index, shipped, queries)
        assert index.count() == sum(map(len, shipped.values()))
        assert index.versions() == dict.fromkeys(shipped, "v1")
        assert index.search(["no-such-word"], 10) == []


def test_after_replace_and_remove_scores_equal_a_fresh_bm25s(
        tmp_path: Path, shipped: Docs, queries: list[list[str]]) -> None:
    docs = dict(shipped)
    with LexicalIndex(tmp_path / "lex.sqlite3") as index:
        index.add_documents((d, "v1", cs) for d, cs in docs.items())  # one segment
        # A document removed from the middle of that segment leaves tombstones behind.
        assert index.remove_document("llama-3.1-community-license")
        assert not index.remove_document("llama-3.1-community-license")
        del docs["llama-3.1-community-license"]
        assert_same(index, docs, queries[:15])
        act = "eu-ai-act-2024-1689"
        docs[act] = [dataclasses.replace(c, chunk_id=f"{c.chunk_id}-v2", tokens=c.tokens[3:])
                     for c in docs[act][::2]]
        index.replace_document(act, "v2", docs[act])
        # A document replaced over and over: each version's segment goes once it is dead.
        short = "etcentric-meta-spotify-statement"
        for i in range(12):
            docs[short] = [dataclasses.replace(c, chunk_id=f"{c.chunk_id}-{i}",
                                               tokens=c.tokens[i:]) for c in shipped[short]]
            index.replace_document(short, f"v{i}", docs[short])
        assert_same(index, docs, queries)
        assert index.count() == sum(map(len, docs.values()))
        assert index.versions()[act] == "v2" and "llama-3.1-community-license" not in (
            index.versions())
        assert index.chunks_of(["llama-3.1-community-license"]) == []
        rows = index.chunks_of([act])
        assert [r.chunk_id for r in rows] == [c.chunk_id for c in docs[act]]
        assert [r.start for r in rows] == sorted(r.start for r in rows)
        some = [docs[act][0].chunk_id, docs[short][0].chunk_id, "gone"]
        assert index.doc_ids(some) == {some[0]: act, some[1]: short}
        assert {r.doc_id for r in index.located()} >= {act}
        index.clear()
        assert index.count() == 0 and index.search(queries[0], 10) == []


def test_merges_put_off_by_writes_are_done_by_compact(
        tmp_path: Path, shipped: Docs, queries: list[list[str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.retrieve import lexical

    monkeypatch.setattr(lexical, "AUTO_MERGE_ROWS", 0)
    act = shipped["eu-ai-act-2024-1689"]
    docs = {f"act-{i}": act[i::20] for i in range(20)}
    path = tmp_path / "lex.sqlite3"

    def segments() -> int:
        with sqlite3.connect(path) as conn:
            return int(conn.execute("SELECT count(*) FROM segments").fetchone()[0])

    with LexicalIndex(path) as index:
        for doc_id, chunks in docs.items():
            index.replace_document(doc_id, "v1", chunks)
        assert segments() == 20
        assert_same(index, docs, queries[:15])
        index.compact()
        assert segments() <= lexical.MAX_SEGMENTS
        assert_same(index, docs, queries[:15])
        index.remove_document("act-3")
        del docs["act-3"]
        index.compact()
        assert_same(index, docs, queries[:15])


def test_a_scoped_search_scores_like_bm25s_with_a_weight_mask(
        tmp_path: Path, shipped: Docs, queries: list[list[str]]) -> None:
    scope = {"llama-3.1-community-license", "llama-3.2-acceptable-use-policy"}
    with LexicalIndex(tmp_path / "lex.sqlite3") as index:
        index.add_documents((d, "v1", cs) for d, cs in shipped.items())
        assert_same(index, shipped, queries[:20], scope)
        owned = index.doc_ids([c for q in queries for c, _ in index.search(q, 50, scope)])
        assert owned and set(owned.values()) <= scope
        assert index.search(queries[0], 10, ["no-such-document"]) == []


def test_a_second_index_on_the_file_sees_writes_on_its_next_search(
        tmp_path: Path, shipped: Docs, queries: list[list[str]]) -> None:
    path = tmp_path / "lex.sqlite3"
    small = {d: cs for d, cs in shipped.items() if d != "eu-ai-act-2024-1689"}
    with LexicalIndex(path) as writer, LexicalIndex(path) as reader:
        writer.add_documents((d, "v1", cs) for d, cs in small.items())
        assert_same(reader, small, queries[:10])
        writer.remove_document("osi-osaid-1.0-rc1")
        del small["osi-osaid-1.0-rc1"]
        assert_same(reader, small, queries[:10])
        assert reader.versions() == dict.fromkeys(small, "v1")


def test_searches_from_threads_while_another_thread_writes(tmp_path: Path, shipped: Docs,
                                                           queries: list[list[str]]) -> None:
    with LexicalIndex(tmp_path / "lex.sqlite3") as index:
        index.replace_document("eu-ai-act-2024-1689", "v0", shipped["eu-ai-act-2024-1689"])
        errors: list[BaseException] = []

        def search() -> None:
            try:
                for q in queries[:20]:
                    assert all(s > 0 for _, s in index.search(q, 20))
            except BaseException as e:  # reported by the main thread
                errors.append(e)

        threads = [threading.Thread(target=search) for _ in range(3)]
        for t in threads:
            t.start()
        for i, (doc_id, chunks) in enumerate(shipped.items()):
            index.replace_document(doc_id, f"v{i}", chunks)
        for t in threads:
            t.join()
        assert not errors


def test_a_file_that_is_not_an_index_says_how_to_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "lex.sqlite3"
    path.write_bytes(b"not a database at all " * 200)
    with pytest.raises(StoreDamaged) as caught:
        LexicalIndex(path)
    assert str(path) in caught.value.message and "assistant ingest" in caught.value.hint
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreMismatch):
        LexicalIndex(other)


def test_merges_take_one_size_class_and_mostly_dead_segments_alone() -> None:
    assert pick_merge([(1, 10, 0)] * 8) == []
    assert pick_merge([(1, 5, 6), (2, 100, 0)]) == [1]
    small = [(i, 200, 0) for i in range(2, 9)]
    assert pick_merge([(1, 1_000_000, 0), (9, 5000, 0), *small]) == [s for s, _, _ in small]
    # A write of one document merges no more than `limit` rows; dropping a dead segment is free.
    assert pick_merge([(1, 1_000_000, 0), (9, 5000, 0), *small], 1000) == [2, 3, 4, 5, 6]
    big = [(i, 300_000, 0) for i in range(9)]
    assert pick_merge(big, 20_000) == [] and pick_merge(big) == list(range(9))
    assert pick_merge([(1, 100_000, 200_000)], 20_000) == []
    assert pick_merge([(1, 0, 300_000)], 20_000) == [1]


def test_the_top_rows_are_the_best_scores_whatever_their_spread() -> None:
    from assistant.retrieve.lexical import _top

    rng = np.random.default_rng(0)
    for share in (1.0, 0.5, 0.01, 0.0001, 0.0):
        scores = (rng.random(200_000) * (rng.random(200_000) < share)).astype(np.float32)
        scores[::5000] = np.float32(0.5)  # ties
        for k in (1, 50, 700):
            hits = np.flatnonzero(scores > 0)
            want = hits[np.lexsort((hits, -scores[hits]))][:k]
            got = _top(scores, k)
            assert np.array_equal(scores[got], scores[want]), (share, k)
            assert list(got) == sorted(got, key=lambda i: (-scores[i], i))


def test_random_writes_merges_and_compaction_keep_scores_exact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny merge thresholds, so merges with tombstones inside, bulk batches split in several
    segments and term ranges read in pieces all happen within a few hundred writes."""
    import random

    from assistant.retrieve import lexical

    for name, value in [("MAX_SEGMENTS", 3), ("LEVEL_ROWS", 5), ("MERGE_FACTOR", 2),
                        ("AUTO_MERGE_ROWS", 60), ("BULK_ROWS", 40), ("MERGE_TERMS", 7)]:
        monkeypatch.setattr(lexical, name, value)
    rnd = random.Random(7)
    words = [f"w{i}" for i in range(60)]

    def chunks(doc_id: str, step: int) -> list[LexChunk]:
        return [LexChunk(f"{doc_id}-{step}-{j}", [rnd.choice(words[: rnd.randint(3, 60)])
                                                   for _ in range(rnd.randint(1, 30))])
                for j in range(rnd.randint(0, 12))]

    docs: Docs = {}
    path = tmp_path / "lex.sqlite3"
    with LexicalIndex(path) as index, LexicalIndex(path) as other:
        for step in range(250):
            op, name = rnd.random(), f"d{rnd.randint(0, 25)}"
            if op < 0.45:
                docs[name] = chunks(name, step)
                index.replace_document(name, str(step), docs[name])
            elif op < 0.6:
                names = sorted({f"d{rnd.randint(0, 25)}" for _ in range(8)})
                batch = {d: chunks(d, step) for d in names}
                docs.update(batch)
                index.add_documents((d, str(step), cs) for d, cs in batch.items())
            elif op < 0.85:
                assert index.remove_document(name) == (name in docs)
                docs.pop(name, None)
            else:
                index.compact()
            reader = index if step % 2 else other
            assert reader.count() == sum(map(len, docs.values()))
            if step % 5 == 0 and any(docs.values()):
                q = [rnd.choice(words) for _ in range(rnd.randint(1, 6))]
                assert [dict(reader.search(q, 10**6))] == reference(docs, [q])
                scope = sorted(docs)[:2]
                assert [dict(reader.search(q, 10**6, scope))] == reference(docs, [q], scope)
