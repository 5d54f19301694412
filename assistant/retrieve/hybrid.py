"""Hybrid retrieval: BM25 and vector search, fused, diversified per document.

Both searches run in the store's indexes on disk: vectors through Chroma's HNSW graph, words
through the lexical index beside it (assistant/retrieve/lexical.py). A process keeps only a
per-document table and the chunks that name provisions, so its start and its memory do not
grow with the corpus; the table is re-read when the store's corpus hash changes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from assistant.embeddings import Embedder
from assistant.retrieve import units
from assistant.retrieve.fusion import Scored, diversify, fuse
from assistant.retrieve.references import Ref, covers, parse_refs, span
from assistant.retrieve.text import tokens
from assistant.retrieve.units import Unit
from assistant.settings import Settings
from assistant.store.chroma import (
    DocRecord,
    Store,
    StoredChunk,
    chunk_ids,
    doc_of,
    version_of,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Passage:
    chunk_id: str
    doc_id: str
    title: str
    url: str
    publisher: str
    date: str
    locator: str
    heading: str
    text: str
    score: float
    similarity: float
    start: int = 0
    end: int = 0
    # What ingest found in the passage that gives the assistant orders ("" for nothing).
    injection: str = ""
    # The opening line of the list the passage continues (assistant/ingest/chunking.py).
    lead: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Every field, to be read back with Passage(**d) (the eval's frozen retrieval)."""
        return asdict(self)

    def to_json(self) -> dict[str, Any]:
        """The one public shape of a passage: in an answer record's citations, retrieved and
        pointed passages (CLI --json, the API, the UI's records, the eval's answers)."""
        return {
            "chunk_id": self.chunk_id, "doc_id": self.doc_id, "title": self.title,
            "url": self.url, "publisher": self.publisher, "date": self.date,
            "locator": self.locator, "text": self.text, "score": self.score,
            "similarity": self.similarity, "injection": self.injection,
        }


@dataclass
class Retrieval:
    query: str
    passages: list[Passage]
    best_similarity: float
    ms: float = 0.0
    candidates: dict[str, list[str]] = field(default_factory=dict)
    # The doc ids the search was limited to; empty when it searched the whole corpus.
    scope: list[str] = field(default_factory=list)
    # The document or provision the question named, which set the scope (None: it named none).
    unit: Unit | None = None


@dataclass
class _Index:
    """What a process keeps of the corpus between questions: per document, never per chunk,
    except the chunks whose locator names a provision. The passages, their vectors and their
    words stay in the store's indexes on disk (Chroma's HNSW graph, the lexical index)."""

    corpus_hash: str
    doc_meta: dict[str, dict[str, str]]
    # The version of each document that answers: a hit of another version (an ingest writing
    # its new chunks, or killed before its sweep) is not a passage of the corpus.
    versions: dict[str, str]
    # When each document was indexed (the last imported lead article is "the article").
    added: dict[str, float] = field(default_factory=dict)
    # The provisions each chunk's locator spans, for questions that name one, in chunk order.
    spans: dict[str, tuple[Ref, Ref]] = field(default_factory=dict)
    headings: dict[str, str] = field(default_factory=dict)

    # How many passages each document has (its version's chunks).
    counts: dict[str, int] = field(default_factory=dict)

    def current(self, hits: list[tuple[str, float]]) -> list[tuple[str, float]]:
        return [(cid, v) for cid, v in hits if self.versions.get(doc_of(cid)) == version_of(cid)]


