"""The vector store: Chroma, embedded (PersistentClient in the data directory) or a server.

Two Chroma collections per corpus collection: `<name>-chunks` holds passages and vectors;
`<name>-docs` holds one entry per document (sha256, version, metadata). A document is replaced by
writing its new chunks under a new version first, then pointing its entry at that version, then
deleting the old chunks: a process killed at any step leaves the previous version answering, and
the next ingest sweeps away whatever the kill left behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from assistant.embeddings import Embedder, get_embedder
from assistant.errors import StoreMismatch, StoreUnavailable
from assistant.ingest.chunking import Chunk
from assistant.settings import Settings
from assistant.store.damage import (
    SQLITE,
    as_store_error,
    damaged_store,
    forget_client,
    missing_database,
    quiet_stderr,
)

if TYPE_CHECKING:
    from assistant.retrieve.lexical import LexChunk

log = logging.getLogger(__name__)

FORMAT_VERSION = "1"
# The lexical index's file in an embedded store's folder.
LEXICAL = "lexical.sqlite3"

# Chroma's HNSW graph, the vector search at any corpus size. Vectors are unit length, so L2
# ranks as cosine does. ef_search (how many neighbours a search keeps in view) was chosen by
# recall against exact search over the eval's 316 questions (eval/EXPERIMENTS.md): on the
# shipped 922 chunks the default 100 gave recall@10 0.9905 (one question 0.7); the fusion
# scales each ranking by its 50th candidate, so the top 50 must be exact too: recall@50 is
# 0.9996 at 400 and 1.0 at 1000. At a million generated passages (`assistant bench
# --scale-chunks`) 1000 gave recall@10 0.899, 2000 0.946, 4000 0.968 (vector search p95 6.6 ->
# 12.1 ms), 8000 0.984 (28.5 ms): 4000, above the 0.95 the scale targets ask for.
# The graph itself keeps Chroma's defaults (16 neighbours, construction breadth 100): at 922
# chunks 32 and 200 gave the same recall, and they double the build time and the graph's memory.
HNSW = {"space": "l2", "ef_construction": 100, "max_neighbors": 16}
EF_SEARCH = 4000


@dataclass(frozen=True)
class StoredChunk:
    chunk_id: str
    doc_id: str
    text: str
    embed_text: str
    metadata: dict[str, Any]
    vector: Any = None


@dataclass(frozen=True)
class DocRecord:
    doc_id: str
    version: str
    sha256: str
    chunks: int
    indexed_at: float
    meta: dict[str, str]
    # The version of the loading and chunking code that cut the chunks (code_version).
    ingest: str = ""


class Store:
    def __init__(
        self,
        collection: str,
        identity: dict[str, str],
        path: str | None = None,
        url: str | None = None,
        lexical: Path | None = None,
    ) -> None:
        """`lexical`: the lexical index's file; by default `lexical.sqlite3` in an embedded
        store's folder (a server store names one: open_store puts it in the data directory)."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        from assistant.retrieve.lexical import LexicalIndex

        self.where = url or str(path)
        self.local = not url
        self.identity = identity
        if lexical is None:
            if path is None:
                raise ValueError("a Chroma server store needs the path of its lexical index")
            lexical = Path(path) / LEXICAL
        self.lexical = LexicalIndex(lexical)
        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        try:
            if url:
                parsed = urlparse(url)
                self.client: Any = chromadb.HttpClient(
                    host=parsed.hostname or "127.0.0.1",
                    port=parsed.port or 8000,
                    ssl=parsed.scheme == "https",
                    settings=chroma_settings,
                )
                self.client.heartbeat()
            else:
                self.client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
            safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in collection)
            self.name = safe
            self._open_collections()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # the Rust bindings panic with a BaseException
            if self.local:
                forget_client(str(path))
            raise as_store_error(e, self.where, self.local) from e

    def probe(self) -> None:
        """Read a little of everything a question reads (counts, the document table, a stored
        vector, a vector query), so a damaged store is found when it is opened rather than
        halfway through the first answer."""
        self.count()
        self.docs.count()
        got = self._call(lambda: self.chunks.get(limit=1, include=["embeddings"]))
        vectors = got.get("embeddings")
        if vectors is not None and len(vectors):
            self._call(lambda: self.chunks.query(query_embeddings=[list(vectors[0])],
                                                 n_results=1, include=["distances"]))

    def _open_collections(self) -> None:
        self.chunks = self.client.get_or_create_collection(
            f"{self.name}-chunks", configuration={"hnsw": {**HNSW, "ef_search": EF_SEARCH}})
        self.docs = self.client.get_or_create_collection(f"{self.name}-docs")
        hnsw = (self.chunks.configuration or {}).get("hnsw") or {}
        if hnsw.get("ef_search") != EF_SEARCH:
            # A store made before the search breadth was chosen: set it (kept in the store).
            self.chunks.modify(configuration={"hnsw": {"ef_search": EF_SEARCH}})

    def _reattach(self) -> None:
        # Another Store object (a rebuild in the UI, another ingest) deleted and recreated the
        # collections: this handle's collection ids are gone, the names are not.
        self._open_collections()

    # -- identity: embedder and chunking a store was built with ---------------------------------

    def built_with(self) -> dict[str, str] | None:
        meta = self.chunks.metadata or {}
        raw = meta.get("identity")
        return json.loads(raw) if isinstance(raw, str) else None

    def check_identity(self) -> None:
        built = self.built_with()
        if built is None or self.count() == 0:
            return
        if built != self.identity:
            diffs = ", ".join(
                f"{k}: store has {built.get(k)!r}, settings want {v!r}"
                for k, v in self.identity.items()
                if built.get(k) != v
            )
            hint = (
                "run `assistant ingest` once: it re-embeds the stored passages with the new "
                "embedder and keeps every document"
                if self.embedder_changed()
                else "rebuild it with `assistant ingest --rebuild` (or restore the old settings)"
            )
            raise StoreMismatch(
                f"The store '{self.name}' at {self.where} was built differently ({diffs})", hint
            )

    def embedder_changed(self) -> str | None:
        """The embedder a non-empty store was built with, when only the embedder differs from
        this store's identity: its passages can be re-embedded where they are."""
        built = self.built_with()
        if built is None or built.get("embedder") == self.identity.get("embedder"):
            return None
        rest_same = all(built.get(k) == v for k, v in self.identity.items() if k != "embedder")
        return built.get("embedder") if rest_same and self.count() > 0 else None

    def stamp_identity(self) -> None:
        meta = {"identity": json.dumps(self.identity, sort_keys=True), "format": FORMAT_VERSION}
        self._call(lambda: self.chunks.modify(metadata=meta))

    # -- documents --------------------------------------------------------------------------------

    def doc_records(self) -> dict[str, DocRecord]:
        got = self._call(lambda: self.docs.get(include=["metadatas"]))
        out = {}
        for doc_id, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
            meta = dict(meta or {})
            out[doc_id] = DocRecord(
                doc_id=doc_id,
                version=str(meta.pop("_version", "")),
                sha256=str(meta.pop("_sha256", "")),
                chunks=int(meta.pop("_chunks", 0)),
                indexed_at=float(meta.pop("_indexed_at", 0.0)),
                ingest=str(meta.pop("_ingest", "")),
                meta={k: str(v) for k, v in meta.items()},
            )
        return out

    def corpus_hash(self, records: dict[str, DocRecord] | None = None) -> str:
        """What names the corpus's documents and versions (of `records`, read if not given)."""
        records = self.doc_records() if records is None else records
        pairs = sorted((r.doc_id, r.version) for r in records.values())
        return hashlib.sha256(json.dumps(pairs).encode()).hexdigest()[:16]

    def count(self) -> int:
        return int(self._call(lambda: self.chunks.count()))

    def put_document(
        self,
        doc_id: str,
        sha256: str,
        meta: dict[str, str],
        chunks: list[Chunk],
        embed_texts: list[str],
        vectors: list[list[float]],
        ingest: str = "",
        flags: list[str] | None = None,
    ) -> DocRecord:
        """Write a document's chunks as a new version, then switch to it, then drop the old.

        The version follows the file and the code that cut it (`ingest`), so re-cutting an
        unchanged file with new loader code also writes fresh chunks instead of overwriting."""
        version = sha256[:12] if not ingest else hashlib.sha256(
            f"{sha256}:{ingest}".encode()).hexdigest()[:12]
        old = self.doc_records().get(doc_id)
        ids = chunk_ids(doc_id, version, len(chunks))
        metadatas = [
            {
                "doc_id": doc_id,
                "version": version,
                "locator": c.locator,
                "heading": c.heading,
                "lead": c.lead,
                "start": c.start,
                "end": c.end,
                "embed_text": e,
                # What assistant/ingest/injection.py found in the chunk ("" for nothing).
                "injection": flags[i] if flags else "",
            }
            for i, (c, e) in enumerate(zip(chunks, embed_texts, strict=True))
        ]
        for start in range(0, len(ids), 2000):
            end = start + 2000
            self._call(
                lambda s=start, e=end: self.chunks.upsert(  # type: ignore[misc]
                    ids=ids[s:e],
                    documents=[c.text for c in chunks[s:e]],
                    embeddings=vectors[s:e],
                    metadatas=metadatas[s:e],
                )
            )
        record_meta: dict[str, Any] = {
            **{k: v for k, v in meta.items() if v},
            "_version": version,
            "_sha256": sha256,
            "_ingest": ingest,
            "_chunks": len(chunks),
            "_indexed_at": time.time(),
        }
        self._call(
            lambda: self.docs.upsert(ids=[doc_id], embeddings=[[0.0]], metadatas=[record_meta])
        )
        self.lexical.replace_document(doc_id, version, [
            lex_chunk(cid, c.text, e, c.start, c.locator, c.heading)
            for cid, c, e in zip(ids, chunks, embed_texts, strict=True)])
        if old and old.version != version:
            self._call(lambda: self.chunks.delete(where={"$and": [
                {"doc_id": doc_id}, {"version": old.version}]}))
        return self.doc_records()[doc_id]

    def remove_document(self, doc_id: str) -> bool:
        if doc_id not in self.doc_records():
            return False
        self._call(lambda: self.docs.delete(ids=[doc_id]))
        self.lexical.remove_document(doc_id)
        self._call(lambda: self.chunks.delete(where={"doc_id": doc_id}))
        return True

    def sync_lexical(self, records: dict[str, DocRecord] | None = None) -> int:
        """Bring the lexical index to the documents and versions the store holds (`records`,
        read if not given): what another process (an ingest, a replica importing a page) or a
        store built before the index changed is read again, one document at a time. Returns how
        many were read."""
        records = self.doc_records() if records is None else records
        have = self.lexical.versions()
        for doc_id in have.keys() - records.keys():
            self.lexical.remove_document(doc_id)
        moved = [r for r in records.values() if have.get(r.doc_id) != r.version]
        self.lexical.add_documents(
            (r.doc_id, r.version, [
                lex_chunk(c.chunk_id, c.text, c.embed_text, int(c.metadata.get("start", 0)),
                          str(c.metadata.get("locator", "")), str(c.metadata.get("heading", "")))
                for c in self.doc_chunks(r.doc_id, r.version)])
            for r in moved)
        return len(moved)

    def sweep_orphans(self) -> int:
        """Delete chunks no document entry points at (left by an interrupted ingest).

        Every write adds its chunks before it switches the document entry and drops the old
        version after, so a store holding no more chunks than its entries count has none to
        sweep: that is known from the counts alone, without reading every chunk's metadata."""
        records = self.doc_records().values()
        if self.count() <= sum(r.chunks for r in records):
            return 0
        current = {(r.doc_id, r.version) for r in records}
        got = self._call(lambda: self.chunks.get(include=["metadatas"]))
        stale = [
            cid for cid, m in zip(got["ids"], got["metadatas"] or [], strict=False)
            if (str((m or {}).get("doc_id")), str((m or {}).get("version"))) not in current
        ]
        for start in range(0, len(stale), 2000):
            self._call(lambda s=start: self.chunks.delete(ids=stale[s : s + 2000]))  # type: ignore[misc]
        return len(stale)

    def embed_texts(self) -> list[tuple[str, str]]:
        """(chunk id, the text its vector was made from) of every stored chunk."""
        got = self._call(lambda: self.chunks.get(include=["metadatas"]))
        return [(cid, str((m or {}).get("embed_text", "")))
                for cid, m in zip(got["ids"], got["metadatas"] or [], strict=False)]

    def replace_vectors(self, ids: list[str], vectors: list[list[float]]) -> None:
        for start in range(0, len(ids), 2000):
            end = start + 2000
            self._call(lambda s=start, e=end: self.chunks.update(  # type: ignore[misc]
                ids=ids[s:e], embeddings=vectors[s:e]))

    def reset(self) -> None:
        for name in (f"{self.name}-chunks", f"{self.name}-docs"):
            try:
                self.client.delete_collection(name)
            except Exception:  # absent already: nothing to reset
                log.debug("collection %s absent", name)
        self.lexical.clear()
        self._open_collections()

    # -- reading ------------------------------------------------------------------------------

    def all_chunks(self, with_vectors: bool = False) -> list[StoredChunk]:
        current = {r.doc_id: r.version for r in self.doc_records().values()}
        include = ["documents", "metadatas", *(["embeddings"] if with_vectors else [])]
        got = self._call(lambda: self.chunks.get(include=include))
        out = [c for c in _stored(got, with_vectors)
               if current.get(c.doc_id) == c.metadata.get("version")]
        out.sort(key=lambda c: c.chunk_id)
        return out

    def vector_search(self, vector: Any, n: int, docs: Collection[str] = ()
                      ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) best first, through Chroma's HNSW index; `docs` limits
        the search to those documents (the filter runs inside the search, not after it).
        Vectors are unit length, so Chroma's squared L2 distance d gives cosine = 1 - d / 2."""
        where = _in("doc_id", docs)
        got = self._call(lambda: self.chunks.query(
            query_embeddings=[list(map(float, vector))], n_results=n, where=where,
            include=["distances"]))
        return [
            (cid, 1.0 - float(d) / 2.0)
            for cid, d in zip(got["ids"][0], got["distances"][0], strict=False)
        ]

    def chunks_by_id(self, ids: Sequence[str], with_vectors: bool = False) -> list[StoredChunk]:
        """The stored chunks of `ids`, in that order (an id not stored is left out)."""
        if not ids:
            return []
        include = ["documents", "metadatas", *(["embeddings"] if with_vectors else [])]
        got = self._call(lambda: self.chunks.get(ids=list(ids), include=include))
        return _sorted_as(_stored(got, with_vectors), ids)

    def vectors(self, ids: Sequence[str]) -> tuple[list[str], Any]:
        """The stored vectors of `ids` (those stored), as ids and a float32 matrix."""
        import numpy as np

        if not ids:  # Chroma reads an empty id list as no filter at all
            return [], np.zeros((0, 0), dtype=np.float32)
        got = self._call(lambda: self.chunks.get(ids=list(ids), include=["embeddings"]))
        found = list(got["ids"])
        vectors = got.get("embeddings")
        if not found or vectors is None:
            return [], np.zeros((0, 0), dtype=np.float32)
        return found, np.asarray(vectors, dtype=np.float32)

    def doc_chunks(self, doc_id: str, version: str, with_vectors: bool = False
                   ) -> list[StoredChunk]:
        """One version of a document's chunks, in chunk id order."""
        include = ["documents", "metadatas", *(["embeddings"] if with_vectors else [])]
        got = self._call(lambda: self.chunks.get(
            where={"$and": [{"doc_id": doc_id}, {"version": version}]}, include=include))
        return sorted(_stored(got, with_vectors), key=lambda c: c.chunk_id)

    def _call(self, fn: Any) -> Any:
        try:
            return fn()
        except (StoreMismatch, StoreUnavailable, KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # the Rust bindings panic with a BaseException
            if type(e).__name__ == "NotFoundError" or "does not exist" in str(e):
                try:
                    self._reattach()
                    return fn()
                except Exception as again:
                    raise as_store_error(again, self.where, self.local) from again
            raise as_store_error(e, self.where, self.local) from e


def chunk_ids(doc_id: str, version: str, n: int) -> list[str]:
    """The ids of a document version's `n` chunks, in document order."""
    return [f"{doc_id}@{version}:{i:05d}" for i in range(n)]


def doc_of(chunk_id: str) -> str:
    """The document a chunk id names (`<doc id>@<version>:<n>`, see put_document)."""
    return chunk_id.rpartition("@")[0]


def version_of(chunk_id: str) -> str:
    return chunk_id.rpartition("@")[2].partition(":")[0]


def lex_chunk(chunk_id: str, text: str, embed_text: str, start: int, locator: str,
              heading: str) -> LexChunk:
    """A chunk as the lexical index takes it: the words its vector was made from."""
    from assistant.retrieve.lexical import LexChunk
    from assistant.retrieve.text import tokens

    return LexChunk(chunk_id, tokens(embed_text or text) or ["_"], start, locator, heading)


def _in(key: str, values: Collection[str]) -> dict[str, Any] | None:
    """A Chroma `where` holding `key` to `values` (None: no filter)."""
    values = sorted(set(values))
    if not values:
        return None
    return {key: values[0]} if len(values) == 1 else {key: {"$in": values}}


def _stored(got: Any, with_vectors: bool) -> list[StoredChunk]:
    vectors = got.get("embeddings") if with_vectors else None
    out = []
    for i, (cid, text, meta) in enumerate(
        zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=False)
    ):
        meta = dict(meta or {})
        # Kept as a numpy row: 10k chunks as Python float lists made GC pauses of ~100 ms.
        vector = vectors[i] if vectors is not None else None
        out.append(StoredChunk(cid, str(meta.get("doc_id", "")), text or "",
                               str(meta.pop("embed_text", "")), meta, vector))
    return out


