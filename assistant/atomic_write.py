"""Writing a file so that a reader never sees half of it."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write `data` (str as UTF-8) to `path` through a temporary file in the same folder, then
    rename it into place: a process killed mid-write leaves the old file (or none), never a
    truncated one. The temporary name is hidden and per process, so two writers never share it
    and folder scans (which skip dot files) never index it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    os.replace(tmp, path)
