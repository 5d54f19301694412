"""A process killed (SIGKILL) in the middle of ingesting leaves the previous index answering;
ingesting again completes with chunk counts that match a clean build."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.embeddings import get_embedder
from assistant.ingest.chunking import chunk_blocks
from assistant.ingest.loaders import load_blocks
from assistant.retrieve.hybrid import HybridRetriever
from assistant.settings import load_settings
from assistant.store.chroma import open_store

pytestmark = pytest.mark.slow

DOCS = Path(__file__).resolve().parents[1] / "index" / "documents"


def ingest_cmd(folder: Path, data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "assistant.cli", "ingest", str(folder), "--data-dir",
            str(data_dir)]


def expected_chunks(folder: Path, settings) -> dict[str, int]:
    embedder = get_embedder(settings.embedder)
    counts = {}
    for f in sorted(folder.iterdir()):
        doc_id = f.stem.lower().replace(".", "-").replace("_", "-")
        title = f.stem.replace("_", " ").replace("-", " ")
        chunks = chunk_blocks(doc_id, load_blocks(f), embedder.count_tokens,
                              settings.chunk_tokens, settings.chunk_overlap_tokens, title=title)
        counts[doc_id] = len(chunks)
    return counts


def test_sigkill_mid_ingest_loses_nothing(tmp_path):
    folder, data_dir = tmp_path / "docs", tmp_path / "data"
    folder.mkdir()
    for name in ("etcentric-meta-spotify-statement.txt", "llama-3.1-community-license.txt"):
        shutil.copy(DOCS / name, folder / name)
    assert subprocess.run(ingest_cmd(folder, data_dir), capture_output=True).returncode == 0
    settings = load_settings(data_dir=data_dir)
    before = {d: r.version for d, r in open_store(settings).doc_records().items()}

    # Change one document and add a long one, then kill the ingest while it embeds the long one.
    with (folder / "llama-3.1-community-license.txt").open("a") as f:
        f.write("\n\n8. Addendum. A paragraph added to change this document.\n")
    shutil.copy(DOCS / "eu-ai-act-2024-1689.html", folder / "eu-ai-act-2024-1689.html")
    proc = subprocess.Popen(ingest_cmd(folder, data_dir), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    # Killed as soon as its progress bar names the long document (it takes many seconds to
    # embed), rather than after a guessed number of seconds that a faster or slower machine
    # would get wrong.
    assert proc.stderr is not None
    progress = b""
    while b"eu-ai-act-2024-1689" not in progress:
        piece = proc.stderr.read1(4096)
        if not piece:
            break
        progress += piece
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the ingest must still have been running"

    store = open_store(settings)
    records = store.doc_records()
    # Every document entry points at one complete version; nothing half-written is visible.
    visible = store.all_chunks()
    for doc_id, record in records.items():
        assert sum(1 for c in visible if c.doc_id == doc_id) == record.chunks
    assert set(before) <= set(records)
    found = HybridRetriever(store, get_embedder(settings.embedder), settings).retrieve(
        "Which CEO joined Mark Zuckerberg in the joint statement?")
    assert "etcentric-meta-spotify-statement" in [p.doc_id for p in found.passages]

    run = subprocess.run(ingest_cmd(folder, data_dir), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    store = open_store(settings)
    counts = {d: r.chunks for d, r in store.doc_records().items()}
    assert counts == expected_chunks(folder, settings)
    assert store.count() == sum(counts.values()), "no duplicated or orphaned chunks"
    assert store.doc_records()["llama-3-1-community-license"].version != before[
        "llama-3-1-community-license"]
