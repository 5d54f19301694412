"""A conversation exported as Markdown, with the sources of each answer under it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Record = Mapping[str, Any]


def conversation_markdown(title: str, turns: Sequence[tuple[str, str, Record | None]]) -> str:
    """A conversation as Markdown: (role, text, record) triples; sources listed under answers."""
    lines = [f"# {title}", ""]
    for role, text, record in turns:
        if role == "user":
            lines += [f"**You:** {text}", ""]
            continue
        lines += [f"**Assistant:** {text}", ""]
        if record:
            stamp = f"_model: {record.get('model', '')}"
            standalone = str(record.get("standalone_query") or "")
            if standalone and standalone != record.get("question"):
                stamp += f"; searched: {standalone}"
            lines += [stamp + "_", ""]
            for c in record.get("citations") or []:
                where = ", ".join(
                    str(x) for x in (c.get("publisher"), c.get("date"), c.get("locator")) if x
                )
                head = f"[{c['n']}] {c.get('title', '')}" + (f" ({where})" if where else "")
                if c.get("url"):
                    head += f" <{c['url']}>"
                quote = " ".join(str(c.get("text", "")).split())
                lines += [head, "", f"> {quote}", ""]
        lines.append("---")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
