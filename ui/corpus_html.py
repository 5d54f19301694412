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


OUTCOME_CLASS = {"kept": "kept", "duplicate": "duplicate", "skipped": "failed",
                 "not followed": "skipped", "not fetched": "skipped"}


def render_outcomes(outcomes: Sequence[tuple[str, str, str]], summary: str = "") -> str:
    """A web import's report: each URL (url, status, doc id or reason), as the CLI reports it."""
    rows = []
    for url, status, detail in outcomes:
        shown = {"duplicate": f"stored once as {detail}", "kept": f"as {detail}",
                 "not followed": "page cap reached (raise Max pages)"}.get(status, detail)
        rows.append(f'<tr class="{OUTCOME_CLASS.get(status, "")}"><td>{esc(status)}</td>'
                    f"<td>{esc(url)}</td><td>{esc(shown)}</td></tr>")
    head = f"<div>{esc(summary)}</div>" if summary else ""
    table = ('<table class="web-outcomes"><caption>What happened to each URL</caption><thead>'
             '<tr><th scope="col">Outcome</th><th scope="col">URL</th><th scope="col">Detail'
             f'</th></tr></thead><tbody>{"".join(rows)}</tbody></table>') if rows else ""
    return f'<div class="ingest-report web-report">{head}{table}</div>'
