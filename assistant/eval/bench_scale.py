"""`assistant bench --scale-chunks N [N ...]`: retrieval over a generated corpus of N passages.

Embedding a million passages on two cores takes about a day, so the vectors are derived from
real ones, and the report says so (`scale_vectors`): a pool of POOL windows of the shipped text
is embedded for real; each generated passage mixes two pool windows (its words drawn from both,
three parts to one) and its vector is the same mix of their vectors plus Gaussian noise, made
unit length. Its words and its vector are about the same thing, as a real passage's are.

Each size is written into its own store through the same `Store.put_document` an ingest uses
(Chroma's HNSW graph and the lexical index both updated), then a new process opens it and
searches: the time from its start to its first retrieval done, its RSS then, and retrieval
p50/p95 over the eval's questions, unscoped and scoped to one document. Vector recall@10 is
HNSW's top ten against exact search over the generated vectors, for the same questions.

The same store is then served by `chroma run` (server mode, `scale_<n>_server_*`) and probed
again by a new process, as a replica would be: Chroma's graph then lives in the server, whose RSS
is reported beside the replica's. The replica's lexical index is a copy of the embedded one (what
its first catch-up from the server would write), so its start is not the catch-up's.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant.corpus import load_manifest
from assistant.eval.metrics import percentile
from assistant.ingest.loaders import load_blocks
from assistant.offline import apply_offline_env
from assistant.settings import Settings

POOL = 2048
WORDS = 40
PER_DOC = 1000
NOISE = 0.35  # norm of the noise added to a unit vector: cosine to the mix about 0.94
VECTORS = (f"derived: {POOL} real windows of the shipped text embedded; each passage mixes two "
           f"(3:1) with Gaussian noise of norm {NOISE}, unit length")


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _pool(settings: Settings, rng: random.Random) -> list[list[str]]:
    words: list[str] = []
    for src in load_manifest(settings.corpus_manifest).documents:
        assert src.path is not None
        words += " ".join(b.text for b in load_blocks(src.path, src.format)).split()
    starts = [rng.randrange(0, len(words) - WORDS) for _ in range(POOL)]
    return [words[s : s + WORDS] for s in starts]


def generate(settings: Settings, n: int, pool: list[list[str]], vectors: np.ndarray,
             rng: np.random.Generator) -> tuple[dict[str, Any], np.ndarray]:
    """Write `n` generated passages into `settings`' store; returns the ingest figures and the
    generated vectors (for exact search)."""
    from assistant.embeddings import get_embedder
    from assistant.ingest.chunking import Chunk
    from assistant.store.chroma import open_store

    store = open_store(settings, get_embedder(settings.embedder), check=False)
    store.stamp_identity()
    dim = vectors.shape[1]
    out = np.empty((n, dim), dtype=np.float32)
    t = time.perf_counter()
    for d in range(n // PER_DOC):
        a = rng.integers(0, POOL, PER_DOC)
        b = rng.integers(0, POOL, PER_DOC)
        mixed = 0.75 * vectors[a] + 0.25 * vectors[b]
        mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
        noise = rng.normal(size=mixed.shape).astype(np.float32)
        noise *= NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
        v = mixed + noise
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out[d * PER_DOC : (d + 1) * PER_DOC] = v
        texts = []
        for i, j in zip(a, b, strict=True):
            take = rng.random(WORDS) < 0.75
            texts.append(" ".join(x if k else y
                                  for x, y, k in zip(pool[i], pool[j], take, strict=True)))
        chunks = [Chunk(f"gen-{d}", f"gen-{d}:{i}", t_, "", "", 0, 0)
                  for i, t_ in enumerate(texts)]
        store.put_document(f"gen-{d}", f"{d:064d}", {"title": f"generated {d}"}, chunks, texts,
                           v.tolist())
        if d and d % 50 == 0:
            say(f"  {(d + 1) * PER_DOC:,} passages, {time.perf_counter() - t:.0f} s")
    seconds = time.perf_counter() - t
    return {"ingest_passages_per_s": round(n / seconds, 1), "ingest_s": round(seconds, 1)}, out


def recall_at_10(settings: Settings, matrix: np.ndarray, queries: np.ndarray) -> float:
    from assistant.embeddings import get_embedder
    from assistant.store.chroma import doc_of, open_store

    store = open_store(settings, get_embedder(settings.embedder), check=False)
    found = []
    for q in queries:
        exact = np.argpartition(-(matrix @ q), 10)[:10]
        want = {(f"gen-{i // PER_DOC}", i % PER_DOC) for i in exact}
        got = {(doc_of(c), int(c.rsplit(":", 1)[1])) for c, _ in store.vector_search(q, 10)}
        found.append(len(want & got) / 10)
    return round(float(np.mean(found)), 4)


def probe(data_dir: str, collection: str, questions: list[str], url: str | None = None) -> None:
    """Run in a new process: open the store and the embedder, retrieve once (print), then time
    every question unscoped and scoped to one document, and what each search of a retrieval
    costs alone: embedding the question, the vector search, the lexical search (print)."""
    from assistant.embeddings import get_embedder
    from assistant.retrieve.hybrid import HybridRetriever
    from assistant.retrieve.text import tokens
    from assistant.store.chroma import open_store

    s = Settings(data_dir=Path(data_dir), collection=collection, chroma_url=url)
    embedder = get_embedder(s.embedder)
    retriever = HybridRetriever(open_store(s, embedder, check=False), embedder, s)
    retriever.retrieve(questions[0])
    print(json.dumps({"first": True, "rss_mb": _rss_mb()}), flush=True)
    times, scoped = [], []
    for i, q in enumerate(questions):
        t = time.perf_counter()
        retriever.retrieve(q)
        times.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        retriever.retrieve(q, docs=[f"gen-{i % 7}"])
        scoped.append((time.perf_counter() - t) * 1000)
    ms = {"p50": percentile(times, 50), "p95": percentile(times, 95),
          "scoped_p95": percentile(scoped, 95)}
    n = s.retrieval.candidates
    store = retriever.store
    took: dict[str, list[float]] = {"embed": [], "vector": [], "lexical": []}
    for q in questions:
        t0 = time.perf_counter()
        qvec = embedder.embed_query(q)
        t1 = time.perf_counter()
        store.vector_search(qvec, n)
        t2 = time.perf_counter()
        store.lexical.search(tokens(q), n)
        t3 = time.perf_counter()
        for name, a, b in (("embed", t0, t1), ("vector", t1, t2), ("lexical", t2, t3)):
            took[name].append((b - a) * 1000)
    for name, values in took.items():
        ms[f"{name}_p50"], ms[f"{name}_p95"] = percentile(values, 50), percentile(values, 95)
    print(json.dumps({**{k: round(v, 1) for k, v in ms.items() if v is not None},
                      "rss_mb": _rss_mb()}),
          flush=True)


def _rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def new_process(settings: Settings, questions: list[str], url: str = "") -> dict[str, Any]:
    code = ("import json, sys; from assistant.eval.bench_scale import probe; "
            "probe(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4] or None)")
    cmd = [sys.executable, "-c", code, str(settings.data_dir), settings.collection,
           json.dumps(questions), url]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=apply_offline_env(dict(os.environ)))
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())
    start_s = time.perf_counter() - t
    rest = json.loads(proc.stdout.readline())
    proc.wait(timeout=600)
    return {"start_to_first_retrieval_s": round(start_s, 2), "rss_after_first_mb": first["rss_mb"],
            "retrieval_p50_ms": rest["p50"], "retrieval_p95_ms": rest["p95"],
            "scoped_retrieval_p95_ms": rest["scoped_p95"], "rss_after_searches_mb": rest["rss_mb"],
            **{f"{k}_ms": rest[k] for k in ("embed_p50", "embed_p95", "vector_p50", "vector_p95",
                                           "lexical_p50", "lexical_p95")}}


def server_process(settings: Settings, questions: list[str], dim: int) -> dict[str, Any]:
    """The store served by `chroma run` and probed by a new process; the server's RSS after,
    and its first query (loading the graph)."""
    from assistant.store.chroma import LEXICAL

    chroma = Path(sys.executable).parent / "chroma"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    replica = settings.data_dir / "lexical" / f"127.0.0.1-{port}-{settings.collection}.sqlite3"
    replica.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(settings.store_dir / LEXICAL, replica)
    server = subprocess.Popen([str(chroma), "run", "--path", str(settings.store_dir), "--host",
                               "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.3)
        # A server loads its graph at its first query, once for every replica: timed apart,
        # so the replica's start is that of a new replica beside a running server.
        import chromadb

        t = time.perf_counter()
        chunks = chromadb.HttpClient(host="127.0.0.1", port=port).get_collection(
            f"{settings.collection}-chunks")
        chunks.query(query_embeddings=np.eye(1, dim, dtype=np.float32), n_results=1)
        loaded = round(time.perf_counter() - t, 2)
        figures = new_process(settings, questions, url)
        figures["chroma_rss_mb"] = _rss_mb(server.pid)
        figures["chroma_first_query_s"] = loaded
        return figures
    finally:
        server.terminate()
        server.wait(timeout=60)
        replica.unlink(missing_ok=True)


def disk_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def bench_scale(settings: Settings, sizes: list[int], data_dir: Path,
                questions: list[str]) -> dict[str, Any]:
    """The figures per size, under keys `scale_<n>_<measure>`."""
    from assistant.embeddings import get_embedder

    rng = random.Random(7)
    pool = _pool(settings, rng)
    embedder = get_embedder(settings.embedder)
    say(f"bench: embedding {POOL} real windows for the derived vectors…")
    vectors = np.asarray(embedder.embed([" ".join(w) for w in pool]), dtype=np.float32)
    queries = np.asarray([embedder.embed_query(q) for q in questions], dtype=np.float32)
    result: dict[str, Any] = {"scale_vectors": VECTORS}
    for n in sizes:
        say(f"bench: {n:,} generated passages…")
        s = settings.model_copy(update={"data_dir": data_dir / f"{n}", "collection": "scale"})
        figures, matrix = generate(s, n, pool, vectors, np.random.default_rng(n))
        figures["vector_recall_at_10"] = recall_at_10(s, matrix, queries)
        del matrix
        figures["index_disk_mb"] = disk_mb(s.store_dir)
        figures.update(new_process(s, questions))
        served = server_process(s, questions, vectors.shape[1])
        figures.update({f"server_{k}": v for k, v in served.items()})
        result.update({f"scale_{n}_{k}": v for k, v in figures.items()})
        say(f"  {json.dumps(figures)}")
    return result
