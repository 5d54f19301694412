"""The items of an enumerated provision: "(a) … (h)" of Article 5(1), "1. … 5." of a use policy.

A list spread over several chunks is one answer ("What does Article 5 prohibit?" is all eight
points, not the first chunk's two). Pure functions over passage texts: find the markers, keep the
top level in sequence (a, b, c … or 1, 2, 3 …), and cut each item's own words out, with the
number of the passage it starts in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# "(a) ", "(iv) ", "(2) " or "1. ", "1.1.3. " (the latter before a capital: "EUR 15 000 000."
# and "Section 1.b" are not items). Only after a start, a space, ":" or ";".
_MARKER = re.compile(
    r"(?:^|(?<=[\s:;]))(?:\((?P<paren>[a-z]{1,4}|\d{1,2})\)\s+(?=[a-z‘'\"“(])"
    r"|(?P<dotted>\d{1,2}(?:\.\d{1,2}){0,3})\.\s+(?=[A-Z]))"
)
_ROMAN = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii")
# Where an item's own words end: a sentence end, or the colon that opens its sub-items.
_ITEM_END = re.compile(
    r"(?<=[.;])\s+(?=[A-Z(])|:\s*(?=\(?[0-9a-z]{1,4}(?:\.[0-9a-z]{1,3})*[.)]\s)"
    r"|;\s*(?:and|or)?\s*$"
)


@dataclass(frozen=True)
class Item:
    label: str  # "(a)", "2."
    text: str  # the item's own words, without its sub-items
    n: int  # the passage it starts in, 1-based


@dataclass(frozen=True)
class _Mark:
    start: int
    end: int
    kind: str
    label: str


def _marks(text: str) -> list[_Mark]:
    out = []
    for m in _MARKER.finditer(text):
        if m.group("paren"):
            label = m.group("paren")
            kind = "number" if label.isdigit() else "letter"
        else:
            label = m.group("dotted")
            kind = f"dotted{label.count('.')}"
        out.append(_Mark(m.start(), m.end(), kind, label))
    return out


def _next(kind: str, label: str) -> str:
    if kind == "letter":
        return chr(ord(label) + 1) if len(label) == 1 else ""
    if kind == "number":
        return str(int(label) + 1)
    head, _, last = label.rpartition(".")
    return f"{head}.{int(last) + 1}" if head else str(int(last) + 1)


def _first(mark: _Mark) -> bool:
    return mark.label in ("a", "1", "i") or (mark.kind.startswith("dotted")
                                             and mark.label.endswith(".1"))


def _rank(run: list[_Mark]) -> tuple[int, int]:
    # The shallowest level wins ("1." over "1.1."), then the longest run.
    return run[0].label.count("."), -len(run)


def top_level(text: str) -> list[_Mark]:
    """The run of markers of one kind in sequence from a first label ((a), 1., 1.1.) at the
    shallowest level, the longest of those: the list's top level; sub-items (after a colon, or
    of another kind or depth) stay inside their items."""
    marks = _marks(text)
    best: list[_Mark] = []
    for i, first in enumerate(marks):
        if not _first(first):
            continue
        # A list opening with "(i)" counts in Roman numerals: (i), (ii), (iii).
        roman = first.label == "i"
        run, want = [first], "ii" if roman else _next(first.kind, first.label)
        for m in marks[i + 1:]:
            if m.kind == first.kind and m.label == first.label:
                break  # a new list of the same kind starts: this one has ended
            if m.kind != first.kind or m.label != want:
                continue
            # "(i)" right after a colon opens a nested list, not the letter after (h).
            if m.label == "i" and text[:m.start].rstrip().endswith(":"):
                continue
            run.append(m)
            if roman:
                k = _ROMAN.index(m.label) + 1
                want = _ROMAN[k] if k < len(_ROMAN) else ""
            else:
                want = _next(m.kind, m.label)
        if len(run) >= 2 and (not best or _rank(run) < _rank(best)):
            best = run
    return best


def opening(texts: Sequence[str]) -> str:
    """The sentence that opens the list ("The following AI practices shall be prohibited:"),
    "" when the list starts its passage."""
    joined = " ".join(t.strip() for t in texts)
    run = top_level(joined)
    if not run:
        return ""
    before = joined[: run[0].start].rstrip()
    return re.split(r"(?<=[.;])\s+(?=[A-Z])", before)[-1].strip() if before else ""


def items(texts: Sequence[str]) -> list[Item]:
    """The top-level items of the list the passages hold, in order, each with the number of
    the passage it starts in; [] when they hold no list of two items or more."""
    joined, starts = "", []
    for t in texts:
        starts.append(len(joined))
        joined += t.strip() + " "
    run = top_level(joined)
    out = []
    for i, mark in enumerate(run):
        stop = run[i + 1].start if i + 1 < len(run) else len(joined)
        body = joined[mark.end:stop].strip()
        end = _ITEM_END.search(body)
        if end:
            body = body[: end.start()].rstrip(" ;,:") + ("…" if end.group().startswith(":") else "")
        body = body.rstrip(" ;,")
        n = max(i for i, s in enumerate(starts) if s <= mark.start) + 1
        label = f"({mark.label})" if mark.kind in ("letter", "number") else f"{mark.label}."
        if body:
            out.append(Item(label, body, n))
    return out
