"""Pure HTML rendering of answers, sources, reports and exports. No Gradio, no I/O.

Everything that comes from a document or a model is data: it is escaped here, once, before it
reaches the page. Chat messages go through the Chatbot's Markdown renderer, so their text is
also neutralised for Markdown (entities instead of `*`, `_`, `[`, `$` ...); the sources panel is
a gr.HTML, set with innerHTML and no sanitiser, so escaping is all that stands between a
`<img onerror=...>` in a document and the page.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from assistant.retrieve.text import tokens

Record = Mapping[str, Any]

# Every character that HTML or Markdown (incl. GFM autolinks and the Chatbot's LaTeX) treats as
# syntax becomes an entity, in one pass so entities are never escaped twice.
_MD_ENTITIES = str.maketrans({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "\\": "&#92;",
    "`": "&#96;", "*": "&#42;", "_": "&#95;", "[": "&#91;", "]": "&#93;", "~": "&#126;",
    "|": "&#124;", "$": "&#36;", "#": "&#35;", "!": "&#33;", ":": "&#58;", "=": "&#61;",
})
_BOLD = re.compile(r"&#42;&#42;(.+?)&#42;&#42;")
_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")

ABSTAIN_TITLES = {
    "no_relevant_passages": "Not in the documents",
    "passages_do_not_answer": "The documents do not answer this",
    "answer_not_supported": "No supported answer",
    "passages_do_not_mention": "Not in the closest passages",
}


def esc(text: object) -> str:
    """Escape for an HTML context (attribute values included)."""
    return html.escape(str(text if text is not None else ""), quote=True)


def md_esc(text: object) -> str:
    """Escape for a Chatbot message: inert as HTML and as Markdown; newlines kept as <br>."""
    out = str(text if text is not None else "").translate(_MD_ENTITIES)
    # The one piece of Markdown small models use a lot, rebuilt from the escaped text.
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    return re.sub(r"\r?\n", "<br>", out)


def safe_url(url: object) -> str:
    """The URL if it is http(s), else "" (a document's `javascript:` link must not be clickable)."""
    text = str(url or "").strip()
    try:
        parsed = urlparse(text)
    except ValueError:
        return ""
    return text if parsed.scheme in ("http", "https") and parsed.netloc else ""


def anchor(turn: int, n: int) -> str:
    return f"src-{int(turn)}-{int(n)}"


def cite_links(numbers: Iterable[int], turn: int, known: set[int] | None = None) -> str:
    links = []
    for n in numbers:
        if known is not None and n not in known:
            links.append(f'<span class="cite missing">[{int(n)}]</span>')
            continue
        links.append(
            f'<a class="cite" href="#{anchor(turn, n)}" title="Show source {int(n)}">[{int(n)}]</a>'
        )
    return "".join(links)


def _sentence_html(sentence: Mapping[str, Any], turn: int, known: set[int]) -> str:
    text = str(sentence.get("text", "")).strip()
    cited = [int(n) for n in sentence.get("cited", [])]
    end = ""
    if text[-1:] in (".", "!", "?"):
        text, end = text[:-1], text[-1]
    body = md_esc(text)
    links = cite_links(cited, turn, known)
    if not sentence.get("supported", True):
        return (
            f'<span class="unsupported" title="No passage supports this sentence">{body}</span>'
            f'{" " + links if links else ""}{md_esc(end)} '
            '<span class="flag" title="The support check found no passage that says this">'
            "⚠ unsupported</span>"
        )
    return f"{body}{' ' + links if links else ''}{md_esc(end)}"


def _answer_body(record: Record, turn: int) -> str:
    known = {int(c["n"]) for c in record.get("citations", [])}
    sentences = record.get("sentences") or []
    if sentences:
        return " ".join(_sentence_html(s, turn, known) for s in sentences)
    # No sentence check (or an old record): link whatever markers the text carries.
    return _linked(str(record.get("answer", "")), turn, known or None)


def _linked(text: str, turn: int, known: set[int] | None) -> str:
    """Escaped text whose [n] markers link to the passages in the sources panel."""
    parts, last = [], 0
    for m in _MARKER.finditer(text):
        parts.append(md_esc(text[last:m.start()]))
        numbers = [int(n) for n in m.group(1).split(",")]
        parts.append(" " + cite_links(numbers, turn, known))
        last = m.end()
    parts.append(md_esc(text[last:]))
    return "".join(parts)


def stamp_html(record: Record) -> str:
    bits = [f'<span class="model">{md_esc(record.get("model", ""))}</span>']
    standalone = str(record.get("standalone_query") or "").strip()
    if standalone and standalone != str(record.get("question", "")).strip():
        bits.append(f'<span class="searched">searched: “{md_esc(standalone)}”</span>')
    total = (record.get("timings") or {}).get("total_ms")
    if total:
        bits.append(f"{float(total) / 1000:.1f} s")
    if record.get("retried"):
        title = ("The first draft declined; this answer is from a second try, told that the "
                 "answer is in the passages.")
        bits.append(f'<span class="retried" title="{esc(title)}">second try</span>')
    if record.get("quoted"):
        title = ("The model did not answer in words; this is the passage sentence that best "
                 "matches the question, quoted as it stands. Read it to check it answers.")
        bits.append(f'<span class="quoted" title="{esc(title)}">quoted from the passage</span>')
    if record.get("cut_off"):
        title = ("The answer reached the length limit and stops there; ask a narrower question, "
                 "or raise max_answer_tokens (ASSISTANT_MAX_ANSWER_TOKENS).")
        bits.append(f'<span class="cut-off" title="{esc(title)}">cut off at the length limit'
                    "</span>")
    if record.get("stopped"):
        bits.append("stopped")
    return f'<div class="stamp">{" · ".join(bits)}</div>'


def render_answer(record: Record, turn: int) -> str:
    """One assistant message: the answer with linked markers, flags, abstention and stamp."""
    if record.get("abstained"):
        reason = str(record.get("abstain_reason", ""))
        title = ABSTAIN_TITLES.get(reason, "The documents do not say")
        message = md_esc(record.get("answer", ""))
        pointed = {int(p["n"]) for p in record.get("pointed") or []}
        if pointed:
            title = "No answer, only a passage to read"
            message = _linked(str(record.get("answer", "")), turn, pointed)
        body = (
            f'<div class="abstain" role="note"><span class="abstain-title">ℹ {md_esc(title)}'
            f"</span><br>{message}</div>"
        )
    elif record.get("stopped") and not record.get("sentences"):
        body = f'<div class="answer">{md_esc(record.get("answer", ""))} …</div>'
    else:
        body = f'<div class="answer">{_answer_body(record, turn)}</div>'
    return f'<div class="turn" data-turn="{int(turn)}">{body}{stamp_html(record)}</div>'


def render_partial(text: str, status: str = "") -> str:
    """An answer while it streams (markers are only checked once it is complete)."""
    if not text.strip():
        return f'<div class="answer pending">{md_esc(status or "Searching the documents…")}</div>'
    return f'<div class="answer streaming">{md_esc(text)}<span class="cursor">▍</span></div>'


def render_user(text: str) -> str:
    return md_esc(text)


# -- sources panel ---------------------------------------------------------------------------


def _sentences(text: str) -> list[str]:
    """Split a passage into sentence-ish pieces, separators kept, so joining gives it back."""
    return re.split(r"((?<=[.!?;:])\s+|\n+)", text)


def highlight(passage: str, claims: Sequence[str], min_share: float = 0.34) -> str:
    """The passage, escaped, with the sentence that best supports each claim in <mark>."""
    pieces = _sentences(passage)
    words = [set(tokens(p)) if i % 2 == 0 else set() for i, p in enumerate(pieces)]
    marked: set[int] = set()
    for claim in claims:
        want = set(tokens(claim))
        if not want:
            continue
        best, best_i = (0.0, 0.0), -1
        for i in range(0, len(pieces), 2):
            shared = len(want & words[i])
            if shared < min(2, len(want)):
                continue
            # Of the pieces holding as much of the claim, the one with the fewest other words:
            # the note itself rather than its label ("Footnote 1 (… the freedoms):").
            fit = (shared / len(want), shared / len(words[i]))
            if fit > best:
                best, best_i = fit, i
        if best_i >= 0 and best[0] >= min_share:
            marked.add(best_i)
    out = []
    for i, piece in enumerate(pieces):
        out.append(f"<mark>{esc(piece)}</mark>" if i in marked and piece.strip() else esc(piece))
    return "".join(out)


def _meta_line(p: Mapping[str, Any]) -> str:
    bits = []
    if p.get("publisher"):
        bits.append(f'<span class="publisher">{esc(p["publisher"])}</span>')
    if p.get("date"):
        bits.append(f'<span class="date">{esc(p["date"])}</span>')
    url = safe_url(p.get("url"))
    if url:
        host = urlparse(url).netloc
        bits.append(
            f'<a class="url" href="{esc(url)}" target="_blank" rel="noopener noreferrer">'
            f"{esc(host)} ↗</a>"
        )
    elif p.get("url"):
        bits.append(f'<span class="url">{esc(p["url"])}</span>')
    return f'<div class="src-meta">{" · ".join(bits)}</div>' if bits else ""


def _passage_html(
    p: Mapping[str, Any], *, label: str, element_id: str = "", is_open: bool = False,
    claims: Sequence[str] = (), flag: str = "",
) -> str:
    locator = f' <span class="locator">{esc(p["locator"])}</span>' if p.get("locator") else ""
    ident = f' id="{esc(element_id)}"' if element_id else ""
    opened = " open" if is_open else ""
    flag_html = f'<div class="src-flag">⚠ {esc(flag)}</div>' if flag else ""
    return (
        f'<details class="src"{ident}{opened}><summary><span class="src-n">{esc(label)}</span> '
        f'<span class="src-title">{esc(p.get("title") or p.get("doc_id", ""))}</span>{locator}'
        f"</summary>{_meta_line(p)}{flag_html}"
        f'<blockquote class="passage">{highlight(str(p.get("text", "")), claims)}</blockquote>'
        "</details>"
    )


def render_turn_sources(record: Record, turn: int, show_retrieved: bool = True) -> str:
    citations = list(record.get("citations") or [])
    sentences = record.get("sentences") or []
    cited_chunks = {c.get("chunk_id") for c in citations}
    parts = [
        f'<section class="turn-sources" id="turn-{int(turn)}">'
        f'<h4>Answer {int(turn)} <span class="q">“{esc(record.get("question", ""))}”</span></h4>'
    ]
    for c in citations:
        n = int(c["n"])
        claims = [str(s.get("text", "")) for s in sentences if n in s.get("cited", [])]
        flag = "" if c.get("supported", True) else "a sentence citing this passage is not supported"
        parts.append(_passage_html(
            c, label=f"[{n}]", element_id=anchor(turn, n), is_open=True, claims=claims, flag=flag,
        ))
    others = [p for p in record.get("retrieved") or [] if p.get("chunk_id") not in cited_chunks]
    if record.get("stopped") and not citations:
        parts.append('<div class="none">Stopped before the answer was complete, so its '
                     "citations were not checked.</div>")
        if others:
            parts.append('<div class="closest">Passages the model was reading:</div>')
            parts.extend(_passage_html(p, label=f"#{i}") for i, p in enumerate(others, 1))
    elif record.get("abstained") and others:
        # An abstention says the closest passages are "listed below": list them in the open,
        # first any the model pointed at without answering.
        by_chunk = {p.get("chunk_id"): p for p in others}
        pointed = [(int(q["n"]), by_chunk[q.get("chunk_id")]) for q in record.get("pointed") or []
                   if q.get("chunk_id") in by_chunk]
        if pointed:
            parts.append('<div class="closest">The passage the model pointed at, unconfirmed:'
                         "</div>")
            parts.extend(_passage_html(p, label=f"[{n}]", element_id=anchor(turn, n),
                                       is_open=True) for n, p in pointed)
            shown = {p.get("chunk_id") for _, p in pointed}
            others = [p for p in others if p.get("chunk_id") not in shown]
            if others:
                parts.append('<div class="closest">Other close passages:</div>')
        else:
            parts.append('<div class="closest">Closest passages (none of them answers it):</div>')
        # Numbered by rank, as the model saw them: "#4" after a pointed-at "[3]", not "#3".
        rank = {p.get("chunk_id"): i for i, p in enumerate(record.get("retrieved") or [], 1)}
        parts.extend(_passage_html(p, label=f"#{rank[p.get('chunk_id')]}") for p in others)
    elif not citations and not others:
        parts.append('<div class="none">No passages.</div>')
    elif others and show_retrieved:
        parts.append(
            f'<details class="others"><summary>Retrieved but not cited ({len(others)})</summary>'
            + "".join(_passage_html(p, label=f"#{i}") for i, p in enumerate(others, 1))
            + "</details>"
        )
    parts.append("</section>")
    return "".join(parts)


EMPTY_SOURCES = (
    '<div class="sources-empty">Sources appear here. Click a marker such as '
    '<span class="cite">[1]</span> in an answer to jump to the passage it cites.</div>'
)


def render_searched(record: Record, turn: int) -> str:
    """The sources of an answer still being written: what the search found, in rank order.
    Which of them the answer cites is known only once it is complete and checked."""
    question = record.get("question", "")
    parts = [
        f'<section class="turn-sources pending" id="turn-{int(turn)}">'
        f'<h4>Answer {int(turn)} <span class="q">“{esc(question)}”</span></h4>'
    ]
    standalone = record.get("standalone_query", "")
    if standalone and standalone != question:
        parts.append(f'<div class="searched">Searched for: “{esc(standalone)}”</div>')
    passages = record.get("retrieved") or []
    if passages:
        parts.append(f'<div class="closest">Found {len(passages)} passages; the answer is being '
                     "written from them, and its citations appear here when it is done.</div>")
        parts.extend(_passage_html(p, label=f"#{i}") for i, p in enumerate(passages, 1))
    else:
        parts.append('<div class="none">No passages found.</div>')
    parts.append("</section>")
    return "".join(parts)


def render_sources(
    turns: Sequence[tuple[int, Record]], show_retrieved: bool = True,
    searching: Record | None = None,
) -> str:
    """The sources panel for a conversation: the latest answer first. `searching` is the turn
    being answered right now (its question, standalone query and retrieved passages)."""
    if not turns and searching is None:
        return f'<div class="sources">{EMPTY_SOURCES}</div>'
    body = "".join(render_turn_sources(r, t, show_retrieved) for t, r in reversed(turns))
    if searching is not None:
        body = render_searched(searching, len(turns) + 1) + body
    return f'<div class="sources">{body}</div>'


# -- other panels ---------------------------------------------------------------------------


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


def report_iframe(report_html: str, height: int = 640) -> str:
    """An eval report inside a sandboxed iframe: no script in it can run."""
    return (
        f'<iframe class="eval-report" sandbox="" style="width:100%;height:{int(height)}px;'
        f'border:1px solid var(--border-color-primary)" srcdoc="{esc(report_html)}"></iframe>'
    )


def summary_table(summary: Any) -> tuple[list[str], list[list[Any]]]:
    """Rows for a run's summary.json, whatever its exact shape (list of rows or per-model map)."""
    rows: list[Mapping[str, Any]] = []
    if isinstance(summary, list):
        rows = [r for r in summary if isinstance(r, Mapping)]
    elif isinstance(summary, Mapping):
        for key in ("models", "rows", "summary", "results"):
            value = summary.get(key)
            if isinstance(value, list) and all(isinstance(r, Mapping) for r in value):
                rows = value
                break
            if isinstance(value, Mapping) and all(isinstance(r, Mapping) for r in value.values()):
                rows = [_model_row(k, v) for k, v in value.items()]
                break
        else:
            if summary and all(isinstance(v, Mapping) for v in summary.values()):
                rows = [_model_row(k, v) for k, v in summary.items()]
            elif summary:
                rows = [summary]
    headers: list[str] = []
    for r in rows:
        for k, v in r.items():
            if k not in headers and (not isinstance(v, (list, dict)) or _is_interval(v)):
                headers.append(str(k))
    table = [[_cell(r.get(h)) for h in headers] for r in rows]
    return headers, table


def _model_row(model: str, data: Mapping[str, Any]) -> dict[str, Any]:
    # The eval runner nests each model's headline metrics under "overall".
    overall = data.get("overall")
    return {"model": model, **(overall if isinstance(overall, Mapping) else data)}


def _is_interval(value: Any) -> bool:
    """A [low, high] pair, such as accuracy_ci95."""
    return (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, (int, float)) for v in value))


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if _is_interval(value):
        return f"{value[0]:.3f}–{value[1]:.3f}"
    return "" if value is None else value


