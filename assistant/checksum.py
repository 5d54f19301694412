"""sha256 of files, and a stamp beside a checked file so that it is hashed once, not at every start.

The stamp (`<name>.verified.json`) records the sha256 the file matched and the file's size and
mtime at that moment. While both are unchanged the file is taken as still matching; a file
edited, truncated or replaced since has another size or mtime and is hashed again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from assistant.atomic_write import write_atomic


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def stamp_path(path: Path) -> Path:
    return path.with_suffix(".verified.json")


def _stat_key(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def write_stamp(path: Path, sha256: str) -> None:
    """Record that `path`, as it is now, matches `sha256` (the caller has just checked it)."""
    write_atomic(stamp_path(path), json.dumps({"sha256": sha256, "stat": _stat_key(path)}))


def is_verified(path: Path, sha256: str) -> bool:
    """True when `path` matches the pinned `sha256`; hashes it only when it changed since the
    last check (or was never checked)."""
    if not path.exists():
        return False
    try:
        saved = json.loads(stamp_path(path).read_text())
        if saved.get("sha256") == sha256 and saved.get("stat") == _stat_key(path):
            return True
    except (OSError, json.JSONDecodeError, AttributeError):
        pass
    if sha256_file(path) != sha256:
        return False
    write_stamp(path, sha256)
    return True
