"""One writer at a time: the data directory's write lock, held by whatever changes the store
(ingest, rebuild, removal, re-embedding) in any process or thread."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator

from assistant.errors import IngestBusy
from assistant.settings import Settings

_held = threading.local()


@contextlib.contextmanager
def write_lock(settings: Settings, what: str) -> Iterator[None]:
    """Hold the data directory's write lock (`ingest.lock`) while `what` changes the store.
    Another process or thread that tries meanwhile is refused with IngestBusy, which names the
    holder; the same thread may nest (a rebuild runs ingests). The OS drops the lock of a
    killed process, so a crash never leaves it stuck."""
    if getattr(_held, "depth", 0):
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / "ingest.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 300, 0).decode("utf-8", "replace").strip() or "another process"
            raise IngestBusy(
                f"Another ingest is changing the store in {settings.data_dir} ({holder})",
                "wait for it to finish and run this again; nothing was changed",
            ) from None
        os.ftruncate(fd, 0)
        started = time.strftime("%H:%M:%S UTC", time.gmtime())
        os.pwrite(fd, f"{what}, pid {os.getpid()}, since {started}".encode(), 0)
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
