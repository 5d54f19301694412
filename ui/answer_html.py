"""HTML of chat messages: an answer with its citation markers linked to the sources panel, its
flags, an abstention notice, the stamp under it; a streaming answer; the user's question."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from assistant.answer.citations import MARKER
from assistant.answer.result import searched_for
from ui import scope
from ui.escape import esc, md_esc
from ui.sources_html import anchor

Record = Mapping[str, Any]

ABSTAIN_TITLES = {
    "no_relevant_passages": "Not in the documents",
    "passages_do_not_answer": "The documents do not answer this",
    "answer_not_supported": "No supported answer",
    "passages_do_not_mention": "Not in the closest passages",
}


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


# A list item as models and the overview answer write it: "- text [n]", "* text", "• text".
_BULLET = re.compile(r"^\s*[-*•]\s+")


def _bulleted(sentences: Sequence[Mapping[str, Any]], turn: int, known: set[int]) -> str:
    """Checked sentences of a list answer: a sentence that opens with a bullet starts an item,
    the ones after it (a second sentence on the same line) continue it."""
    head: list[str] = []
    items: list[list[str]] = []
    for s in sentences:
        text = str(s.get("text", ""))
        m = _BULLET.match(text)
        if m:
            items.append([_sentence_html({**s, "text": text[m.end():]}, turn, known)])
        else:
            (items[-1] if items else head).append(_sentence_html(s, turn, known))
    lead = f"<div>{' '.join(head)}</div>" if head else ""
    return lead + '<ul class="bullets">' + "".join(
        f"<li>{' '.join(item)}</li>" for item in items) + "</ul>"


def _lines(text: str, inline: Callable[[str], str]) -> str:
    """Text with list lines as a list, each line's text through `inline`; text without any
    bullet line as one run (its newlines as <br>)."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not any(_BULLET.match(line) for line in lines):
        return inline(text)
    out: list[str] = []
    items: list[str] = []
    for line in lines:
        m = _BULLET.match(line)
        if m:
            items.append(f"<li>{inline(line[m.end():])}</li>")
            continue
        if items:
            out.append(f'<ul class="bullets">{"".join(items)}</ul>')
            items = []
        out.append(f"<div>{inline(line)}</div>")
    if items:
        out.append(f'<ul class="bullets">{"".join(items)}</ul>')
    return "".join(out)


def _answer_body(record: Record, turn: int) -> str:
    known = {int(c["n"]) for c in record.get("citations", [])}
    sentences = record.get("sentences") or []
    if sentences:
        if any(_BULLET.match(str(s.get("text", ""))) for s in sentences):
            return _bulleted(sentences, turn, known)
        return " ".join(_sentence_html(s, turn, known) for s in sentences)
    # No sentence check (or an old record): link whatever markers the text carries.
    return _lines(str(record.get("answer", "")),
                  lambda line: _linked(line, turn, known or None))


def _linked(text: str, turn: int, known: set[int] | None) -> str:
    """Escaped text whose [n] markers link to the passages in the sources panel."""
    parts, last = [], 0
    for m in MARKER.finditer(text):
        parts.append(md_esc(text[last:m.start()]))
        numbers = [int(n) for n in m.group(1).split(",")]
        parts.append(" " + cite_links(numbers, turn, known))
        last = m.end()
    parts.append(md_esc(text[last:]))
    return "".join(parts)


def stamp_html(record: Record, detail: bool = False) -> str:
    """The line under an answer: model, searched query, time and how it came about; `detail`
    (a comparison's columns) adds the generation time and the prompt's size."""
    # A comparison's column names its model above the answer.
    bits = [] if detail else [f'<span class="model">{md_esc(record.get("model", ""))}</span>']
    about = scope.unit_label(record)
    if about:
        title = ("What the answer took the question to be about. If that is wrong, choose the "
                 "document under Settings, “Search only these documents”, and ask again.")
        bits.append(f'<span class="about" title="{esc(title)}">About: {md_esc(about)}</span>')
    if searched := searched_for(record):
        bits.append(f'<span class="searched">searched: “{md_esc(searched)}”</span>')
    scoped = scope.stamp_text(record)
    if scoped:
        title = "Only these documents were searched (the chat's Settings, or ask --doc)."
        bits.append(f'<span class="scoped" title="{esc(title)}">{md_esc(scoped)}</span>')
    timings = record.get("timings") or {}
    total = timings.get("total_ms")
    if detail:
        answering = max(0.0, float(total or 0) - float(timings.get("retrieve_ms") or 0))
        bits.append(f"answered in {answering / 1000:.1f} s")
        if record.get("prompt_tokens"):
            bits.append(f"{int(record['prompt_tokens'])} prompt tokens")
    elif total:
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
                 "or raise max_answer_tokens (ASSISTANT_ANSWER__MAX_ANSWER_TOKENS).")
        bits.append(f'<span class="cut-off" title="{esc(title)}">cut off at the length limit'
                    "</span>")
    if record.get("stopped"):
        bits.append("stopped")
    if record.get("feedback"):
        bits.append("you rated it right" if record["feedback"] == "up"
                    else "you rated it wrong")
    return f'<div class="stamp">{" · ".join(bits)}</div>'


