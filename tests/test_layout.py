"""The layout's one rule that a reader relies on: a stage imports only the stages before it,
and the engine (`assistant/`) never imports its front end (`ui/`)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_the_engine_never_imports_the_ui():
    offenders = {
        path.relative_to(ROOT).as_posix(): sorted(n for n in _imported(path)
                                                  if n == "ui" or n.startswith("ui."))
        for path in (ROOT / "assistant").rglob("*.py")
    }
    assert {p: n for p, n in offenders.items() if n} == {}


def test_the_ui_is_found_through_its_entry_point():
    from importlib.metadata import entry_points

    found = entry_points(group="article_assistant.frontends", name="ui")
    assert [e.value for e in found] == ["ui.app:launch"]
    from ui.app import launch

    assert next(iter(found)).load() is launch
