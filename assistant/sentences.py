"""Sentence splitting, the one implementation every stage uses: ingest (packing chunks, finding
instructions in documents), answer (checking citations, quoting a passage), eval (an answer's
first sentence) and the UI (marking the sentence that supports a claim).

The callers do not split alike, and must not: a chunk boundary moved re-cuts the corpus, and an
answer split differently is checked differently. So each caller declares its `Rule` beside the
code that uses it, with the reason it differs; this module only turns a rule into breaks. A
line break always ends a sentence (list items, headings and table rows come one per line).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """Where a sentence ends. The fields are regular-expression fragments."""

    # A run of these ends a sentence ("?!" and "..." end it once).
    ends: str = r"[.!?]"
    # What may follow the run and still belong to the sentence: a closing quotation mark, the
    # "**" of a bold sentence.
    closers: str = ""
    # What the next sentence must open with, after the whitespace ("" for anything): a capital
    # keeps "e.g. the" whole, and "Art. 53" too where a figure may not open a sentence.
    opens: str = ""
    # False: the run, its closers and the whitespace after them belong to no piece, and a run at
    # the very end of the text is dropped too ("Yes." gives "Yes").
    keep_ends: bool = True


@functools.cache
def _pattern(rule: Rule) -> re.Pattern[str]:
    gap = rf"\s+(?={rule.opens})" if rule.opens else r"\s+"
    if not rule.keep_ends:
        gap = rf"(?:{gap}|(?=\s*$))"
    return re.compile(rf"(?P<end>(?:{rule.ends})+{rule.closers}){gap}|\n+")


def spans(text: str, rule: Rule) -> list[tuple[int, int]]:
    """(start, end) offsets of the pieces between sentence breaks, as `re.split` would cut them:
    n breaks give n + 1 pieces, which may be empty or blank (callers filter as they need). What
    lies between two pieces is the break: whitespace, or with `keep_ends=False` the end mark too."""
    out, at = [], 0
    for m in _pattern(rule).finditer(text):
        kept = m.group("end") is not None and rule.keep_ends
        out.append((at, m.end("end") if kept else m.start()))
        at = m.end()
    out.append((at, len(text)))
    return out


def split(text: str, rule: Rule) -> list[str]:
    """The pieces of `spans`, as text (unstripped, blank ones included)."""
    return [text[a:b] for a, b in spans(text, rule)]
