"""When an embedded Chroma store cannot be read: telling damage from other failures, the one
message every entry point gives for it, and keeping Chroma's Rust noise off the terminal.

Chroma is only ever opened by `chroma.Store`; this module knows how it fails, not how it works.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from assistant.errors import StoreDamaged, StoreUnavailable

log = logging.getLogger(__name__)

SQLITE = "chroma.sqlite3"

REBUILD_HINT = ("run `assistant ingest --rebuild`: it keeps the damaged store aside and rebuilds "
                "from your documents (`assistant doctor` shows what is missing)")


def first_line(e: BaseException) -> str:
    # Chroma's Rust errors carry a backtrace note and the panic's location; the first line of
    # the message is what says what went wrong.
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text[:200]}"


def damaged_store(where: str, e: BaseException | str) -> StoreDamaged:
    """The one message for an embedded store Chroma cannot read, wherever it is opened (ask, ui,
    serve, ingest): what failed and the command that recovers."""
    why = e if isinstance(e, str) else first_line(e)
    return StoreDamaged(f"The store at {where} is damaged ({why})", REBUILD_HINT)


# A local store's read failing with one of these means its files are damaged, not that the
# store is busy or a collection was swapped under us (the Rust bindings raise InternalError or
# panic, and sqlite reports the page it could not read).
_DAMAGE = re.compile(
    r"malformed|not a database|disk image|backfill|compactor|log store|no such table|"
    r"Expect it to be fetched|corrupt|unable to open database|database disk|file is not",
    re.IGNORECASE,
)


def is_damage(e: BaseException) -> bool:
    return type(e).__name__ in ("PanicException", "InternalError") or bool(_DAMAGE.search(str(e)))


def as_store_error(e: BaseException, where: str, local: bool = False) -> StoreUnavailable:
    """A Chroma failure as the engine's error: StoreDamaged for a local store's damaged files,
    StoreUnavailable for anything else."""
    if local and is_damage(e):
        return damaged_store(where, e)
    return StoreUnavailable(
        f"The Chroma store at {where} failed ({first_line(e)})",
        "if it is a Chroma server, check that `chroma run` is up; else check the data directory",
    )


def missing_database(store_dir: Path) -> bool:
    """Segment folders but no database: Chroma would quietly start an empty store beside them."""
    return not (store_dir / SQLITE).exists() and any(
        p.is_dir() and re.fullmatch(r"[0-9a-f-]{36}", p.name) for p in store_dir.glob("*"))


def forget_client(path: str) -> None:
    """Drop Chroma's cached client system for `path`: it caches one per folder even when starting
    it failed, and every later client of that folder would get the broken one."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(path, None)
    SharedSystemClient._identifier_to_refcount.pop(path, None)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[list[str]]:
    """Chroma's Rust side writes its panics ("thread ... panicked at", "note: run with
    `RUST_BACKTRACE=1`") straight to file descriptor 2; while a local store is opened and probed
    they go to a temporary file instead, and are logged at debug level."""
    captured: list[str] = []
    try:
        saved = os.dup(2)
    except OSError:
        yield captured
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", "replace").strip()
            if text:
                captured.append(text)
                log.debug("Chroma wrote while opening the store: %s", text[:2000])