def _sorted_as(chunks: list[StoredChunk], ids: Sequence[str]) -> list[StoredChunk]:
    at = {cid: i for i, cid in enumerate(ids)}
    return sorted((c for c in chunks if c.chunk_id in at), key=lambda c: at[c.chunk_id])


def store_identity(settings: Settings, embedder: Embedder) -> dict[str, str]:
    return {
        "embedder": embedder.identity,
        "chunking": f"sentences/{settings.chunk_tokens}t/overlap{settings.chunk_overlap_tokens}t",
    }


def open_store(settings: Settings, embedder: Embedder | None = None, check: bool = True) -> Store:
    """The store of `settings`, checked: a damaged embedded store raises StoreDamaged (see
    damaged_store) with the command that recovers, and no Rust noise on the terminal."""
    embedder = embedder or get_embedder(settings.embedder)
    url = settings.resolved_chroma_url()
    identity = store_identity(settings, embedder)
    if url:
        # Each process that reaches a server keeps its own lexical index of the server's
        # corpus, in its data directory, and catches up from the server when the corpus
        # hash moves (Store.sync_lexical): replicas share Chroma, not a file.
        host = urlparse(url)
        lexical = settings.data_dir / "lexical" / (
            f"{host.hostname}-{host.port or 8000}-{settings.collection}.sqlite3")
        store = Store(settings.collection, identity, url=url, lexical=lexical)
    else:
        where = settings.store_dir
        if missing_database(where):
            raise damaged_store(str(where), f"{SQLITE} is missing")
        where.mkdir(parents=True, exist_ok=True)
        # The env is read when Chroma's Rust side starts; a short panic note is all it adds.
        os.environ.setdefault("RUST_BACKTRACE", "0")
        with quiet_stderr():
            store = Store(settings.collection, identity, path=str(where))
            store.probe()
    if check:
        store.check_identity()
    return store
