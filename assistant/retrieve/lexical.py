"""The BM25 index on disk: postings, chunk lengths and corpus statistics in one SQLite file.

It owns what keyword search needs and nothing else (chunk ids, their document, start, locator
and heading; no text), so a process opens it without reading the corpus, a document is indexed
or removed on its own, and several processes share it (WAL, short transactions, busy timeout).

Scores are bm25s's "lucene" BM25 (k1=1.5, b=0.75), bit for bit on the same tokens: the fusion
scales score values, not only ranks. bm25s (0.3) computes, per chunk d of length |d| and term t
with frequency tf, idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)) as float32 and
tf / (k1 * ((1 - b) + b * |d| / avg|d|) + tf) in float64, stores the product as float32, and
adds one such value per query token (a repeated token counts twice) into a float32 array. Here N,
df and avg|d| count live chunks only, exactly as a fresh bm25s over the remaining chunks would.

Layout. Every chunk has a row id, allocated in order (reused only after clear()); a document's
chunks take consecutive rows, so a scope is a few ranges. A write (one document, or a bulk batch)
adds a segment: a row per (segment, term) holding two blobs, the term's sorted int32 row ids and
their tfs (uint8, or uint16 when a tf passes 255), and the segment's row ids and lengths. Keyed by
segment first, a segment's postings are contiguous in the file, so writing, merging or dropping
one touches few pages; a query looks its terms up in each segment and scores them with numpy.
Removing or replacing a document tombstones its rows; merges rewrite segments without their dead
rows, so a term has few blobs and tombstones stay few. The counters (N, total length, next row,
generation) sit in `meta`, changed in the same transaction as the rows they count; each process
caches the per-row arrays until the generation moves.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from array import array
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import StoreDamaged, StoreMismatch, StoreUnavailable

FORMAT = "1"
K1, B = 1.5, 0.75
# Another process's write transaction is waited for this long before giving up.
BUSY_S = 30.0
# More segments than this and the smallest ones of one size class are merged.
MAX_SEGMENTS = 8
# Size classes for merging: below LEVEL_ROWS rows, then each MERGE_FACTOR times larger. Merging
# only segments of one class bounds what a merge rewrites to about the size it produces.
LEVEL_ROWS, MERGE_FACTOR = 1000, 8
# Writes of one document merge at most this many rows (well under a second at 10^6 chunks on 2
# cores); bigger merges wait for a bulk add_documents or compact(). A merge rewrites rows at
# about the bulk build's rate (2 * 10^4 chunks/s), so merging 10^6 rows would stall a write.
AUTO_MERGE_ROWS = 20_000
# A bulk build writes a segment every this many chunks: it bounds the builder's memory (about
# 100 bytes a token) and the length of one write transaction.
BULK_ROWS = 200_000
_SQL_VARS = 900
# Terms a merge reads at a time.
MERGE_TERMS = 20_000
REBUILD_HINT = "delete it and run `assistant ingest --rebuild` to index your documents again"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS docs (
    doc_id TEXT PRIMARY KEY, version TEXT NOT NULL, first_row INTEGER NOT NULL,
    n_rows INTEGER NOT NULL, total_len INTEGER NOT NULL, seg INTEGER);
CREATE TABLE IF NOT EXISTS chunks (
    row INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE, doc_id TEXT NOT NULL,
    start INTEGER NOT NULL, locator TEXT NOT NULL, heading TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS segments (
    seg INTEGER PRIMARY KEY, rows BLOB NOT NULL, lens BLOB NOT NULL,
    n_live INTEGER NOT NULL, n_dead INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead (seg INTEGER NOT NULL, first_row INTEGER NOT NULL,
    n_rows INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS postings (
    seg INTEGER NOT NULL, term TEXT NOT NULL, rows BLOB NOT NULL, tfs BLOB NOT NULL,
    PRIMARY KEY (seg, term)) WITHOUT ROWID;
"""
_COUNTERS = ("generation", "next_row", "next_seg", "n_rows", "total_len")


@dataclass(frozen=True)
class LexChunk:
    chunk_id: str
    tokens: Sequence[str]
    start: int = 0
    locator: str = ""
    heading: str = ""


