"""A damaged store, found and recovered: a real store (real Chroma, real MiniLM) holding two
shipped documents, an upload and a page from the web cache is damaged several ways; opening it
gives one message naming `assistant ingest --rebuild`, `assistant doctor` says it is broken,
and the rebuild keeps the damaged folder aside and brings every document back. Also: doctor
finds missing chunks and a wrong embedder stamp, and two ingests at once do not both write."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from assistant.errors import IngestBusy, StoreDamaged
from assistant.offline import OFFLINE_ENV
from assistant.settings import Settings, load_settings
from tests.helpers import SITE, SMALL_DOCS, serve, small_manifest

REPO = Path(__file__).resolve().parents[1]
UPLOAD = "The harbour ferry to Lindholm leaves at nine every morning from pier four.\n"

pytestmark = pytest.mark.slow


def settings_at(data_dir: Path, manifest: Path) -> Settings:
    return load_settings(data_dir=data_dir, corpus_manifest=manifest)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    """A data directory whose store holds the two documents, one upload and one web page."""
    from assistant.ingest.pipeline import ingest, sources_from_paths
    from assistant.ingest.web import CrawlOptions, ingest_urls
    from assistant.store.chroma import open_store

    base = tmp_path_factory.mktemp("recovery")
    manifest = small_manifest(base / "index")
    data = base / "data"
    settings = settings_at(data, manifest)
    assert not ingest(settings, progress=False).failed
    settings.uploads_dir.mkdir()
    (settings.uploads_dir / "harbour-notes.txt").write_text(UPLOAD, encoding="utf-8")
    sources, _ = sources_from_paths([settings.uploads_dir])
    assert not ingest(settings, sources, progress=False).failed
    with serve(SITE) as site:
        web = ingest_urls(settings, [f"{site.base}/news/eu-ai-rules.html"],
                          CrawlOptions(delay_s=0), progress=False)
    assert len(web.kept) == 1, web.failed
    doc_ids = sorted(open_store(settings).doc_records())
    assert len(doc_ids) == 4
    return data, manifest, doc_ids


def damage(store: Path, how: str) -> None:
    db = store / "chroma.sqlite3"
    size = db.stat().st_size
    rnd = random.Random(25)
    if how == "truncated":
        with open(db, "r+b") as f:
            f.truncate(size // 2)
    elif how == "header":  # the first pages: Chroma's Rust side panics on open
        with open(db, "r+b") as f:
            for page in range(2, min(12, size // 4096)):
                f.seek(page * 4096)
                f.write(rnd.randbytes(4096))
    elif how == "pages":  # pages in the second half: the log Chroma replays is unreadable
        with open(db, "r+b") as f:
            pages = range(size // 4096 // 2, size // 4096)
            for page in rnd.sample(pages, min(40, len(pages))):
                f.seek(page * 4096)
                f.write(rnd.randbytes(4096))
    elif how == "segment":  # the vector index folder of the chunks
        segments = [p for p in store.iterdir() if p.is_dir()]
        shutil.rmtree(max(segments, key=lambda p: sum(f.stat().st_size for f in p.iterdir())))
    elif how == "no-sqlite":
        db.unlink()
    else:
        raise ValueError(how)


def copy_of(pristine: tuple[Path, Path, list[str]], tmp_path: Path) -> Settings:
    data, manifest, _ = pristine
    shutil.copytree(data, tmp_path / "data", symlinks=True)
    return settings_at(tmp_path / "data", manifest)


@pytest.mark.parametrize("how", ["truncated", "header", "pages", "segment", "no-sqlite"])
def test_a_damaged_store_is_named_then_rebuilt_from_the_data_directory(
    pristine: tuple[Path, Path, list[str]], tmp_path: Path, how: str,
) -> None:
    from assistant.doctor import check
    from assistant.ingest.corpus_service import CorpusService
    from assistant.store.chroma import open_store

    settings = copy_of(pristine, tmp_path)
    damage(settings.store_dir, how)
    if how == "segment":
        # Chroma rebuilds a missing vector index from its own log: nothing is lost.
        assert check(settings).ok, check(settings).lines()
        assert sorted(open_store(settings).doc_records()) == pristine[2]
        return
    with pytest.raises(StoreDamaged) as e:
        open_store(settings)
    assert "is damaged" in e.value.message and "assistant ingest --rebuild" in e.value.hint
    before = check(settings)
    assert not before.ok and "is damaged" in before.lines()[1], before.lines()

    report = CorpusService(settings).rebuild(progress=False)
    moved = Path(report.index.moved_aside)
    assert moved.parent == settings.data_dir and moved.name.startswith("store.damaged-20")
    assert moved.exists() and any(moved.iterdir())  # the damaged files are kept
    assert sorted(report.shipped) == sorted(SMALL_DOCS)
    assert report.uploads == ["harbour-notes"] and len(report.web) == 1
    assert report.lost == []
    summary = report.summary()
    assert str(moved) in summary and "2 shipped documents, 1 uploads, 1 web pages" in summary
    after = check(settings)
    assert after.ok, after.lines()
    assert sorted(open_store(settings).doc_records()) == pristine[2]


def cli(*args: str, data: Path, manifest: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **OFFLINE_ENV, "PYTHONPATH": str(REPO),
           "ASSISTANT_CORPUS_MANIFEST": str(manifest)}
    env.pop("RUST_BACKTRACE", None)
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args, "--data-dir", str(data)],
                          capture_output=True, text=True, env=env, timeout=900, cwd=REPO)


def test_the_cli_says_one_thing_and_recovers(pristine: tuple[Path, Path, list[str]],
                                             tmp_path: Path) -> None:
    """The issue's case: pages overwritten; `ask` exits with one line naming the command (no
    Rust panic or backtrace note), `doctor` exits 1, `ingest --rebuild` prints where the damaged
    store went and what it recovered, and `doctor` is happy after."""
    settings = copy_of(pristine, tmp_path)
    manifest = pristine[1]
    damage(settings.store_dir, "header")
    asked = cli("ask", "Who joined Zuckerberg?", data=settings.data_dir, manifest=manifest)
    assert asked.returncode == 7, asked.stderr
    lines = [line for line in asked.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, asked.stderr
    assert lines[0].startswith("error: The store at") and "assistant ingest --rebuild" in lines[0]
    for noise in ("panicked", "RUST_BACKTRACE", "Traceback", "backtrace"):
        assert noise not in asked.stderr
    doctor = cli("doctor", data=settings.data_dir, manifest=manifest)
    assert doctor.returncode == 1 and "BROKEN" in doctor.stdout, doctor.stdout + doctor.stderr
    rebuilt = cli("ingest", "--rebuild", data=settings.data_dir, manifest=manifest)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "kept at" in rebuilt.stdout and "store.damaged-" in rebuilt.stdout
    assert "2 shipped documents, 1 uploads, 1 web pages" in rebuilt.stdout
    doctor = cli("doctor", data=settings.data_dir, manifest=manifest)
    assert doctor.returncode == 0 and "- ok" in doctor.stdout, doctor.stdout + doctor.stderr


def test_doctor_finds_missing_chunks_a_wrong_stamp_and_a_missing_document(
    pristine: tuple[Path, Path, list[str]], tmp_path: Path,
) -> None:
    import json

    from assistant.doctor import check
    from assistant.store.chroma import open_store

    settings = copy_of(pristine, tmp_path)
    assert check(settings).ok
    store = open_store(settings)
    record = store.doc_records()["llama-3.2-acceptable-use-policy"]
    first = f"llama-3.2-acceptable-use-policy@{record.version}:00000"
    store.chunks.delete(ids=[first])
    store.remove_document("harbour-notes")
    store.chunks.modify(metadata={"identity": json.dumps({"embedder": "other", "chunking": "x"}),
                                  "format": "1"})
    report = check(settings)
    assert not report.ok
    text = "\n".join(report.lines())
    assert f"llama-3.2-acceptable-use-policy: 1 of its {record.chunks} chunks are missing" in text
    assert "harbour-notes (uploaded) is not indexed" in text
    assert "built with" in text and "'other'" in text


def test_doctor_reads_a_page_at_a_time_and_notes_a_large_embedded_store(
    pristine: tuple[Path, Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import assistant.doctor as doctor
    from assistant.store.chroma import open_store

    settings = copy_of(pristine, tmp_path)
    whole = doctor.check(settings)
    assert whole.ok and not any(f.level == "note" for f in whole.findings), whole.lines()
    monkeypatch.setattr(doctor, "PAGE", 7)  # pages that split documents
    monkeypatch.setattr(doctor, "LARGE", whole.chunks)
    paged = doctor.check(settings)
    assert (paged.ok, paged.documents, paged.chunks) == (True, whole.documents, whole.chunks)
    [note] = [f for f in paged.findings if f.level == "note"]
    assert f"chroma run --path {settings.store_dir}" in note.fix
    assert "ASSISTANT_CHROMA_URL" in note.fix
    store = open_store(settings)
    record = store.doc_records()["llama-3.2-acceptable-use-policy"]
    store.chunks.delete(ids=[f"llama-3.2-acceptable-use-policy@{record.version}:00003"])
    lines = doctor.check(settings).lines()
    assert f"1 of its {record.chunks} chunks are missing" in "\n".join(lines)


def test_two_ingests_at_once_one_is_refused_and_nothing_changes(
    pristine: tuple[Path, Path, list[str]], tmp_path: Path,
) -> None:
    from assistant.ingest.pipeline import ingest, sources_from_paths
    from assistant.store.chroma import open_store
    from assistant.store.lock import write_lock

    settings = copy_of(pristine, tmp_path)
    extra = tmp_path / "ferry-times.txt"
    extra.write_text("The ferry to Holm leaves at ten.\n", encoding="utf-8")
    sources, _ = sources_from_paths([extra])
    holding, release = threading.Event(), threading.Event()

    def first_ingest() -> None:  # holds the lock as a long ingest would
        with write_lock(settings, "ingest"):
            holding.set()
            release.wait()

    t = threading.Thread(target=first_ingest)
    t.start()
    try:
        holding.wait()
        with pytest.raises(IngestBusy) as e:
            ingest(settings, sources, progress=False)
        assert "Another ingest is changing the store" in e.value.message
        assert f"pid {os.getpid()}" in e.value.message and "nothing was changed" in e.value.hint
        # Another process is refused the same way, with the CLI's one line and exit code.
        other = cli("ingest", str(extra), data=settings.data_dir, manifest=pristine[1])
        assert other.returncode == 6 and "Another ingest is changing the store" in other.stderr
    finally:
        release.set()
        t.join()
    assert "ferry-times" not in open_store(settings).doc_records()
    assert ingest(settings, sources, progress=False).added == ["ferry-times"]
