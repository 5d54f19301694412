"""A conversation exported as Markdown, with the sources of each answer under it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from assistant.answer.result import searched_for
from ui.records import merged_for_sources
from ui.scope import unit_label

Record = Mapping[str, Any]


def conversation_markdown(title: str, turns: Sequence[tuple[str, str, Record | None]]) -> str:
    """A conversation as Markdown: (role, text, record) triples; sources listed under answers."""
    lines = [f"# {title}", ""]
    for role, text, record in turns:
        if role == "user":
            lines += [f"**You:** {text}", ""]
            continue
        if record and record.get("answers"):
            lines += _comparison(record)
        elif "\n" in text.strip():
            # A list answer (a summary's bullets) keeps its lines, under the label.
            lines += ["**Assistant:**", "", text.strip(), ""]
        else:
            lines += [f"**Assistant:** {text}", ""]
        if record:
            stamp = f"_model: {record.get('model', '')}" if not record.get("answers") else "_"
            if unit_label(record) and not record.get("answers"):
                stamp += f"; about: {unit_label(record)}"
            if searched := searched_for(record):
                stamp += f"; searched: {searched}"
            if record.get("feedback"):
                stamp += f"; rated {'right' if record['feedback'] == 'up' else 'wrong'}"
            if stamp != "_":
                lines += [stamp + "_", ""]
            for c in merged_for_sources(dict(record)).get("citations") or []:
                where = ", ".join(
                    str(x) for x in (c.get("publisher"), c.get("date"), c.get("locator")) if x
                )
                head = f"[{c['n']}] {c.get('title', '')}" + (f" ({where})" if where else "")
                if c.get("cited_by"):
                    head += f" — cited by {', '.join(c['cited_by'])}"
                if c.get("url"):
                    head += f" <{c['url']}>"
                quote = " ".join(str(c.get("text", "")).split())
                lines += [head, "", f"> {quote}", ""]
        lines.append("---")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _comparison(record: Record) -> list[str]:
    """A comparison: each model's answer under its name, and which one the user marked right."""
    marked = str(record.get("marked") or "")
    answers = record.get("answers") or []
    lines = [f"**Assistant** (compared {len(answers)} models on the same passages):", ""]
    for a in answers:
        model = str(a.get("model", ""))
        seconds = max(0.0, float(a.get("timings", {}).get("total_ms") or 0)
                      - float(a.get("timings", {}).get("retrieve_ms") or 0)) / 1000
        right = " ✓ marked right" if model == marked else ""
        lines += [f"*{model}*{right} ({seconds:.1f} s, {a.get('prompt_tokens', 0)} prompt "
                  f"tokens): {a.get('answer', '')}", ""]
    verdict = {"": "no answer marked right yet", "none": "none of them marked right"}
    lines += [f"_{verdict.get(marked, f'marked right: {marked}')}_", ""]
    return lines
