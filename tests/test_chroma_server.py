"""Server mode: a real Chroma server on loopback (`chroma run`, from the chromadb package)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.chat import ChatService
from assistant.corpus import load_manifest
from assistant.errors import StoreUnavailable
from assistant.ingest.pipeline import ingest
from assistant.settings import load_settings
from tests.helpers import TEST_MODEL, free_port, wait_until_answers

pytestmark = pytest.mark.slow

CHROMA = Path(__import__("sys").executable).parent / "chroma"


def start(path: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1",
                             "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if wait_until_answers(f"http://127.0.0.1:{port}/api/v2/heartbeat", 60, proc):
        return proc
    proc.kill()
    pytest.fail("chroma run did not answer within 60 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=20)


def test_ingest_and_ask_through_a_chroma_server_that_stops_and_restarts(tmp_path):
    port = free_port()
    server = start(tmp_path / "chroma", port)
    settings = load_settings(data_dir=tmp_path / "data", chroma_url=f"http://127.0.0.1:{port}")
    small = [d for d in load_manifest(settings.corpus_manifest).documents
             if d.doc_id != "eu-ai-act-2024-1689"]
    try:
        report = ingest(settings, small, progress=False)
        assert len(report.added) == 5 and not report.failed
        assert not (tmp_path / "data" / "store" / "chroma.sqlite3").exists(), "nothing local"
        service = ChatService(settings)
        found = service.retrieve("more than 700 million monthly active users")
        assert found.passages[0].doc_id == "llama-3.1-community-license"
    finally:
        stop(server)

    service.retriever.invalidate()
    with pytest.raises(StoreUnavailable) as err:
        service.retrieve("more than 700 million monthly active users")
    assert "chroma run" in str(err.value)

    server = start(tmp_path / "chroma", port)
    try:
        again = ingest(settings, small, progress=False)
        assert len(again.unchanged) == 5 and again.chunks == 0, "no re-ingest after a restart"
        found = ChatService(settings).retrieve("Which CEO joined Mark Zuckerberg?")
        assert "etcentric-meta-spotify-statement" in [p.doc_id for p in found.passages]
    finally:
        stop(server)


def test_two_replicas_share_one_corpus(tmp_path):
    """Two `assistant serve` processes over one Chroma server, each with its own data directory
    (its own lexical index): while replica B answers, a document is imported through replica A's
    data directory, and B finds it at a later question without a restart."""
    import threading

    from tests.test_serve import client, serving

    port = free_port()
    server = start(tmp_path / "chroma", port)
    url = f"http://127.0.0.1:{port}"
    settings = load_settings(data_dir=tmp_path / "a", chroma_url=url)
    small = [d for d in load_manifest(settings.corpus_manifest).documents
             if d.doc_id == "etcentric-meta-spotify-statement"]
    note = tmp_path / "brenac-market.txt"
    note.write_text("Brenac market hours\n\nThe Brenac covered market opens on Saturdays at "
                    "7:15 and closes at 13:30. Its forty stalls sell cheese, bread and fish.\n")
    question = "When does the Brenac covered market open on Saturdays?"
    try:
        assert not ingest(settings, small, progress=False).failed
        os.environ["ASSISTANT_CHROMA_URL"] = url
        with serving(tmp_path / "a", tmp_path / "a.log") as a, \
                serving(tmp_path / "b", tmp_path / "b.log") as b:

            def retrieved(base: str) -> list[str]:
                done = client(base).chat.completions.create(
                    model=TEST_MODEL, messages=[{"role": "user", "content": question}])
                return [r["doc_id"] for r in (done.model_extra or {})["record"]["retrieved"]]

            assert "brenac-market" not in retrieved(b)
            answering = threading.Thread(target=lambda: [retrieved(b) for _ in range(2)])
            answering.start()
            done = subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(note),
                                   "--data-dir", str(tmp_path / "a")],
                                  capture_output=True, text=True, timeout=300)
            answering.join(300)
            assert done.returncode == 0, done.stderr
            time.sleep(6)  # the replicas look at the corpus hash at most every 5 s
            assert "brenac-market" in retrieved(b)
            assert "brenac-market" in retrieved(a)
    finally:
        os.environ.pop("ASSISTANT_CHROMA_URL", None)
        stop(server)