def _answer_inner(record: Record, turn: int, detail: bool = False) -> str:
    if record.get("abstained"):
        reason = str(record.get("abstain_reason", ""))
        title = ABSTAIN_TITLES.get(reason, "The documents do not say")
        message = md_esc(record.get("answer", ""))
        pointed = {int(p["n"]) for p in record.get("pointed") or []}
        if pointed:
            title = "No answer, only a passage to read"
            message = _linked(str(record.get("answer", "")), turn, pointed)
        check = str(record.get("abstain_check", ""))
        decided = (f'<span class="abstain-check" title="The answer check that decided this '
                   f'(assistant/answer/checks/)">check: {md_esc(check)}</span>' if check else "")
        body = (
            f'<div class="abstain" role="note"><span class="abstain-title">ℹ {md_esc(title)}'
            f"</span><br>{message}{'<br>' + decided if decided else ''}</div>"
        )
    elif record.get("stopped") and not record.get("sentences"):
        body = f'<div class="answer">{_lines(str(record.get("answer", "")), md_esc)} …</div>'
    else:
        body = f'<div class="answer">{_answer_body(record, turn)}</div>'
    return body + stamp_html(record, detail)


def render_answer(record: Record, turn: int) -> str:
    """One assistant message: the answer with linked markers, flags, abstention and stamp."""
    if record.get("answers"):
        return render_compare(record, turn)
    return f'<div class="turn" data-turn="{int(turn)}">{_answer_inner(record, turn)}</div>'


def render_compare(
    record: Record, turn: int, streaming: Sequence[tuple[str, str]] = ()
) -> str:
    """A comparison: one column per model, side by side, from the same passages. `streaming`
    holds (model, text so far) of the columns still being written, after the finished ones."""
    marked = str(record.get("marked") or "")
    columns = []
    for a in record.get("answers") or []:
        model = str(a.get("model", ""))
        right = marked == model
        badge = '<span class="marked">✓ marked right</span>' if right else ""
        columns.append(
            f'<div class="compare-col{" is-marked" if right else ""}">'
            f'<div class="compare-model">{md_esc(model)} {badge}</div>'
            f"{_answer_inner(a, turn, detail=True)}</div>"
        )
    for i, (model, text) in enumerate(streaming):
        status = "Reading the passages…" if i == 0 else "Waiting for its turn…"
        columns.append(
            f'<div class="compare-col"><div class="compare-model">{md_esc(model)}</div>'
            f"{render_partial(text, status)}</div>"
        )
    count = len(record.get("retrieved") or [])
    note = f"Each model answered from the same {count} passages, one after the other."
    if marked == "none":
        note += " Marked: none of them is right."
    elif not streaming and not marked:
        note += " Mark the right one under the chat."
    if record.get("feedback"):
        note += " You rated it right." if record["feedback"] == "up" else " You rated it wrong."
    return (f'<div class="turn compare" data-turn="{int(turn)}">'
            f'<div class="compare-cols">{"".join(columns)}</div>'
            f'<div class="stamp compare-note">{md_esc(note)}</div></div>')


# Stands for the cursor until the text is escaped: no escaping touches it.
_CURSOR = "\u2063"


def render_partial(text: str, status: str = "") -> str:
    """An answer while it streams (markers are only checked once it is complete)."""
    if not text.strip():
        return f'<div class="answer pending">{md_esc(status or "Searching the documents…")}</div>'
    # The cursor goes where the text ends, inside the last list item when it is a list.
    html = _lines(text.replace(_CURSOR, "") + _CURSOR, md_esc)
    html = html.replace(_CURSOR, '<span class="cursor">▍</span>')
    return f'<div class="answer streaming">{html}</div>'


def render_user(text: str) -> str:
    return md_esc(text)
