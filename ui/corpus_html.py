"""HTML and text of the Corpus tab: the report of an ingest, and when a document was indexed."""

from __future__ import annotations

import time
from collections.abc import Sequence

from ui.escape import esc


def render_ingest_report(
    added: Sequence[str], updated: Sequence[str], unchanged: Sequence[str],
    failed: Sequence[tuple[str, str]], summary: str = "",
) -> str:
    rows = []
    for label, names in (("Added", added), ("Updated", updated), ("Unchanged", unchanged)):
        if names:
            rows.append(f"<li><b>{label}:</b> {esc(', '.join(names))}</li>")
    for name, reason in failed:
        rows.append(f'<li class="failed"><b>Not indexed:</b> {esc(name)} — {esc(reason)}</li>')
    head = f"<div>{esc(summary)}</div>" if summary else ""
    return f'<div class="ingest-report">{head}<ul>{"".join(rows)}</ul></div>'


def when(timestamp: float) -> str:
    if not timestamp:
        return ""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))
