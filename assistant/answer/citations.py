"""Citation markers and per-sentence support: pure functions over the answer text and passages.

A marker [n] is valid when 1 <= n <= number of passages. Each sentence is checked against the
passage it cites by content-word overlap: supported, supported by another passage (the marker is
moved there), or unsupported (flagged, never silently kept as if grounded). A number that neither
the question nor any passage contains makes a sentence unsupported whatever its overlap: an
invented figure (a revenue, an age, a parameter count) is the commonest way a small model answers
from memory. Names are left to the overlap score: "Palo Alto, California" is a right answer from a
passage that says only "Palo Alto-based".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.retrieve.text import tokens
from assistant.sentences import Rule, split

MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
# An answer is checked a sentence at a time, and a model writes whole sentences: a semicolon
# joins two clauses of one claim, which share its marker. The next sentence must open with a
# capital or a figure, so "e.g. the" or "Art. 5" stays whole.
SENTENCES = Rule(ends=r"[.!?]", opens=r"[A-Z0-9“\"(]")

SUPPORT_THRESHOLD = 0.5


@dataclass
class Sentence:
    text: str
    cited: list[int] = field(default_factory=list)
    supported: bool = True
    support: float = 1.0
    # When the model cited the wrong passage and another one supports the sentence.
    moved_from: list[int] = field(default_factory=list)


def markers(text: str) -> list[int]:
    out: list[int] = []
    for m in MARKER.finditer(text):
        for n in m.group(1).split(","):
            if int(n) not in out:
                out.append(int(n))
    return out


def strip_markers(text: str) -> str:
    return MARKER.sub("", text).strip()


def split_sentences(text: str) -> list[str]:
    # Markers stay attached to the sentence they close: "... Ek [1]. Next" splits after "[1]."
    text = re.sub(r"\.\s*(\[\d+(?:\s*,\s*\d+)*\])", r" \1.", text)
    return [s.strip() for s in split(text, SENTENCES) if s and s.strip()]


def _is_number(word: str) -> bool:
    return word[:1].isdigit()


# A figure with thousands grouped by spaces ("35 000 000", as EU texts write it) or any number.
_NUMBER = re.compile(r"\d{1,3}(?:[ ,.]\d{3})+(?!\d)|\d+(?:[.,^/]\d+)*")


# Where a header names a provision: "Article 99(3)", "Section 1.b.ii", "Annex III, point 4".
_PROVISION_NAME = re.compile(
    r"(?:article|art\.|section|annex|recital|chapter|paragraph|point|part)\s+[0-9A-Za-z.()]+",
    re.IGNORECASE)


def known_numbers(question: str, passages: list[str]) -> set[str]:
    """Every figure in the question and passages, with separators dropped: "35 000 000" and
    "35,000,000" are one figure written two ways. A passage's first line is its header (title
    and locator): the numbers of the provision it names are references, not figures (see
    `references`); the title's ("Llama 3.1") count."""
    texts = [question]
    for p in passages:
        header, _, body = p.partition("\n")
        texts += [_PROVISION_NAME.sub(" ", header), body]
    return {_flat(m.group()) for text in texts for m in _NUMBER.finditer(text)}


def references(passages: list[str]) -> set[str]:
    """The numbers of the provisions the passages' headers name ("Article 23(1)": 23 and 1)."""
    return {_flat(m.group()) for p in passages
            for name in _PROVISION_NAME.findall(p.partition("\n")[0])
            for m in _NUMBER.finditer(name)}


# Words before a number that make it name a provision rather than state a figure.
_PROVISION = re.compile(r"(?:article|art\.|section|annex|recital|chapter|paragraph|point|part)"
                        r"\s*$", re.IGNORECASE)


def invented(sentence: str, question: str, passages: list[str],
             known: set[str] | None = None, refs: set[str] | None = None) -> list[str]:
    """Numbers in the sentence that neither the question nor any passage's text contains. A
    number from a passage's header counts only where the sentence names a provision with it:
    "under Article 23 [1]" is grounded, "a context window of 23 days" is not."""
    known = known_numbers(question, passages) if known is None else known
    refs = references(passages) if refs is None else refs
    body = strip_markers(sentence)
    return [m.group() for m in _NUMBER.finditer(body)
            if _flat(m.group()) not in known
            and not (_flat(m.group()) in refs and _PROVISION.search(body[: m.start()]))]


def _flat(number: str) -> str:
    return re.sub(r"[,.\s]", "", number)


def support(sentence: str, passage: str) -> float:
    """Share of the sentence's content words found in the passage (1.0 for no content words).

    A number the passage does not contain counts double: invented figures (a revenue, an age)
    are the commonest way a small model answers from memory instead of the documents.
    """
    words = set(tokens(strip_markers(sentence)))
    if not words:
        return 1.0
    found = set(tokens(passage))
    weight = {w: 2.0 if _is_number(w) else 1.0 for w in words}
    return sum(weight[w] for w in words if w in found) / sum(weight.values())


def check_sentences(
    answer: str, passages: list[str], threshold: float = SUPPORT_THRESHOLD, question: str = ""
) -> list[Sentence]:
    results: list[Sentence] = []
    numbers, refs = known_numbers(question, passages), references(passages)
    for raw in split_sentences(answer):
        cited = [n for n in markers(raw) if 1 <= n <= len(passages)]
        body = strip_markers(raw)
        if not body:
            continue
        scores = [support(body, p) for p in passages]
        sentence = Sentence(text=body, cited=cited)
        if invented(body, question, passages, numbers, refs):
            sentence.supported = False
            sentence.support = min(max(scores, default=0.0), threshold / 2)
            results.append(sentence)
            continue
        best_n = max(range(len(scores)), key=lambda i: scores[i]) + 1 if scores else 0
        best = scores[best_n - 1] if best_n else 0.0
        if len(set(tokens(body))) < 2:
            # Too short to judge by overlap ("Yes.", "California."): keep what the model cited.
            # Left uncited, its one word cites the best passage containing it, or, if no passage
            # contains it, is unsupported: "Canberra." must not pass for lack of a marker.
            sentence.support = best
            # List numbering the sentence splitter cut off ("1.", "a.") is not an answer.
            words = {w for w in tokens(body)
                     if w != "yes" and not re.fullmatch(r"\d{1,2}|[a-z]", w)}
            if words and not cited:
                if best > 0:
                    sentence.cited = [best_n]
                else:
                    sentence.supported = False
            results.append(sentence)
            continue
        cited_best = max((scores[n - 1] for n in cited), default=0.0)
        if cited and cited_best >= threshold:
            sentence.support = cited_best
        elif best >= threshold:
            sentence.moved_from = cited
            sentence.cited = [best_n]
            sentence.support = best
        else:
            sentence.supported = False
            sentence.support = max(best, cited_best)
        results.append(sentence)
    return results


def render(sentences: list[Sentence]) -> str:
    """The answer text with checked markers: "Sentence [2]." — one marker list per sentence."""
    parts: list[str] = []
    for s in sentences:
        if parts and s.text.startswith("- "):
            parts.append("\n")  # a bullet starts its own line
        text = s.text
        if s.cited:
            tail = "".join(f"[{n}]" for n in s.cited)
            if text[-1:] in ".!?":
                text = f"{text[:-1]} {tail}{text[-1]}"
            else:
                text = f"{text} {tail}"
        parts.append(text)
    return " ".join(parts).replace(" \n ", "\n")


def cited_numbers(sentences: list[Sentence]) -> list[int]:
    out: list[int] = []
    for s in sentences:
        for n in s.cited:
            if n not in out:
                out.append(n)
    return out
