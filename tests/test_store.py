"""The store with real Chroma in tmp_path; vectors from the fake embedder for exact control."""

import pytest

from assistant.errors import StoreMismatch
from assistant.ingest.chunking import Chunk
from assistant.store import Store

IDENTITY = {"embedder": "fake", "chunking": "words/10"}


def chunk(doc: str, i: int, text: str) -> Chunk:
    return Chunk(doc, f"{doc}:{i}", text, f"Section {i}", "", 0, len(text))


def put(store: Store, doc: str, sha: str, texts: list[str]) -> None:
    chunks = [chunk(doc, i, t) for i, t in enumerate(texts)]
    store.put_document(doc, sha, {"title": doc.title()}, chunks, texts,
                       [[1.0, 0.0, 0.0]] * len(texts))


def test_replacing_a_document_leaves_only_its_new_chunks(tmp_path):
    store = Store("t", IDENTITY, path=str(tmp_path))
    put(store, "a", "1" * 64, ["one", "two", "three"])
    put(store, "b", "2" * 64, ["bee"])
    put(store, "a", "3" * 64, ["uno", "dos"])
    assert store.count() == 3
    assert sorted(c.text for c in store.all_chunks()) == ["bee", "dos", "uno"]
    assert store.doc_records()["a"].chunks == 2


def test_chunks_left_by_an_interrupted_write_are_invisible_then_swept(tmp_path):
    store = Store("t", IDENTITY, path=str(tmp_path))
    put(store, "a", "1" * 64, ["one", "two"])
    # A crash after writing new-version chunks but before switching the document entry:
    store.chunks.upsert(ids=["a@999999999999:00000"], documents=["half-written"],
                        embeddings=[[0.0, 1.0, 0.0]],
                        metadatas=[{"doc_id": "a", "version": "999999999999"}])
    assert sorted(c.text for c in store.all_chunks()) == ["one", "two"]
    assert store.sweep_orphans() == 1
    assert store.count() == 2


def test_store_built_with_another_embedder_is_refused_with_the_rebuild_command(tmp_path):
    store = Store("t", IDENTITY, path=str(tmp_path))
    put(store, "a", "1" * 64, ["one"])
    store.stamp_identity()
    other = Store("t", {**IDENTITY, "embedder": "other"}, path=str(tmp_path))
    with pytest.raises(StoreMismatch) as err:
        other.check_identity()
    assert "assistant ingest --rebuild" in str(err.value)
    assert "embedder" in str(err.value)


def test_vector_search_returns_cosine(tmp_path):
    store = Store("t", IDENTITY, path=str(tmp_path))
    put(store, "a", "1" * 64, ["one"])
    [(cid, sim)] = store.vector_search([1.0, 0.0, 0.0], 5)
    assert cid.startswith("a@111111111111") and sim == pytest.approx(1.0, abs=1e-5)


def test_new_loader_code_recuts_an_unchanged_file(tmp_path, monkeypatch):
    """A document indexed by older loading/chunking code is cut again on the next ingest, under
    a new version, even though its file did not change; a second ingest leaves it alone."""
    from assistant import store as store_module
    from assistant.corpus import Source
    from assistant.ingest import pipeline
    from assistant.settings import Settings

    doc = tmp_path / "notes.txt"
    doc.write_text("The bridge opened in 1932. It carries six lanes of traffic.\n")
    settings = Settings(data_dir=tmp_path / "data")
    sources = [Source(doc_id="notes", title="Notes", path=doc)]

    first = pipeline.ingest(settings, sources, progress=False)
    store = store_module.open_store(settings)
    before = store.doc_records()["notes"]
    assert first.added == ["notes"] and before.ingest

    monkeypatch.setattr(pipeline, "source_version", lambda *p, **k: "newer-loader")
    second = pipeline.ingest(settings, sources, progress=False)
    after = store.doc_records()["notes"]
    assert second.updated == ["notes"]
    assert after.ingest == "newer-loader" and after.version != before.version
    assert after.sha256 == before.sha256
    # Only the new version's chunks remain.
    assert {c.chunk_id.split(":")[0] for c in store.all_chunks()} == {f"notes@{after.version}"}

    third = pipeline.ingest(settings, sources, progress=False)
    assert third.unchanged == ["notes"]
