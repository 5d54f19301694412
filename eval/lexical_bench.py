"""The lexical index at scale: build rate, file size, search latency, replace, remove, open, RSS.

    PYTHONPATH=. .venv/bin/python eval/lexical_bench.py [--sizes 100000,1000000] [--dir DIR]
        [--out FILE.json]

For each size, builds an index of synthetic chunks in DIR (a temporary folder by default) with
add_documents, in documents of 200 chunks. A synthetic chunk is a chunk of the shipped corpus
(cut as ingest cuts it, tokenised as retrieval tokenises it) with about one token in ten swapped
for a made-up word drawn from a Zipf law, so the vocabulary grows with the corpus as a real one
does instead of stopping at the corpus's few thousand words.

Then a fresh process opens the index and reports the time to open it and answer one question,
its RSS above the interpreter's (after the imports) once 20 questions are answered, and the
p50/p95 latency of the eval questions of 3 to 10 words (eval/questions.jsonl), whole index and
limited to two documents. Then 64 documents are replaced (200 new chunks each) and 10 removed,
each timed (the merges they run included), and the fresh-process probe runs again over the
changed index; then compact() (the merges writes put off) is timed and the probe runs again.
Prints one JSON object (and writes it to --out).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DOC_CHUNKS = 200
SYNTHETIC_SHARE = 0.1
K = 50  # settings.retrieval.candidates: what retrieval asks BM25 for
# Enough replacements for merges of two size classes.
REPLACES = 64


def questions() -> list[list[str]]:
    from assistant.retrieve.text import tokens

    lines = (REPO / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    qs = [tokens(json.loads(line)["question"]) for line in lines if line.strip()]
    return [q for q in qs if 3 <= len(q) <= 10]


def corpus_tokens() -> list[list[str]]:
    """The shipped corpus's chunks as BM25 tokens, cut as ingest cuts them."""
    from assistant.corpus import load_manifest
    from assistant.embeddings import get_embedder
    from assistant.ingest.chunking import chunk_blocks
    from assistant.ingest.loaders import load_blocks
    from assistant.retrieve.text import tokens
    from assistant.settings import Settings

    settings = Settings(data_dir=Path(tempfile.gettempdir()) / "lexical-bench-unused")
    count = get_embedder(settings.embedder).count_tokens
    out = []
    for s in load_manifest(settings.corpus_manifest).documents:
        assert s.path is not None
        for c in chunk_blocks(s.doc_id, load_blocks(s.path, s.format), count,
                              settings.chunk_tokens, settings.chunk_overlap_tokens, s.title):
            out.append(tokens(c.embed_text(s.title)) or ["_"])
    return out


class Synthetic:
    def __init__(self, source: list[list[str]], seed: int = 0) -> None:
        self.words = sorted({t for toks in source for t in toks})
        index = {w: i for i, w in enumerate(self.words)}
        self.source = [np.array([index[t] for t in toks]) for toks in source]
        self.rng = np.random.default_rng(seed)
        self.made_up: dict[int, str] = {}
        self.seconds = 0.0  # spent making chunks, left out of the build rate

    def chunks(self, name: str, n: int = DOC_CHUNKS) -> list:
        from assistant.retrieve.lexical import LexChunk

        started = time.perf_counter()
        out = []
        words, made_up = self.words, self.made_up
        for i, pick in enumerate(self.rng.integers(0, len(self.source), n)):
            ids = self.source[pick]
            swap = self.rng.random(len(ids)) < SYNTHETIC_SHARE
            toks = [words[j] for j in ids[~swap]]
            for z in self.rng.zipf(1.2, int(swap.sum())) % 2_000_000:
                z = int(z)
                toks.append(made_up.get(z) or made_up.setdefault(z, f"zq{z}"))
            out.append(LexChunk(f"{name}:{i}", toks, i * 1000, f"Article {i}", "Heading"))
        self.seconds += time.perf_counter() - started
        return out

    def docs(self, n_chunks: int, version: str = "v1") -> Iterator[tuple[str, str, list]]:
        for d in range(n_chunks // DOC_CHUNKS):
            yield f"doc-{d:06d}", version, self.chunks(f"doc-{d:06d}-{version}")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], p: float) -> float:
    return round(float(np.percentile(values, p)), 1)