@dataclass(frozen=True)
class LexRow:
    chunk_id: str
    doc_id: str
    start: int
    locator: str
    heading: str


@dataclass(frozen=True)
class _Postings:
    """Postings of many terms in whole arrays, terms sorted and each term's rows sorted:
    terms[i] has rows[bounds[i]:bounds[i + 1]], with their tfs at the same places."""

    terms: list[str]
    bounds: np.ndarray
    rows: np.ndarray
    tfs: np.ndarray

    @classmethod
    def of(cls, words: list[str], key: np.ndarray, space: int, tfs: np.ndarray) -> _Postings:
        """From sorted keys rank * space + row, a word's rank its place in sorted `words`."""
        rank = key // space
        bounds = np.append(_starts(rank), len(rank))
        return cls([words[t] for t in rank[bounds[:-1]].tolist()], bounds,
                   (key - rank * space).astype(np.int32), tfs)

    def records(self, seg: int, base: int = 0) -> Iterator[tuple[int, str, bytes, bytes]]:
        """Rows of the postings table for segment `seg`, row ids shifted by `base`."""
        b = self.bounds.tolist()
        # Sliced from whole buffers: numpy calls per term were most of a bulk write.
        rows = (self.rows + np.int32(base)).astype(np.int32).tobytes()
        narrow = self.tfs.astype(np.uint8).tobytes()
        wide = self.tfs.astype(np.uint16).tobytes()
        is_wide = (np.maximum.reduceat(self.tfs, b[:-1]) > 255).tolist() if self.terms else []
        for i, term in enumerate(self.terms):
            yield (seg, term, rows[4 * b[i] : 4 * b[i + 1]],
                   wide[2 * b[i] : 2 * b[i + 1]] if is_wide[i] else narrow[b[i] : b[i + 1]])


class _Vocab(dict[str, int]):
    def __missing__(self, term: str) -> int:
        self[term] = n = len(self)
        return n

    def ranked(self) -> tuple[list[str], np.ndarray]:
        """The words sorted, and each id's place among them. Postings go in in the words'
        order, the table's: 10^5 terms inserted at random places in its b-tree were slow."""
        words = list(self)
        alphabetical = sorted(range(len(words)), key=words.__getitem__)
        rank = np.empty(len(words), dtype=np.int64)
        rank[alphabetical] = np.arange(len(words))
        return [words[i] for i in alphabetical], rank


def _build(token_lists: Sequence[Sequence[str]]) -> tuple[_Postings, np.ndarray]:
    """The postings of a batch of chunks, rows numbered from 0, and the chunks' lengths."""
    vocab = _Vocab()
    ids = array("i")
    for toks in token_lists:
        ids.extend(map(vocab.__getitem__, toks))
    words, rank = vocab.ranked()
    n = max(len(token_lists), 1)
    lens = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
    # One sort of (term, row) keys: the length of a run of one key is its tf.
    key = rank[np.frombuffer(ids, dtype=np.int32)] * n
    key += np.repeat(np.arange(len(token_lists), dtype=np.int64), lens)
    key.sort()
    firsts = _starts(key)
    tfs = np.diff(firsts, append=len(key))
    return _Postings.of(words, key[firsts], n, tfs), lens.astype(np.int32)


def _starts(a: np.ndarray) -> np.ndarray:
    """Where each run of equal values in sorted `a` starts."""
    change = np.ones(len(a), dtype=bool)
    change[1:] = a[1:] != a[:-1]
    return np.flatnonzero(change)


def _tfs(blob: bytes, n: int) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.uint8 if len(blob) == n else np.uint16)


