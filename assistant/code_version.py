"""A hash of the code behind a pipeline stage, so work that stage did earlier is redone when
its code changes (documents indexed by an older loader, eval answers given by older code).

What is hashed is each module's syntax tree without its docstrings: a comment, a docstring or a
formatting change leaves the version as it was (no re-embedding of the corpus on a user's next
start, no eval answer thrown away), while any change to what the code does changes it. The tree's
dump depends on the Python version, so a new Python redoes the work once."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


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


def source_version(
    *patterns: str, root: Path = PACKAGE, exclude: tuple[str, ...] = ()
) -> str:
    """Hash the behaviour-bearing code (`code_text`) of the files under `root` matching the glob
    `patterns`, with their names, but for the paths (relative to `root`) in `exclude`."""
    digest = hashlib.sha256()
    found = (f for pattern in patterns for f in root.glob(pattern))
    for path in sorted(f for f in found if f.relative_to(root).as_posix() not in exclude):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0"
                      + code_text(path.read_bytes()) + b"\0")
    return digest.hexdigest()[:12]