def probe(path: Path) -> dict:
    """In a fresh process: open, first search, RSS after 20, latencies (ms)."""
    from assistant.retrieve.lexical import LexicalIndex

    qs = questions()
    baseline = rss_mb()
    started = time.perf_counter()
    index = LexicalIndex(path)
    opened = time.perf_counter() - started
    index.search(qs[0], K)
    first = time.perf_counter() - started
    for q in qs[1:21]:
        index.search(q, K)
    rss = rss_mb()
    ms = []
    for q in qs:
        t = time.perf_counter()
        index.search(q, K)
        ms.append((time.perf_counter() - t) * 1000)
    rng = np.random.default_rng(1)
    docs = sorted(index.versions())
    scoped = []
    for q in qs:
        pair = [docs[i] for i in rng.integers(0, len(docs), 2)]
        t = time.perf_counter()
        index.search(q, K, pair)
        scoped.append((time.perf_counter() - t) * 1000)
    return {
        "open_ms": round(opened * 1000, 1), "open_and_first_search_ms": round(first * 1000, 1),
        "rss_baseline_mb": round(baseline), "rss_after_20_mb": round(rss),
        "rss_above_baseline_mb": round(rss - baseline), "rss_after_all_mb": round(rss_mb()),
        "questions": len(qs), "search_p50_ms": pct(ms, 50), "search_p95_ms": pct(ms, 95),
        "search_max_ms": pct(ms, 100), "scoped_p50_ms": pct(scoped, 50),
        "scoped_p95_ms": pct(scoped, 95),
    }


def run_probe(path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, __file__, "--probe", str(path)], env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def size_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6, 1)


def bench(n: int, folder: Path, source: list[list[str]]) -> dict:
    import sqlite3

    from assistant.retrieve.lexical import LexicalIndex

    path = folder / f"lexical-{n}.sqlite3"
    for old in folder.glob(path.name + "*"):
        old.unlink()
    synthetic = Synthetic(source)
    index = LexicalIndex(path)
    started = time.perf_counter()
    index.add_documents(synthetic.docs(n))
    wall = time.perf_counter() - started
    build = wall - synthetic.seconds
    index.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        segments = conn.execute("SELECT count(*) FROM segments").fetchone()[0]
        terms = conn.execute("SELECT count(DISTINCT term) FROM postings").fetchone()[0]
    out: dict = {
        "chunks": n, "terms": terms, "segments": segments, "build_s": round(build, 1),
        "build_chunks_per_s": round(n / build), "making_chunks_s": round(synthetic.seconds, 1),
        "file_mb": size_mb(path), "fresh": run_probe(path),
    }
    index = LexicalIndex(path)
    index.search(questions()[0], K)
    docs = sorted(index.versions())
    replace, remove = [], []
    for i, doc in enumerate(docs[:: max(1, len(docs) // REPLACES)][:REPLACES]):
        chunks = synthetic.chunks(f"{doc}-v2-{i}")
        t = time.perf_counter()
        index.replace_document(doc, "v2", chunks)
        replace.append(time.perf_counter() - t)
    for doc in docs[7 :: max(1, len(docs) // 10)][:10]:
        t = time.perf_counter()
        assert index.remove_document(doc)
        remove.append(time.perf_counter() - t)
    out["replace_200_s"] = seconds(replace)
    out["remove_200_s"] = seconds(remove)
    out["after_changes"] = run_probe(path)
    out["file_mb_after_changes"] = size_mb(path)
    started = time.perf_counter()
    index.compact()
    out["compact_s"] = round(time.perf_counter() - started, 1)
    index.close()
    out["after_compact"] = run_probe(path)
    return out


def seconds(values: list[float]) -> dict:
    return {"n": len(values), "p50": round(float(np.median(values)), 3),
            "p95": round(float(np.percentile(values, 95)), 3), "max": round(max(values), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe)))
        return
    folder = args.dir or Path(tempfile.mkdtemp(prefix="lexical-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    source = corpus_tokens()
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        results.append(bench(n, folder, source))
        print(json.dumps(results[-1]), file=sys.stderr)
    report = {"source_chunks": len(source), "results": results}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
