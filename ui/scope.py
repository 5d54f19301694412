"""The chat's document scope: which documents (or publishers) a question searches.

Choices are values of one multiselect: "doc:<doc_id>" for a document, "pub:<publisher>" for
every document of a publisher. Pure functions, so the wiring in ui/chat.py stays a line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

DOC, PUB = "doc:", "pub:"


def choices(records: Iterable[tuple[str, Mapping[str, str]]]) -> list[tuple[str, str]]:
    """(label, value) pairs: each publisher with several documents, then each document."""
    docs = sorted(records, key=lambda r: (r[1].get("title") or r[0]).lower())
    count: dict[str, int] = {}
    for _, meta in docs:
        if meta.get("publisher"):
            count[meta["publisher"]] = count.get(meta["publisher"], 0) + 1
    out = [(f"All from {name} ({n} documents)", PUB + name)
           for name, n in sorted(count.items()) if n > 1]
    out += [(f"{meta.get('title') or doc_id} ({doc_id})", DOC + doc_id) for doc_id, meta in docs]
    return out


def split(values: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """The chosen values -> (doc ids, publishers)."""
    docs = [v[len(DOC):] for v in values or [] if v.startswith(DOC)]
    pubs = [v[len(PUB):] for v in values or [] if v.startswith(PUB)]
    return docs, pubs


def stamp_text(record: Mapping[str, Any], limit: int = 3) -> str:
    """What the answer's stamp says about its scope; "" when it searched everything."""
    scope = list(record.get("scope") or [])
    if not scope:
        return ""
    shown = ", ".join(scope[:limit]) + (f" and {len(scope) - limit} more"
                                        if len(scope) > limit else "")
    return f"searched only: {shown}"


def summary_question(title: str) -> str:
    """The question a Summarize action asks, scoped to that one document: the engine answers
    "Summarize <title>" over a one-document scope with the document's passages in order."""
    title = " ".join(str(title).split()).rstrip(".")
    return f"Summarize {title}."


def unit_label(record: Mapping[str, Any]) -> str:
    """What the answer took the question to be about (its "unit": a provision, an article);
    "" for records written before answers had one."""
    unit = record.get("unit")
    if not isinstance(unit, Mapping):
        return ""
    return " ".join(str(unit.get("label") or "").split())
