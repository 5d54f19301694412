"""assistant/memory.py: the servers' malloc arenas capped through glibc's mallopt."""

from __future__ import annotations

import ctypes.util

import pytest

from assistant.memory import limit_arenas


def test_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_arenas() is False


@pytest.mark.skipif(not ctypes.util.find_library("c"), reason="no C library found")
def test_glibc_takes_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert limit_arenas() is True
