"""Shared fixtures. The real index is built once per test session (real MiniLM, real Chroma)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.offline import apply_offline_env

apply_offline_env()

from tests.helpers import TEST_MODEL  # noqa: E402,F401 - some test files import it from here


@pytest.fixture(scope="session")
def corpus_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding the whole shipped corpus, indexed for real."""
    from assistant.ingest.pipeline import ingest
    from assistant.settings import load_settings

    data_dir = tmp_path_factory.mktemp("corpus-data")
    report = ingest(load_settings(data_dir=data_dir), progress=False)
    assert not report.failed, report.failed
    assert len(report.added) == 6
    return data_dir


@pytest.fixture(autouse=True)
def _isolated_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Settings built without a data_dir must never touch the user's real data directory.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    for name in list(os.environ):
        if name.startswith("ASSISTANT_"):
            monkeypatch.delenv(name)
