"""A hash of the code behind a pipeline stage, so work that stage did earlier is redone when
its code changes (documents indexed by an older loader, eval answers given by older code).

What is hashed is each module's syntax tree without its docstrings: a comment, a docstring or a
formatting change leaves the version as it was (no re-embedding of the corpus on a user's next
start, no eval answer thrown away), while any change to what the code does changes it. The tree's
dump depends on the Python version, so a new Python redoes the work once."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
from pathlib import Path

from assistant.atomic_write import write_atomic

PACKAGE = Path(__file__).resolve().parent
# Versions kept in the cache (a few per stage and checkout).
CACHED = 64


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                # A body must hold a statement: a docstring alone becomes `pass`.
                node.body = body[1:] or [ast.Pass()]
    return tree


def code_text(source: bytes) -> bytes:
    """What of a module's source bears behaviour: its syntax tree without docstrings, comments
    or layout (the bytes themselves when it does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source
    return ast.dump(_without_docstrings(tree), annotate_fields=False).encode()


def _cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "article-assistant" / "code-versions.json"


def _cached() -> dict[str, str]:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remember(key: str, version: str) -> None:
    cache = {k: v for k, v in _cached().items() if k != key}
    cache[key] = version
    try:
        _cache_file().parent.mkdir(parents=True, exist_ok=True)
        write_atomic(_cache_file(), json.dumps(dict(list(cache.items())[-CACHED:])))
    except OSError:
        pass  # a read-only cache: the version is worked out again next time


def source_version(
    *patterns: str, root: Path = PACKAGE, exclude: tuple[str, ...] = ()
) -> str:
    """Hash the behaviour-bearing code (`code_text`) of the files under `root` matching the glob
    `patterns`, with their names, but for the paths (relative to `root`) in `exclude`.

    Versions already worked out are looked up by the files' bytes (and this module's and the
    Python version's): hashing bytes takes milliseconds, the syntax trees of the 30 modules each
    start of the chat service hashes about 0.15 s."""
    found = (f for pattern in patterns for f in root.glob(pattern))
    files = [(path.relative_to(root).as_posix(), path.read_bytes()) for path in
             sorted(f for f in found if f.relative_to(root).as_posix() not in exclude)]
    key = hashlib.sha256(sys.version.encode() + b"\0" + Path(__file__).read_bytes())
    for name, source in files:
        key.update(name.encode() + b"\0" + source + b"\0")
    version = _cached().get(key.hexdigest())
    if version is None:
        digest = hashlib.sha256()
        for name, source in files:
            digest.update(name.encode() + b"\0" + code_text(source) + b"\0")
        version = digest.hexdigest()[:12]
        _remember(key.hexdigest(), version)
    return version
