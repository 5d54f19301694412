"""A hash of the code behind a pipeline stage, so work that stage did earlier is redone when
its code changes (documents indexed by an older loader, eval answers given by older code)."""

from __future__ import annotations

import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def source_version(
    *patterns: str, root: Path = PACKAGE, exclude: tuple[str, ...] = ()
) -> str:
    """Hash the files under `root` matching the glob `patterns` (names and contents), but for
    the paths (relative to `root`) in `exclude`."""
    digest = hashlib.sha256()
    found = (f for pattern in patterns for f in root.glob(pattern))
    for path in sorted(f for f in found if f.relative_to(root).as_posix() not in exclude):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]
