"""HTML of the sources panel: each answer's cited passages (with the supporting sentence
marked), the passages retrieved but not cited, and those of an answer still being written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from assistant.answer.result import searched_for
from assistant.retrieve.text import tokens
from assistant.sentences import Rule, spans
from ui.escape import esc, safe_url
from ui.records import merged_for_sources

Record = Mapping[str, Any]


def anchor(turn: int, n: int) -> str:
    return f"src-{int(turn)}-{int(n)}"


# The chunker's clause ends, whatever follows them: a mark covers the clause that supports a
# claim, not every clause up to the next capital.
CLAUSES = Rule(ends=r"[.!?;:]")


def _sentences(text: str) -> list[str]:
    """Split a passage into sentence-ish pieces, separators kept, so joining gives it back."""
    cut = spans(text, CLAUSES)
    pieces = [text[slice(*cut[0])]]
    for (_, end), (start, stop) in zip(cut, cut[1:], strict=False):
        pieces += [text[end:start], text[start:stop]]
    return pieces


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
    meta = " · ".join(bits)
    action = summarize_button(p)
    return f'<div class="src-meta">{meta}{" " if meta else ""}{action}</div>' if bits or action \
        else ""


def summarize_button(p: Mapping[str, Any]) -> str:
    """The passage's document summarized in the chat. The page script (ui/app.py, the sources
    panel's js_on_load) sends its doc id to the server, which asks for the summary."""
    doc_id = str(p.get("doc_id") or "")
    if not doc_id:
        return ""
    title = str(p.get("title") or doc_id)
    return (f'<button type="button" class="summarize-doc" data-doc="{esc(doc_id)}" '
            f'aria-label="Summarize {esc(title)} in the chat" title="Ask the chat for a summary '
            f'of this document, searching only it">Summarize this document</button>')


def _passage_html(
    p: Mapping[str, Any], *, label: str, element_id: str = "", is_open: bool = False,
    claims: Sequence[str] = (), flag: str = "",
) -> str:
    locator = f' <span class="locator">{esc(p["locator"])}</span>' if p.get("locator") else ""
    ident = f' id="{esc(element_id)}"' if element_id else ""
    opened = " open" if is_open else ""
    flag_html = f'<div class="src-flag">⚠ {esc(flag)}</div>' if flag else ""
    if p.get("cited_by"):
        flag_html = (f'<div class="cited-by">cited by {esc(", ".join(p["cited_by"]))}</div>'
                     + flag_html)
    if p.get("injection"):
        flag_html += ('<div class="src-flag injection">⚠ This passage contains text addressed to '
                      "the assistant (an instruction, not information); it was not passed to the "
                      "model as an instruction.</div>")
    return (
        f'<details class="src"{ident}{opened}><summary><span class="src-n">{esc(label)}</span> '
        f'<span class="src-title">{esc(p.get("title") or p.get("doc_id", ""))}</span>{locator}'
        f"</summary>{_meta_line(p)}{flag_html}"
        f'<blockquote class="passage">{highlight(str(p.get("text", "")), claims)}</blockquote>'
        "</details>"
    )


def render_turn_sources(record: Record, turn: int, show_retrieved: bool = True) -> str:
    # A comparison's models answered from the same passages: one list, each marked by who cited.
    record = merged_for_sources(dict(record))
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
        given = any(p.get("in_prompt") for p in record.get("retrieved") or [])
        parts.extend(_passage_html(
            p, label=f"#{rank[p.get('chunk_id')]}",
            # Only when a prompt was built: an abstention decided before it gave none at all.
            flag=OVER_BUDGET if given and p.get("in_prompt") is False else "",
        ) for p in others)
    elif not citations and not others:
        parts.append('<div class="none">No passages.</div>')
    elif others and show_retrieved:
        # Passages past the prompt budget were never shown to the model: say so, apart from
        # those it read and did not cite. (Old records have no in_prompt: counted as read.)
        read = [p for p in others if p.get("in_prompt", True)]
        over = [p for p in others if not p.get("in_prompt", True)]
        if read:
            parts.append(
                f'<details class="others"><summary>Retrieved but not cited ({len(read)})'
                "</summary>"
                + "".join(_passage_html(p, label=f"#{i}") for i, p in enumerate(read, 1))
                + "</details>"
            )
        if over:
            parts.append(
                f'<details class="others over-budget"><summary>Retrieved but over the prompt '
                f"budget, not given to the model ({len(over)})</summary>"
                + "".join(_passage_html(p, label=f"#{i}", flag=OVER_BUDGET)
                          for i, p in enumerate(over, len(read) + 1))
                + "</details>"
            )
    parts.append("</section>")
    return "".join(parts)


OVER_BUDGET = "not given to the model: past the prompt budget"

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
    if searched := searched_for(record):
        parts.append(f'<div class="searched">Searched for: “{esc(searched)}”</div>')
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