# -- export -----------------------------------------------------------------------------------


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


def passage_record(p: Any) -> dict[str, Any]:
    """The plain view of a retrieved Passage that the UI stores and renders."""
    return {
        "chunk_id": p.chunk_id, "doc_id": p.doc_id, "title": p.title, "url": p.url,
        "publisher": p.publisher, "date": p.date, "locator": p.locator, "text": p.text,
        "similarity": p.similarity, "score": p.score,
    }


def record_from_result(result: Any) -> dict[str, Any]:
    """The plain, JSON-able view of an AnswerResult that the UI stores and renders."""
    return {
        "question": result.question,
        "answer": result.answer,
        "abstained": bool(result.abstained),
        "abstain_reason": result.abstain_reason,
        "model": result.model,
        "standalone_query": result.standalone_query,
        "sentences": [
            {"text": s.text, "cited": list(s.cited), "supported": bool(s.supported),
             "support": round(float(s.support), 3)}
            for s in result.sentences
        ],
        "citations": result.citations(),
        "retrieved": [passage_record(p) for p in result.retrieved],
        "timings": dict(result.timings),
        "retried": bool(result.retried),
        "cut_off": bool(result.cut_off),
        "quoted": bool(result.quoted),
        "pointed": result.pointed_passages(),
        "stopped": False,
    }
