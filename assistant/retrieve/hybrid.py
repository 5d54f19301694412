"""Hybrid retrieval: BM25 and vector search, fused by reciprocal rank, diversified per document.

BM25 and the chunk table stay in memory and are rebuilt only when the store's corpus changes.
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
from assistant.store.chroma import Store, StoredChunk

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
    corpus_hash: str
    chunks: dict[str, StoredChunk]
    order: list[str]
    bm25: Any
    doc_meta: dict[str, dict[str, str]]
    matrix: Any = None
    # The provisions each chunk's locator spans, for questions that name one.
    spans: dict[str, tuple[Ref, Ref]] = field(default_factory=dict)
    # When each document was indexed (the last imported lead article is "the article").
    added: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.position = {cid: i for i, cid in enumerate(self.order)}

    def mask(self, docs: Collection[str]) -> Any:
        """Row mask of the chunks of `docs` (None: no scope, every row)."""
        if not docs:
            return None
        return np.array([self.chunks[cid].doc_id in docs for cid in self.order], dtype=bool)


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
        corpus_hash = self.store.corpus_hash()
        with self._lock:
            if self._index is None or self._index.corpus_hash != corpus_hash:
                self._index = self._build(corpus_hash)
            self._checked = now
            return self._index

    @property
    def corpus_hash(self) -> str:
        """The hash of the corpus the in-memory index was built from (what answers searched)."""
        return self._current().corpus_hash

    def invalidate(self) -> None:
        with self._lock:
            self._index = None

    def _build(self, corpus_hash: str) -> _Index:
        import bm25s

        # bm25s sets its own logger to DEBUG on import; keep it quiet like the rest.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        started = time.perf_counter()
        chunks = self.store.all_chunks(with_vectors=True)
        order = [c.chunk_id for c in chunks]
        # Exact search over vectors held in memory: Chroma's approximate (HNSW) search was seen
        # to miss the true nearest chunk of the short article; at 10k chunks a matrix product
        # takes a few milliseconds.
        matrix = np.stack([c.vector for c in chunks]).astype(np.float32) if chunks else None
        bm25 = None
        if chunks:
            bm25 = bm25s.BM25()
            bm25.index(
                [tokens(c.embed_text or c.text) or ["_"] for c in chunks], show_progress=False
            )
        records = self.store.doc_records().values()
        doc_meta = {r.doc_id: r.meta for r in records}
        log.info(
            "BM25 over %d chunks built in %.0f ms",
            len(chunks),
            (time.perf_counter() - started) * 1000,
        )
        spans = {}
        for c in chunks:
            bounds = span(str(c.metadata.get("locator", "")))
            if bounds:
                spans[c.chunk_id] = bounds
        return _Index(
            corpus_hash, {c.chunk_id: c for c in chunks}, order, bm25, doc_meta, matrix, spans,
            {r.doc_id: r.indexed_at for r in records},
        )

    def doc_meta(self) -> dict[str, dict[str, str]]:
        """Each indexed document's metadata (title, url, lead, aliases, ...)."""
        return self._current().doc_meta

    def unit(self, question: str, scope: Collection[str] = ()) -> Unit | None:
        """The document or provision the question is about (retrieve/units.py), if it names
        one; within a chosen `scope`, that scope."""
        index = self._current()

        def holding(ref: Ref) -> set[str]:
            return {index.chunks[cid].doc_id for cid, b in index.spans.items() if covers(b, ref)}

        def heading_of(doc_id: str, ref: Ref) -> str:
            for cid in index.order:
                b = index.spans.get(cid)
                if b and index.chunks[cid].doc_id == doc_id and covers(b, ref):
                    return str(index.chunks[cid].metadata.get("heading", ""))
            return ""

        return units.resolve(question, index.doc_meta, index.added, holding, heading_of,
                             tuple(sorted(scope)))

    def unit_passages(self, unit: Unit, query: str) -> list[Passage]:
        """Every passage of the unit in document order (its documents in the unit's order),
        each with its similarity to `query`."""
        index = self._current()
        rank = {d: i for i, d in enumerate(unit.docs)}
        ids = [cid for cid in index.order if index.chunks[cid].doc_id in rank
               and (not unit.refs or (cid in index.spans
                                      and any(covers(index.spans[cid], r) for r in unit.refs)))]
        ids.sort(key=lambda c: (rank[index.chunks[c].doc_id],
                                int(index.chunks[c].metadata.get("start", 0))))
        if not ids:
            return []
        qvec = np.asarray(self.embedder.embed_query(query), dtype=np.float32)
        sims = index.matrix[[index.position[c] for c in ids]] @ qvec
        return [self._passage(index, c, 0.0, float(v)) for c, v in zip(ids, sims, strict=True)]

    def vector_search(self, index: _Index, qvec: list[float], n: int, mask: Any = None
                      ) -> list[tuple[str, float]]:
        if index.matrix is None:
            return []
        from threadpoolctl import threadpool_limits

        # One BLAS thread: a multi-threaded OpenBLAS product beside the embedder's threads made
        # p95 retrieval at 10k chunks 110 ms instead of 18 ms on 2 cores (measured by bench).
        with threadpool_limits(1, user_api="blas"):
            sims = index.matrix @ np.asarray(qvec, dtype=np.float32)
        if mask is not None:
            # Out-of-scope rows can never rank: below any cosine similarity.
            sims = np.where(mask, sims, -np.inf)
            n = min(n, int(mask.sum()))
            if n == 0:
                return []
        n = min(n, len(sims))
        top = np.argpartition(-sims, n - 1)[:n]
        top = top[np.argsort(-sims[top])]
        return [(index.order[i], float(sims[i])) for i in top]

    def reference_search(self, index: _Index, query: str, qvec: list[float],
                         docs: Collection[str] = ()) -> list[tuple[str, float]]:
        """Chunks whose locator holds a provision the query names, most similar first."""
        refs = parse_refs(query)
        if not refs or index.matrix is None:
            return []
        hits = [cid for cid, bounds in index.spans.items()
                if any(covers(bounds, ref) for ref in refs)
                and (not docs or index.chunks[cid].doc_id in docs)]
        if not hits:
            return []
        rows = [index.position[cid] for cid in hits]
        sims = index.matrix[rows] @ np.asarray(qvec, dtype=np.float32)
        return [(hits[i], float(sims[i])) for i in np.argsort(-sims, kind="stable")]

    def bm25_search(self, index: _Index, query: str, n: int, mask: Any = None
                    ) -> list[tuple[str, float]]:
        q = tokens(query)
        if not q or index.bm25 is None:
            return []
        k = min(n, len(index.order) if mask is None else int(mask.sum()))
        if k == 0:
            return []
        # weight_mask zeroes the scores of out-of-scope chunks; the `s > 0` below drops them.
        ids, scores = index.bm25.retrieve([q], k=k, show_progress=False,
                                          weight_mask=None if mask is None
                                          else mask.astype(np.float32))
        return [(index.order[i], float(s)) for i, s in zip(ids[0], scores[0], strict=True)
                if s > 0]

    def rankings(
        self, index: _Index, query: str, qvec: list[float], hybrid: bool, weight: float = 1.0,
        docs: Collection[str] = (), mask: Any = None,
    ) -> tuple[list[tuple[Scored, float]], list[tuple[str, float]], list[str]]:
        """The weighted, scored rankings fused for one query: vectors, and in hybrid mode BM25
        and the provisions it names. Also the vector hits with their similarity, and the BM25
        ids. `docs` (with its row `mask`) limits every ranking to those documents."""
        s = self.settings.retrieval
        vec_hits = self.vector_search(index, qvec, s.candidates, mask)
        ranked: list[tuple[Scored, float]] = [(vec_hits, weight)]
        bm25_ids: list[str] = []
        if hybrid:
            bm25_hits = self.bm25_search(index, query, s.candidates, mask)
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
        mask = index.mask(scope)
        if not index.chunks or (mask is not None and not mask.any()):
            return Retrieval(query, [], -1.0, 0.0, scope=scope)
        qvec = self.embedder.embed_query(query)
        rankings, vec_hits, bm25_ids = self.rankings(index, query, qvec, hybrid, 1.0, scope, mask)
        similarity = dict(vec_hits)
        if focus.strip() and s.followup_weight > 0:
            own = self.embedder.embed_query(focus)
            rankings += self.rankings(index, focus, own, hybrid, s.followup_weight, scope,
                                      mask)[0]
        fused = fuse(rankings, s.fusion, k=s.rrf_k)
        doc_of = {cid: index.chunks[cid].doc_id for cid, _ in fused}
        picked = diversify(fused, doc_of, top_k, s.max_per_doc)
        missing = [cid for cid, _ in picked if cid not in similarity]
        if missing:
            rows = [index.position[c] for c in missing]
            sims = index.matrix[rows] @ np.asarray(qvec, dtype=np.float32)
            similarity.update({c: float(v) for c, v in zip(missing, sims, strict=True)})
        passages = [self._passage(index, cid, score, similarity[cid]) for cid, score in picked]
        best = max((sim for _, sim in vec_hits), default=-1.0)
        return Retrieval(
            query=query,
            passages=passages,
            best_similarity=best,
            ms=(time.perf_counter() - started) * 1000,
            candidates={"vector": [c for c, _ in vec_hits], "bm25": bm25_ids},
            scope=scope,
        )

    def _passage(self, index: _Index, cid: str, score: float, sim: float) -> Passage:
        c = index.chunks[cid]
        meta = index.doc_meta.get(c.doc_id, {})
        return Passage(
            chunk_id=cid,
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
