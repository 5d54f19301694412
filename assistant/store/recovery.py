"""Recovering from a damaged embedded store: moving it aside, an empty store to rebuild into,
and the document ids its files still name (read from Chroma's sqlite tables directly, so it
works where Chroma cannot open the store)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from assistant.embeddings import Embedder
from assistant.errors import StoreDamaged
from assistant.settings import Settings
from assistant.store.chroma import Store, open_store
from assistant.store.damage import SQLITE, forget_client

log = logging.getLogger(__name__)


def move_aside(settings: Settings) -> Path:
    """Rename the (damaged) store folder to `store.damaged-<UTC date and time>`, kept for
    inspection, and forget Chroma's cached client for the path so a new store can start there
    (a live service's old handles then find the new store: Store._reattach)."""
    src = settings.store_dir
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    dest = src.with_name(f"{src.name}.damaged-{stamp}")
    n = 1
    while dest.exists():
        n += 1
        dest = src.with_name(f"{src.name}.damaged-{stamp}-{n}")
    if src.exists():
        src.rename(dest)
    forget_client(str(src))
    return dest


def open_for_rebuild(settings: Settings, embedder: Embedder | None = None
                     ) -> tuple[Store, Path | None, str]:
    """An empty store to rebuild into: the current one reset, or, when it is damaged, a new one
    with the damaged folder moved aside. Returns the store, where the damaged one went (None if
    it was healthy) and what was wrong with it."""
    try:
        store = open_store(settings, embedder, check=False)
    except StoreDamaged as e:
        moved = move_aside(settings)
        log.warning("moved the damaged store aside to %s", moved)
        return open_store(settings, embedder, check=False), moved, e.message
    store.reset()
    return store, None, ""


def doc_ids_in_files(store_dir: Path) -> list[str] | None:
    """The document ids a store's database names, read with sqlite directly (so it works on a
    store Chroma cannot open, as far as its pages are readable); None when nothing is."""
    import sqlite3

    try:
        db = sqlite3.connect(f"file:{store_dir / SQLITE}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT DISTINCT string_value FROM embedding_metadata "
                              "WHERE key = 'doc_id'").fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return sorted(str(r[0]) for r in rows if r[0])