def _merged(found: list[tuple[str, bytes, bytes]], dead: np.ndarray) -> _Postings:
    """Blobs (term, rows, tfs) of several segments as one blob a term, without the `dead`
    rows."""
    vocab = _Vocab()
    blob_term = np.fromiter((vocab[t] for t, _, _ in found), dtype=np.int64, count=len(found))
    words, rank = vocab.ranked()
    counts = np.fromiter((len(r) // 4 for _, r, _ in found), dtype=np.int64, count=len(found))
    rows = np.frombuffer(b"".join(r for _, r, _ in found), dtype=np.int32)
    if all(len(t) == n for (_, _, t), n in zip(found, counts.tolist(), strict=True)):
        tfs = np.frombuffer(b"".join(t for _, _, t in found), dtype=np.uint8)
    else:
        tfs = np.concatenate([_tfs(t, len(r) // 4).astype(np.uint16) for _, r, t in found])
    live = ~dead[rows]
    key = np.repeat(rank[blob_term], counts)[live] * len(dead) + rows[live]
    order = np.argsort(key)
    return _Postings.of(words, key[order], len(dead), tfs[live][order])


def _level(rows: int) -> int:
    return 0 if rows < LEVEL_ROWS else 1 + int(math.log(rows / LEVEL_ROWS, MERGE_FACTOR))


def pick_merge(segments: Sequence[tuple[int, int, int]], limit: int | None = None) -> list[int]:
    """The segments to merge next, from (seg, live rows, dead rows): one that is mostly dead, on
    its own (its tombstones cost every query that reads it); else, when there are too many, the
    smallest ones of the smallest size class that has two. Nothing when nothing is due, or
    when what is due would rewrite more than `limit` rows (a segment with nothing live left is
    dropped, not rewritten)."""
    def fits(rows: int) -> bool:
        return limit is None or rows <= limit

    for seg, live, dead in segments:
        if dead > live and (not live or fits(live + dead)):
            return [seg]
    if len(segments) <= MAX_SEGMENTS:
        return []
    levels: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for seg, live, dead in sorted(segments, key=lambda s: s[1] + s[2]):
        levels[_level(live + dead)].append((seg, live + dead))
    for _, group in sorted(levels.items()):
        picked, total = [], 0
        for seg, rows in group:
            if not fits(total + rows):
                break
            picked.append(seg)
            total += rows
        if len(picked) > 1:
            return picked
    return []


@dataclass(frozen=True)
class _State:
    """What a search needs per row, for one generation of the index."""

    generation: int
    n: int
    segments: dict[int, tuple[np.ndarray, np.ndarray]]  # seg -> (rows, lengths)
    # k1 * ((1 - b) + b * |d| / avg|d|) per row, the part of the tf component fixed per chunk.
    norm: np.ndarray
    dead: np.ndarray | None  # True for tombstoned rows; None when there are none
    dead_rows: np.ndarray
    dead_in: dict[int, np.ndarray]  # seg -> its tombstoned rows, sorted

    def contributions(self, blobs: list[tuple[int, bytes, bytes]]
                      ) -> list[tuple[np.ndarray, np.ndarray]]:
        """(rows, float32 score) of one term from its blobs (seg, rows, tfs): bm25s's idf
        times tf component, computed as bm25s does, in float64 (in place: at 10^6 rows a
        common term has as many postings)."""
        df = 0
        for seg, blob, _ in blobs:
            df += len(blob) // 4
            gone = self.dead_in.get(seg)
            if gone is not None and self.dead is not None:
                ids = np.frombuffer(blob, np.int32)
                if len(gone) * 16 < len(ids):
                    # Few tombstones among many postings: look each up (both are sorted).
                    at = np.minimum(np.searchsorted(ids, gone), len(ids) - 1)
                    df -= int(np.count_nonzero(ids[at] == gone))
                else:
                    df -= int(np.count_nonzero(self.dead[ids]))
        if not df:
            return []
        idf = np.float32(math.log(1 + (self.n - df + 0.5) / (df + 0.5)))
        out = []
        for _, blob, tfs in blobs:
            ids = np.frombuffer(blob, np.int32)
            tf = _tfs(tfs, len(ids))
            x = self.norm[ids]
            x += tf
            np.divide(tf, x, out=x)
            x *= idf
            out.append((ids, x.astype(np.float32)))
        return out


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest positive scores, best first, equal scores by index."""
    hits = None
    if len(scores) > 256 * k:
        # A bound from every 64th score: the scores above it are few and hold the k best
        # whenever there are k of them. A full argpartition at 10^6 rows took 20 ms.
        sample = scores[::64]
        j = len(sample) - (k // 64 + 2)
        bound = np.partition(sample, j)[j]
        if bound > 0:
            hits = np.flatnonzero(scores >= bound)
            hits = hits if len(hits) >= k else None
    if hits is None:
        hits = np.flatnonzero(scores > 0)
    if len(hits) > k:
        hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
    return hits[np.lexsort((hits, -scores[hits]))]


def _translated(e: sqlite3.DatabaseError, path: Path) -> Exception | None:
    """The engine's error for an SQLite failure that has one (None: let it surface)."""
    code = getattr(e, "sqlite_errorcode", None)
    if code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
        return StoreDamaged(f"The lexical index at {path} is damaged ({e})", REBUILD_HINT)
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StoreUnavailable(
            f"The lexical index at {path} stayed locked by another process for {BUSY_S:.0f} s",
            "wait for the ingest that is writing it to finish, then try again")
    return None


class LexicalIndex:
    """One SQLite file. Safe to share between threads (a connection each) and processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()  # guards _conns and _state
        self._write_lock = threading.Lock()  # one writer per process; SQLite orders processes
        self._state: _State | None = None
        self._closed = False
        with self._errors():
            self._create()

    # -- connections and transactions -----------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise RuntimeError(f"the lexical index at {self.path} is closed")
            # check_same_thread=False only so close() can close every thread's connection;
            # each connection is used by the thread that opened it.
            conn = sqlite3.connect(self.path, timeout=BUSY_S, isolation_level=None,
                                   check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_S * 1000)}")
            conn.execute("PRAGMA synchronous = NORMAL")
            # A bulk write's WAL is truncated back to this once checkpointed.
            conn.execute("PRAGMA journal_size_limit = 67108864")
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as e:
            error = _translated(e, self.path)
            if error is None:
                raise
            raise error from e

    @contextmanager
    def _txn(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A transaction: reads in one see one snapshot; writes take the database's write lock
        at the start, so two writers wait in turn instead of failing halfway."""
        with self._errors():
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _create(self) -> None:
        conn = self._conn()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            # Larger pages: the blobs of common terms span fewer overflow pages.
            conn.execute("PRAGMA page_size = 16384")
            conn.execute("PRAGMA journal_mode = WAL")
        elif "meta" not in tables:
            raise StoreMismatch(f"{self.path} is an SQLite database but not a lexical index",
                                "point the lexical index at another file")
        with self._txn(write=True) as conn:
            # Statement by statement: executescript would commit the transaction first.
            for statement in _SCHEMA.split(";"):
                conn.execute(statement)
            conn.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)",
                             [("format", FORMAT), *((c, 0) for c in _COUNTERS)])
            found = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()[0]
        if found != FORMAT:
            raise StoreMismatch(
                f"The lexical index at {self.path} has format {found}, this code reads {FORMAT}",
                REBUILD_HINT)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for conn in self._conns:
                conn.close()
            self._conns.clear()
            self._state = None
        self._local = threading.local()

    def __enter__(self) -> LexicalIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _meta(conn: sqlite3.Connection) -> dict[str, Any]:
        return dict(conn.execute("SELECT key, value FROM meta").fetchall())

    # -- reading --------------------------------------------------------------------------------

    def count(self) -> int:
        """Chunks indexed (live ones)."""
        with self._txn() as conn:
            return int(self._meta(conn)["n_rows"])

    def versions(self) -> dict[str, str]:
        """doc_id -> the version indexed."""
        with self._txn() as conn:
            return dict(conn.execute("SELECT doc_id, version FROM docs").fetchall())

    def doc_ids(self, chunk_ids: Sequence[str]) -> dict[str, str]:
        """chunk_id -> doc_id, for the chunks that are indexed."""
        out: dict[str, str] = {}
        with self._txn() as conn:
            for i in range(0, len(chunk_ids), _SQL_VARS):
                part = list(chunk_ids[i : i + _SQL_VARS])
                out.update(conn.execute(
                    "SELECT chunk_id, doc_id FROM chunks WHERE chunk_id IN "
                    f"({','.join('?' * len(part))})", part).fetchall())
        return out

    def chunks_of(self, doc_ids: Collection[str]) -> list[LexRow]:
        """The chunks of `doc_ids`, by document id, each document's in order of start."""
        out: list[LexRow] = []
        with self._txn() as conn:
            for first, n in self._ranges(conn, doc_ids):
                out += [LexRow(*r) for r in conn.execute(
                    "SELECT chunk_id, doc_id, start, locator, heading FROM chunks "
                    "WHERE row >= ? AND row < ? ORDER BY start, row", (first, first + n))]
        return out

    def located(self) -> list[LexRow]:
        """Every chunk with a locator (the provisions a question can name), in row order."""
        with self._txn() as conn:
            return [LexRow(*r) for r in conn.execute(
                "SELECT chunk_id, doc_id, start, locator, heading FROM chunks "
                "WHERE locator != '' ORDER BY row")]

    @staticmethod
    def _ranges(conn: sqlite3.Connection, doc_ids: Collection[str]) -> list[tuple[int, int]]:
        ids = sorted(set(doc_ids))
        out: list[tuple[int, int]] = []
        for i in range(0, len(ids), _SQL_VARS):
            part = ids[i : i + _SQL_VARS]
            out += conn.execute(
                "SELECT first_row, n_rows FROM docs WHERE n_rows > 0 AND doc_id IN "
                f"({','.join('?' * len(part))}) ORDER BY doc_id", part).fetchall()
        return out

    def _current(self, conn: sqlite3.Connection) -> _State:
        """The per-row arrays for the snapshot `conn` reads, cached between generations."""
        meta = self._meta(conn)
        with self._lock:
            old = self._state
        if old is not None and old.generation == meta["generation"]:
            return old
        segments: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for (seg,) in conn.execute("SELECT seg FROM segments").fetchall():
            if old is not None and seg in old.segments:  # a segment's rows never change
                segments[seg] = old.segments[seg]
            else:
                rows, lens = conn.execute("SELECT rows, lens FROM segments WHERE seg = ?",
                                          (seg,)).fetchone()
                segments[seg] = (np.frombuffer(rows, np.int32), np.frombuffer(lens, np.int32))
        space = int(meta["next_row"])
        lens = np.zeros(space, dtype=np.int32)
        for rows, seg_lens in segments.values():
            lens[rows] = seg_lens
        n = int(meta["n_rows"])
        # An index of empty chunks has no postings: any average will do but 0.
        avg = int(meta["total_len"]) / n if meta["total_len"] else 1.0
        # The same operations in the same order as bm25s, so the same float64 values.
        norm = K1 * ((1 - B) + B * lens / avg)
        ranges: dict[int, list[np.ndarray]] = defaultdict(list)
        for seg, first, count in conn.execute("SELECT seg, first_row, n_rows FROM dead"):
            ranges[seg].append(np.arange(first, first + count))
        dead_in = {seg: np.sort(np.concatenate(r)) for seg, r in ranges.items()}
        dead_rows = np.concatenate(list(dead_in.values())) if dead_in else np.zeros(0, np.int64)
        dead = None
        if dead_in:
            dead = np.zeros(space, dtype=bool)
            dead[dead_rows] = True
        state = _State(int(meta["generation"]), n, segments, norm, dead, dead_rows, dead_in)
        with self._lock:
            if self._state is None or self._state.generation < state.generation:
                self._state = state
        return state

    def search(self, query_tokens: Sequence[str], k: int, docs: Collection[str] = ()
               ) -> list[tuple[str, float]]:
        """The k best chunks for `query_tokens` as (chunk_id, score), best first, score > 0
        only. `docs`, when given, limits the results to those documents' chunks; N, df and the
        average length stay the whole index's, as with bm25s's weight_mask."""
        if k <= 0 or not query_tokens:
            return []
        with self._txn() as conn:
            state = self._current(conn)
            if not state.n:
                return []
            found: dict[str, list[tuple[int, bytes, bytes]]] = defaultdict(list)
            terms, segs = list(dict.fromkeys(query_tokens)), list(state.segments)
            for term, seg, rows, tfs in conn.execute(
                    f"SELECT term, seg, rows, tfs FROM postings WHERE seg IN "
                    f"({','.join('?' * len(segs))}) AND term IN ({','.join('?' * len(terms))})",
                    [*segs, *terms]):
                found[term].append((seg, rows, tfs))
            if not found:
                return []
            scores = np.zeros(len(state.norm), dtype=np.float32)
            # One addition per query token, in the query's order: bm25s's float32 sums exactly.
            left = Counter(query_tokens)
            done: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
            for term in query_tokens:
                if term not in done:
                    done[term] = state.contributions(found.get(term, []))
                for r, v in done[term]:
                    scores[r] += v
                left[term] -= 1
                if not left[term]:
                    done[term] = []
            scores[state.dead_rows] = 0
            rows = None
            if docs:
                ranges = self._ranges(conn, docs)
                if not ranges:
                    return []
                rows = np.concatenate([np.arange(f, f + n) for f, n in ranges])
                scores = scores[rows]
            hits = _top(scores, k)
            best = (hits if rows is None else rows[hits]).tolist()
            ids = dict(conn.execute(
                f"SELECT row, chunk_id FROM chunks WHERE row IN ({','.join('?' * len(best))})",
                best).fetchall()) if best else {}
        return [(ids[r], float(s)) for r, s in zip(best, scores[hits].tolist(), strict=True)]

    # -- writing --------------------------------------------------------------------------------

    def replace_document(self, doc_id: str, version: str, chunks: Sequence[LexChunk]) -> None:
        """Index `doc_id` at `version` as `chunks`, in place of whatever version was indexed."""
        self._write([(doc_id, version, chunks)], AUTO_MERGE_ROWS)

    def add_documents(self, docs: Iterable[tuple[str, str, Sequence[LexChunk]]]) -> None:
        """Index many documents (each replacing its indexed version), a segment per BULK_ROWS
        chunks, then every merge that is due however large: the way to build a large index."""
        batch: list[tuple[str, str, Sequence[LexChunk]]] = []
        seen: set[str] = set()
        rows = 0
        for doc in docs:
            if doc[0] in seen or rows >= BULK_ROWS:
                self._write(batch, None)
                batch, seen, rows = [], set(), 0
            batch.append(doc)
            seen.add(doc[0])
            rows += len(doc[2])
        if batch:
            self._write(batch, None)

    def compact(self) -> None:
        """Every merge that is due, however large: what replace and remove put off (the end of
        an ingest is a good time)."""
        with self._write_lock:
            self._merge_some(None)

    def remove_document(self, doc_id: str) -> bool:
        """Drop `doc_id`'s chunks; False when it was not indexed."""
        with self._write_lock:
            with self._txn(write=True) as conn:
                found = self._tombstone(conn, doc_id)
                if found:
                    conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
            self._merge_some(AUTO_MERGE_ROWS)
        return found

    def clear(self) -> None:
        """Drop every document. Segment numbers keep counting: processes cache segments by
        number."""
        with self._write_lock, self._txn(write=True) as conn:
            for table in ("docs", "chunks", "segments", "dead", "postings"):
                conn.execute(f"DELETE FROM {table}")
            conn.executemany("UPDATE meta SET value = 0 WHERE key = ?",
                             [("n_rows",), ("total_len",), ("next_row",)])
            conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")

    def _tombstone(self, conn: sqlite3.Connection, doc_id: str) -> bool:
        old = conn.execute("SELECT first_row, n_rows, total_len, seg FROM docs WHERE doc_id = ?",
                           (doc_id,)).fetchone()
        if old is None:
            return False
        first, n, total, seg = old
        conn.execute("DELETE FROM docs WHERE doc_id = ?", (doc_id,))
        if n:
            conn.execute("INSERT INTO dead VALUES (?, ?, ?)", (seg, first, n))
            conn.execute("UPDATE segments SET n_live = n_live - ?, n_dead = n_dead + ? "
                         "WHERE seg = ?", (n, n, seg))
            conn.execute("DELETE FROM chunks WHERE row >= ? AND row < ?", (first, first + n))
            conn.executemany("UPDATE meta SET value = value - ? WHERE key = ?",
                             [(n, "n_rows"), (total, "total_len")])
        return True

    def _write(self, batch: list[tuple[str, str, Sequence[LexChunk]]], limit: int | None
               ) -> None:
        chunks = [c for _, _, cs in batch for c in cs]
        # Outside the transaction: the slow part.
        postings, lens = _build([c.tokens for c in chunks])
        with self._write_lock:
            with self._txn(write=True) as conn:
                meta = self._meta(conn)
                base, seg = int(meta["next_row"]), int(meta["next_seg"])
                for doc_id, _, _ in batch:
                    self._tombstone(conn, doc_id)
                first = base
                for doc_id, version, cs in batch:
                    total = int(lens[first - base : first - base + len(cs)].sum())
                    conn.execute("INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?)",
                                 (doc_id, version, first, len(cs), total,
                                  seg if chunks else None))
                    conn.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?)", (
                        (first + i, c.chunk_id, doc_id, c.start, c.locator, c.heading)
                        for i, c in enumerate(cs)))
                    first += len(cs)
                if chunks:
                    conn.executemany("INSERT INTO postings VALUES (?, ?, ?, ?)",
                                     postings.records(seg, base))
                    own = np.arange(base, first, dtype=np.int32)
                    conn.execute("INSERT INTO segments VALUES (?, ?, ?, ?, 0)",
                                 (seg, own.tobytes(), lens.tobytes(), len(own)))
                    conn.executemany("UPDATE meta SET value = value + ? WHERE key = ?", [
                        (len(chunks), "next_row"), (1, "next_seg"), (len(chunks), "n_rows"),
                        (int(lens.sum()), "total_len")])
                conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
            self._merge_some(limit)

    def _merge_some(self, limit: int | None) -> None:
        """Merge segments until pick_merge finds nothing, a transaction per merge, so readers
        and other writers get in between."""
        while True:
            with self._txn(write=True) as conn:
                segs = pick_merge(conn.execute(
                    "SELECT seg, n_live, n_dead FROM segments").fetchall(), limit)
                if not segs:
                    return
                self._merge(conn, segs)

    def _merge(self, conn: sqlite3.Connection, segs: list[int]) -> None:
        """Rewrite `segs` as one segment without their dead rows; drop it if nothing is left."""
        meta = self._meta(conn)
        new = int(meta["next_seg"])
        marks = ",".join("?" * len(segs))
        dead = np.zeros(int(meta["next_row"]), dtype=bool)
        for first, n in conn.execute(
                f"SELECT first_row, n_rows FROM dead WHERE seg IN ({marks})", segs):
            dead[first : first + n] = True
        pieces = conn.execute(f"SELECT rows, lens FROM segments WHERE seg IN ({marks})",
                              segs).fetchall()
        rows = np.concatenate([np.frombuffer(r, np.int32) for r, _ in pieces])
        lens = np.concatenate([np.frombuffer(x, np.int32) for _, x in pieces])
        order = np.argsort(rows, kind="stable")
        rows, lens = rows[order], lens[order]
        keep = ~dead[rows]
        rows, lens = rows[keep], lens[keep]

        conn.execute(f"DELETE FROM segments WHERE seg IN ({marks})", segs)
        conn.execute(f"DELETE FROM dead WHERE seg IN ({marks})", segs)
        if len(rows):
            terms = sorted({t for (t,) in conn.execute(
                f"SELECT term FROM postings WHERE seg IN ({marks})", segs)})
            # A range of terms at a time: memory stays small whatever the segments' size.
            for i in range(0, len(terms), MERGE_TERMS):
                found = conn.execute(
                    f"SELECT term, rows, tfs FROM postings WHERE seg IN ({marks}) "
                    "AND term >= ? AND term <= ?",
                    [*segs, terms[i], terms[min(i + MERGE_TERMS, len(terms)) - 1]]).fetchall()
                conn.executemany("INSERT INTO postings VALUES (?, ?, ?, ?)",
                                 _merged(found, dead).records(new))
            conn.execute("INSERT INTO segments VALUES (?, ?, ?, ?, 0)",
                         (new, rows.tobytes(), lens.tobytes(), len(rows)))
            conn.execute(f"UPDATE docs SET seg = ? WHERE seg IN ({marks})", [new, *segs])
        conn.execute(f"DELETE FROM postings WHERE seg IN ({marks})", segs)
        conn.executemany("UPDATE meta SET value = value + 1 WHERE key = ?",
                         [("next_seg",), ("generation",)])

