"""The bundled embedder (MiniLM on ONNX Runtime, no torch) against reference vectors written once
by the torch embedder it replaced (scripts/minilm_reference.py), and its assembly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.embeddings import MINILM_GRAPH_SHA256, assemble_graph, get_embedder
from assistant.errors import ModelNotInstalled

REFERENCE = json.loads((Path(__file__).parent / "data/minilm-reference.json").read_text())["items"]


def _worst(cos: list[float], items: list[dict]) -> list[tuple[float, str]]:
    return [(round(c, 5), i["text"][:60]) for c, i in zip(cos, items, strict=True) if c < 0.999]


def _cosines(got: list[list[float]], items: list[dict]) -> list[float]:
    ref = np.array([i["vector"] for i in items])
    ref /= np.maximum(np.linalg.norm(ref, axis=1, keepdims=True), 1e-12)
    return list((np.array(got) * ref).sum(axis=1))


def test_passages_match_the_torch_embedder():
    embedder = get_embedder("minilm")
    items = [i for i in REFERENCE if i["kind"] == "text"]
    # One passage runs past MiniLM's 256 word pieces: it must be cut where torch cut it.
    assert max(embedder.count_tokens(i["text"]) for i in items) > 300
    cos = _cosines(embedder.embed([i["text"] for i in items]), items)
    assert min(cos) >= 0.999, _worst(cos, items)


def test_questions_match_the_torch_embedder():
    embedder = get_embedder("minilm")
    items = [i for i in REFERENCE if i["kind"] == "query"]
    assert any(i["text"] == "" for i in items) and any("🤖" in i["text"] for i in items)
    cos = _cosines([embedder.embed_query(i["text"]) for i in items], items)
    assert min(cos) >= 0.999, _worst(cos, items)


def test_vectors_are_unit_length_in_input_order_whatever_the_batch():
    embedder = get_embedder("minilm")
    texts = ["a short one", "Article 53(2) obligations for providers of general-purpose AI " * 9,
             "Spotify", "700 million monthly active users"]
    batch = np.array(embedder.embed(texts))
    alone = np.array([embedder.embed_query(t) for t in texts])
    assert batch.shape == (4, 384)
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    # Padding in a batch changes nothing: each row is its own text's vector.
    assert np.allclose(batch, alone, atol=1e-5)
    assert embedder.embed([]) == []


def test_identity_names_the_converted_graph():
    embedder = get_embedder("minilm")
    assert embedder.identity == f"all-MiniLM-L6-v2@onnx-{MINILM_GRAPH_SHA256[:12]}/max256"


def test_llama_index_sees_the_same_vectors():
    embedder = get_embedder("minilm")
    wrapped = embedder.as_llama_index()
    text = "Who joined Zuckerberg in the statement?"
    assert np.allclose(wrapped.get_query_embedding(text), embedder.embed_query(text), atol=1e-6)
    assert np.allclose(wrapped.get_text_embedding_batch([text, "Spotify"]),
                       embedder.embed([text, "Spotify"]), atol=1e-6)


def test_a_corrupt_graph_is_converted_again_and_a_wrong_pin_is_refused(tmp_path):
    model_dir = get_embedder("minilm").path
    target = tmp_path / "minilm.onnx"
    target.write_bytes(b"not a graph")
    assert assemble_graph(model_dir, target, MINILM_GRAPH_SHA256) == target
    assert target.stat().st_size > 80_000_000
    # Verified once; the stamp spares the hash next time, and a verified file is left alone.
    mtime = target.stat().st_mtime_ns
    assemble_graph(model_dir, target, MINILM_GRAPH_SHA256)
    assert target.stat().st_mtime_ns == mtime
    with pytest.raises(ModelNotInstalled) as err:
        assemble_graph(model_dir, tmp_path / "other.onnx", "0" * 64)
    assert "sha256" in err.value.message and "pip install" in (err.value.hint or "")
    assert not (tmp_path / "other.onnx").exists()


def test_batching_and_workers_change_no_vector():
    from assistant.embeddings import Embedder

    embedder = get_embedder("minilm")
    # One batch of 32 on one thread, as the embedder ran before it batched by word pieces.
    one_by_one = Embedder(embedder.name, embedder.path, embedder.graph, embedder.graph_sha256,
                          embedder.max_tokens, batch_size=32, workers=1)
    texts = [f"Article {n}: " + "obligations of providers " * (n % 9) + "Spotify" * (n % 2)
             for n in range(40)]
    got, ref = np.array(embedder.embed(texts)), np.array(one_by_one.embed(texts))
    assert embedder.workers >= 1 and embedder.batch_size < 32
    assert np.abs(got - ref).max() < 1e-5
    assert np.allclose(got[7], embedder.embed_query(texts[7]), atol=1e-5)  # in input order