class HybridRetriever:
    def __init__(self, store: Store, embedder: Embedder, settings: Settings) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self._index: _Index | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    # How often to ask the store whether another process changed the corpus. Asking on every
    # query put a Chroma read (and its occasional compaction stall) on the hot path.
    recheck_s = 5.0

    def _current(self) -> _Index:
        now = time.monotonic()
        with self._lock:
            if self._index is not None and now - self._checked < self.recheck_s:
                return self._index
        records = self.store.doc_records()
        corpus_hash = self.store.corpus_hash(records)
        with self._lock:
            if self._index is None or self._index.corpus_hash != corpus_hash:
                self._index = self._build(corpus_hash, records)
            self._checked = now
            return self._index

    @property
    def corpus_hash(self) -> str:
        """The hash of the corpus the in-memory index was built from (what answers searched)."""
        return self._current().corpus_hash

    def invalidate(self) -> None:
        with self._lock:
            self._index = None

    def _build(self, corpus_hash: str, by_id: dict[str, DocRecord]) -> _Index:
        started = time.perf_counter()
        # Another process (an ingest, a replica's import) may have changed the corpus: the
        # lexical index catches up with the documents whose version moved.
        synced = self.store.sync_lexical(by_id)
        records = by_id.values()
        spans, headings = {}, {}
        for row in self.store.lexical.located():
            bounds = span(row.locator)
            if bounds:
                spans[row.chunk_id] = bounds
                headings[row.chunk_id] = row.heading
        log.info("index of %d documents opened in %.0f ms (%d re-read)", len(records),
                 (time.perf_counter() - started) * 1000, synced)
        return _Index(
            corpus_hash, {r.doc_id: r.meta for r in records},
            {r.doc_id: r.version for r in records}, {r.doc_id: r.indexed_at for r in records},
            dict(sorted(spans.items())), headings, {r.doc_id: r.chunks for r in records},
        )

    def doc_meta(self) -> dict[str, dict[str, str]]:
        """Each indexed document's metadata (title, url, lead, aliases, ...)."""
        return self._current().doc_meta

    def unit(self, question: str, scope: Collection[str] = ()) -> Unit | None:
        """The document or provision the question is about (retrieve/units.py), if it names
        one; within a chosen `scope`, that scope."""
        index = self._current()

        def holding(ref: Ref) -> set[str]:
            return {doc_of(cid) for cid, b in index.spans.items() if covers(b, ref)}

        def heading_of(doc_id: str, ref: Ref) -> str:
            for cid, b in index.spans.items():
                if doc_of(cid) == doc_id and covers(b, ref):
                    return index.headings.get(cid, "")
            return ""

        return units.resolve(question, index.doc_meta, index.added, holding, heading_of,
                             tuple(sorted(scope)))

    def passage(self, chunk_id: str) -> Passage | None:
        """One passage of the corpus by its chunk id (None: not a chunk of the corpus now)."""
        index = self._current()
        if not index.current([(chunk_id, 0.0)]):
            return None
        found = self.store.chunks_by_id([chunk_id])
        return self._passage(index, found[0], 0.0, 0.0) if found else None

    def unit_passages(self, unit: Unit, query: str) -> list[Passage]:
        """Every passage of the unit in document order (its documents in the unit's order),
        each with its similarity to `query`."""
        index = self._current()
        chunks = []
        for doc_id in unit.docs:
            if doc_id in index.versions:
                chunks += self.store.doc_chunks(doc_id, index.versions[doc_id], with_vectors=True)
        if unit.refs:
            chunks = [c for c in chunks if c.chunk_id in index.spans
                      and any(covers(index.spans[c.chunk_id], r) for r in unit.refs)]
        rank = {d: i for i, d in enumerate(unit.docs)}
        chunks.sort(key=lambda c: (rank[c.doc_id], int(c.metadata.get("start", 0))))
        if not chunks:
            return []
        sims = _similarities(chunks, self.embedder.embed_query(query))
        return [self._passage(index, c, 0.0, v) for c, v in zip(chunks, sims, strict=True)]

    # A scope of at most this many passages is searched exactly, by their ids: Chroma's
    # filtered HNSW search took 0.76 s (p95) for one document of a 100k-passage store.
    exact_scope = 5000

    def vector_search(self, index: _Index, qvec: list[float], n: int,
                      docs: Collection[str] = ()) -> list[tuple[str, float]]:
        """The `n` chunks nearest `qvec`: by Chroma's HNSW search, filtered to `docs` inside
        it; a small scope exactly, over its passages' stored vectors."""
        sized = [d for d in docs if d in index.versions]
        if docs and sum(index.counts.get(d, 0) for d in sized) <= self.exact_scope:
            ids = [cid for d in sorted(sized)
                   for cid in chunk_ids(d, index.versions[d], index.counts.get(d, 0))]
            found, matrix = self.store.vectors(ids)
            if not found:
                return []
            at = {cid: i for i, cid in enumerate(found)}
            order = [cid for cid in ids if cid in at]  # document order breaks ties
            sims = _product(matrix[[at[c] for c in order]], qvec)
            top = np.argsort(-sims, kind="stable")[:n]
            return [(order[i], float(sims[i])) for i in top]
        return index.current(self.store.vector_search(qvec, n, docs))

    def reference_search(self, index: _Index, query: str, qvec: list[float],
                         docs: Collection[str] = ()) -> list[tuple[str, float]]:
        """Chunks whose locator holds a provision the query names, most similar first."""
        refs = parse_refs(query)
        if not refs:
            return []
        hits = [cid for cid, bounds in index.spans.items()
                if any(covers(bounds, ref) for ref in refs)
                and (not docs or doc_of(cid) in docs)]
        chunks = self.store.chunks_by_id(hits, with_vectors=True)
        if not chunks:
            return []
        sims = _similarities(chunks, qvec)
        return [(chunks[i].chunk_id, float(sims[i])) for i in np.argsort(-sims, kind="stable")]

    def bm25_search(self, index: _Index, query: str, n: int, docs: Collection[str] = ()
                    ) -> list[tuple[str, float]]:
        """The `n` best chunks by BM25 over the store's lexical index (only `docs` if given)."""
        q = tokens(query)
        if not q:
            return []
        return index.current(self.store.lexical.search(q, n, docs))

    def rankings(
        self, index: _Index, query: str, qvec: list[float], hybrid: bool, weight: float = 1.0,
        docs: Collection[str] = (),
    ) -> tuple[list[tuple[Scored, float]], list[tuple[str, float]], list[str]]:
        """The weighted, scored rankings fused for one query: vectors, and in hybrid mode BM25
        and the provisions it names. Also the vector hits with their similarity, and the BM25
        ids. `docs` limits every ranking to those documents."""
        s = self.settings.retrieval
        vec_hits = self.vector_search(index, qvec, s.candidates, docs)
        ranked: list[tuple[Scored, float]] = [(vec_hits, weight)]
        bm25_ids: list[str] = []
        if hybrid:
            bm25_hits = self.bm25_search(index, query, s.candidates, docs)
            bm25_ids = [cid for cid, _ in bm25_hits]
            ranked.append((bm25_hits, s.bm25_weight * weight))
            if s.reference_weight > 0:
                ranked.append((self.reference_search(index, query, qvec, docs),
                               s.reference_weight * weight))
        return ranked, vec_hits, bm25_ids

    def retrieve(
        self, query: str, top_k: int | None = None, hybrid: bool | None = None, focus: str = "",
        docs: Collection[str] = (),
    ) -> Retrieval:
        """Search `query`. `focus`, when given, is searched too, at `followup_weight`: a
        follow-up's own words ("What about supplying misleading information?") beside a query
        that also holds the question it follows, so the earlier question's words do not drown
        what is asked now; or, for a question that stands on its own, the conversation so far.
        `docs`, when given, limits the search to those documents: other documents' chunks never
        enter any ranking (vectors, BM25, references), so they cannot compete, and the relevance
        floor is judged on the scoped chunks alone."""
        started = time.perf_counter()
        s = self.settings.retrieval
        top_k = top_k or s.top_k
        hybrid = s.hybrid if hybrid is None else hybrid
        index = self._current()
        scope = sorted(set(docs))
        if not index.versions or (scope and not index.versions.keys() & set(scope)):
            return Retrieval(query, [], -1.0, 0.0, scope=scope)
        qvec = self.embedder.embed_query(query)
        rankings, vec_hits, bm25_ids = self.rankings(index, query, qvec, hybrid, 1.0, scope)
        similarity = dict(vec_hits)
        if focus.strip() and s.followup_weight > 0:
            own = self.embedder.embed_query(focus)
            rankings += self.rankings(index, focus, own, hybrid, s.followup_weight, scope)[0]
        fused = fuse(rankings, s.fusion, k=s.rrf_k)
        picked = diversify(fused, {cid: doc_of(cid) for cid, _ in fused}, top_k, s.max_per_doc)
        missing = [cid for cid, _ in picked if cid not in similarity]
        chunks = self.store.chunks_by_id([cid for cid, _ in picked], with_vectors=bool(missing))
        if missing:
            sims = _similarities(chunks, qvec)
            similarity.update({c.chunk_id: float(v) for c, v in zip(chunks, sims, strict=True)
                               if c.chunk_id not in similarity})
        by_id = {c.chunk_id: c for c in chunks}
        passages = [self._passage(index, by_id[cid], score, similarity[cid])
                    for cid, score in picked if cid in by_id]
        best = max((sim for _, sim in vec_hits), default=-1.0)
        return Retrieval(
            query=query,
            passages=passages,
            best_similarity=best,
            ms=(time.perf_counter() - started) * 1000,
            candidates={"vector": [c for c, _ in vec_hits], "bm25": bm25_ids},
            scope=scope,
        )

    def _passage(self, index: _Index, c: StoredChunk, score: float, sim: float) -> Passage:
        meta = index.doc_meta.get(c.doc_id, {})
        return Passage(
            chunk_id=c.chunk_id,
            doc_id=c.doc_id,
            title=meta.get("title", c.doc_id),
            url=meta.get("url", ""),
            publisher=meta.get("publisher", ""),
            date=meta.get("date", ""),
            locator=str(c.metadata.get("locator", "")),
            heading=str(c.metadata.get("heading", "")),
            text=c.text,
            score=round(score, 6),
            similarity=round(sim, 4),
            start=int(c.metadata.get("start", 0)),
            end=int(c.metadata.get("end", 0)),
            injection=str(c.metadata.get("injection", "")),
            lead=str(c.metadata.get("lead", "")),
        )


def _similarities(chunks: list[StoredChunk], qvec: Any) -> Any:
    """Cosine similarity of each chunk's stored (unit length) vector to `qvec`."""
    return _product(np.stack([c.vector for c in chunks]).astype(np.float32), qvec)


def _product(matrix: Any, qvec: Any) -> Any:
    from threadpoolctl import threadpool_limits

    # One BLAS thread: a multi-threaded OpenBLAS product beside the embedder's threads made
    # retrieval several times slower on 2 cores (measured by bench).
    with threadpool_limits(1, user_api="blas"):
        return matrix @ np.asarray(qvec, dtype=np.float32)
