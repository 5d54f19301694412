"""Structural references: "Article 53(2)", "Recital 102", "Annex XI", "Section 1.b.ii".

A question that names a provision means that provision. Its words are a poor search query for it:
"Article 53(2)" reads as the tokens "article", "53" and "2", and the chunk holding paragraph 2
says "The obligations set out in paragraph 1 ...", nowhere "53(2)". Chunks carry a locator instead
("Article 53(2) – Article 53(3)" for a chunk spanning two paragraphs), and this module matches the
two: pure functions, no index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# "Article 53(2)", "Articles 53", "Annex XI, Section 1, point 2", "Section 1.b.ii", "Section 1(a)"
_REF = re.compile(
    r"\b(?P<kind>article|recital|annex|section)s?\s+"
    r"(?P<label>\d+[a-z]?|[ivxlc]+\b)"
    r"(?P<subs>(?:\s?\(\s?[0-9a-z]{1,4}\s?\))*(?:\.[0-9a-z]{1,4}\b)*"
    r"(?:,\s(?:section|point)\s[0-9a-z]{1,4}(?:\.\d+)*\b)*)",
    re.IGNORECASE,
)
_SUB = re.compile(r"[0-9a-z]+", re.IGNORECASE)
_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}
_ROMAN_FORM = re.compile(r"^(c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")


def _roman(text: str) -> int | None:
    text = text.lower()
    if not text or not _ROMAN_FORM.match(text):
        return None
    total = 0
    for i, ch in enumerate(text):
        value = _ROMAN[ch]
        total += -value if i + 1 < len(text) and _ROMAN[text[i + 1]] > value else value
    return total


def _ordinal(label: str, level: int, kind: str) -> int:
    """A label as a number that orders like the document: "53" 53, "XI" 11 (an annex), "b" 2,
    "ii" 2. A licence's "Section 1.b.ii" counts its third level in Roman numerals; a regulation's
    "Article 5(1)(c)" counts points in letters."""
    label = label.lower()
    if label.isdigit():
        return int(label)
    if (level == 0 and kind == "annex") or (level >= 2 and kind == "section"):
        value = _roman(label)
        if value is not None:
            return value
    if label[:-1].isdigit():  # "5a": after 5, before 6
        return int(label[:-1]) * 100 + ord(label[-1]) - 96
    if len(label) == 1:
        return ord(label) - 96
    return _roman(label) or 0


@dataclass(frozen=True)
class Ref:
    kind: str
    path: tuple[int, ...]


def parse_refs(text: str) -> list[Ref]:
    """Every reference in the text, in order, each once."""
    out: list[Ref] = []
    for m in _REF.finditer(text):
        kind = m.group("kind").lower()
        labels = [m.group("label"), *_SUB.findall(re.sub(
            r",\s(?:section|point)\s", ".", m.group("subs"), flags=re.IGNORECASE
        ))]
        ref = Ref(kind, tuple(_ordinal(lab, i, kind) for i, lab in enumerate(labels)))
        if kind == "annex" or ref.path[0] > 0:
            if ref not in out:
                out.append(ref)
    return out


def span(locator: str) -> tuple[Ref, Ref] | None:
    """The first and last provision a chunk's locator names ("Article 53(2) – Article 53(3)")."""
    refs = parse_refs(locator)
    if not refs:
        return None
    return refs[0], refs[-1]


def covers(bounds: tuple[Ref, Ref], ref: Ref) -> bool:
    """The chunk spanning `bounds` holds (part of) the provision `ref`. Paths compare on the
    levels both name: "Article 53" holds "Article 53(2)", and "Article 53(2)" is part of
    "Article 53"."""
    first, last = bounds
    if not (first.kind == ref.kind == last.kind):
        return False
    lo = min(len(first.path), len(ref.path))
    hi = min(len(last.path), len(ref.path))
    return first.path[:lo] <= ref.path[:lo] and ref.path[:hi] <= last.path[:hi]
