"""The store with real Chroma in tmp_path; vectors from the fake embedder for exact control."""

import pytest

from assistant.errors import StoreMismatch
from assistant.ingest.chunking import Chunk
from assistant.store.chroma import Store, store_identity

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


def test_a_store_without_orphans_is_not_read_through_to_sweep_it(tmp_path, monkeypatch):
    # Reading every chunk's metadata on each ingest grows with the store (a million passages).
    store = Store("t", IDENTITY, path=str(tmp_path))
    put(store, "a", "1" * 64, ["one", "two"])
    put(store, "a", "2" * 64, ["uno"])
    put(store, "b", "3" * 64, ["bee"])

    def read_all(*args, **kwargs):
        raise AssertionError("every chunk read")

    monkeypatch.setattr(store.chunks, "get", read_all)
    assert store.sweep_orphans() == 0


def test_store_built_with_another_embedder_or_chunking_is_refused_with_the_command(tmp_path):
    store = Store("t", IDENTITY, path=str(tmp_path))
    put(store, "a", "1" * 64, ["one"])
    store.stamp_identity()
    other = Store("t", {**IDENTITY, "embedder": "other"}, path=str(tmp_path))
    assert other.embedder_changed() == "fake"
    with pytest.raises(StoreMismatch) as err:
        other.check_identity()
    # Only the embedder differs: the passages can be re-embedded where they are.
    assert "run `assistant ingest` once" in str(err.value)
    assert "embedder" in str(err.value)
    recut = Store("t", {"embedder": "other", "chunking": "words/20"}, path=str(tmp_path))
    assert recut.embedder_changed() is None
    with pytest.raises(StoreMismatch) as err:
        recut.check_identity()
    assert "assistant ingest --rebuild" in str(err.value)
    assert "chunking" in str(err.value)


def test_an_old_store_is_re_embedded_once_keeping_its_documents(tmp_path, caplog):
    """Real MiniLM: a store stamped by the torch embedder of before gets its passages' vectors
    replaced by the next ingest, with a message, and is then accepted."""
    import numpy as np

    from assistant.embeddings import get_embedder
    from assistant.ingest.pipeline import ingest, sources_from_paths
    from assistant.settings import load_settings
    from assistant.store.chroma import open_store

    settings = load_settings(data_dir=tmp_path / "data")
    doc = tmp_path / "note.md"
    doc.write_text("# Note\n\nSpotify and Meta signed a statement about EU AI rules.\n\n"
                   "The Llama licence asks for a separate licence above 700 million users.\n")
    sources, _ = sources_from_paths([doc])
    ingest(settings, sources, progress=False)
    embedder = get_embedder(settings.embedder)
    want = {c.chunk_id: c.vector for c in open_store(settings, embedder).all_chunks(True)}
    old = Store(settings.collection, {**store_identity(settings, embedder),
                                      "embedder": "all-MiniLM-L6-v2@model/max256"},
                path=str(settings.store_dir))
    old.replace_vectors(list(want), [[1.0] + [0.0] * 383] * len(want))
    old.stamp_identity()
    with pytest.raises(StoreMismatch) as err:
        open_store(settings, embedder)
    assert "run `assistant ingest` once" in str(err.value)

    report = ingest(settings, sources, progress=False)
    assert report.reembedded == len(want) and report.unchanged == ["note"]
    assert "re-embedded" in report.summary()
    assert "all-MiniLM-L6-v2@model/max256" in caplog.text and "re-embedding" in caplog.text
    got = {c.chunk_id: c.vector for c in open_store(settings, embedder).all_chunks(True)}
    assert got.keys() == want.keys()
    assert all(np.allclose(got[k], want[k], atol=1e-6) for k in want)
    assert ingest(settings, sources, progress=False).reembedded == 0


def test_vector_search_returns_cosine(tmp_path):
    store = Store("t", IDENTITY, path=str(tmp_path))
    put(store, "a", "1" * 64, ["one"])
    [(cid, sim)] = store.vector_search([1.0, 0.0, 0.0], 5)
    assert cid.startswith("a@111111111111") and sim == pytest.approx(1.0, abs=1e-5)


def test_new_loader_code_recuts_an_unchanged_file(tmp_path, monkeypatch):
    """A document indexed by older loading/chunking code is cut again on the next ingest, under
    a new version, even though its file did not change; a second ingest leaves it alone."""
    from assistant.corpus import Source
    from assistant.ingest import pipeline
    from assistant.settings import Settings
    from assistant.store import chroma as store_module

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
