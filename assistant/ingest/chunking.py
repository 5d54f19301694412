"""Chunking that fits the embedder: paragraph- and sentence-aware packing under a token budget.

Pure: the caller passes the embedder's token counter, so chunk sizes are measured in the same word
pieces the embedder reads (MiniLM silently cuts everything past 256).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from assistant.ingest.blocks import Block
from assistant.sentences import Rule, split

CountTokens = Callable[[str], int]

# Chunks are packed from clauses, not only sentences: a semicolon or colon ends a unit too, so a
# legal list's items ("…; (b) …") and the line that opens it ("… shall be prohibited:") can be
# packed apart, and the opening line found (see _units). Changing this re-cuts the corpus.
SENTENCES = Rule(ends=r"[.!?;:]", opens=r"[\"“(‘A-Z0-9]")


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    chunk_id: str
    text: str
    locator: str
    heading: str
    start: int
    end: int
    # The opening line of the list this chunk continues ("The following AI practices shall be
    # prohibited:"), when the chunk starts after it; "" otherwise. Shown to the model, not
    # embedded: searched with every list item, it pulled in the wrong items.
    lead: str = ""

    def embed_text(self, title: str) -> str:
        # The title and heading travel with the passage so a short chunk of a licence still says
        # which licence it is; it also helps BM25 for questions that name the document.
        context = " — ".join(x for x in (title, self.heading or self.locator) if x)
        return f"{context}\n{self.text}" if context else self.text


@dataclass(frozen=True)
class _Unit:
    text: str
    start: int
    end: int
    locator: str
    heading: str
    # The block's opening sentence when it introduces a list (ends with ":"), and whether this
    # unit is that sentence.
    lead: str = ""
    opens: bool = False


# A list's opening line longer than this is not repeated in front of its later chunks.
LEAD_CHARS = 300


def document_text(blocks: list[Block]) -> tuple[str, list[int]]:
    """The document as one string (blocks joined by blank lines) and each block's offset."""
    offsets, parts, pos = [], [], 0
    for b in blocks:
        offsets.append(pos)
        parts.append(b.text)
        pos += len(b.text) + 2
    return "\n\n".join(parts), offsets


def _units(blocks: list[Block], offsets: list[int]) -> list[_Unit]:
    units = []
    for block, base in zip(blocks, offsets, strict=True):
        pos = 0
        pieces = [p for p in split(block.text, SENTENCES) if p.strip()]
        first = pieces[0].strip() if pieces else ""
        lead = first if first.endswith(":") and len(first) <= LEAD_CHARS else ""
        for i, piece in enumerate(pieces):
            at = block.text.find(piece, pos)
            pos = at + len(piece)
            units.append(_Unit(piece.strip(), base + at, base + pos, block.locator, block.heading,
                               lead, i == 0))
    return units


def _split_long(unit: _Unit, budget: int, count: CountTokens) -> list[_Unit]:
    words = unit.text.split(" ")
    out: list[str] = []
    current: list[str] = []
    for w in words:
        if current and count(" ".join([*current, w])) > budget:
            out.append(" ".join(current))
            current = []
        current.append(w)
    if current:
        out.append(" ".join(current))
    pieces, pos = [], unit.start
    for text in out:
        pieces.append(_Unit(text, pos, pos + len(text), unit.locator, unit.heading))
        pos += len(text) + 1
    return pieces


def _span_locator(locators: list[str]) -> str:
    seen = [loc for i, loc in enumerate(locators) if loc and loc not in locators[:i]]
    if not seen:
        return ""
    return seen[0] if len(seen) == 1 else f"{seen[0]} – {seen[-1]}"


def chunk_blocks(
    doc_id: str,
    blocks: list[Block],
    count: CountTokens,
    chunk_tokens: int = 180,
    overlap_tokens: int = 30,
    title: str = "",
) -> list[Chunk]:
    """Pack sentences into chunks of at most `chunk_tokens` (title and heading included).

    A chunk never spans two headings (two articles of a regulation, two sections of a licence);
    neighbouring chunks under one heading repeat up to `overlap_tokens` of trailing sentences.
    """
    _, offsets = document_text(blocks)
    chunks: list[Chunk] = []
    current: list[_Unit] = []
    used = 0

    def flush(keep_overlap: bool) -> None:
        nonlocal current, used
        if not current:
            return
        text = " ".join(u.text for u in current)
        chunks.append(
            Chunk(
                doc_id=doc_id,
                chunk_id=f"{doc_id}:{len(chunks):05d}",
                text=text,
                locator=_span_locator([u.locator for u in current]),
                heading=current[0].heading,
                start=current[0].start,
                end=current[-1].end,
                lead="" if current[0].opens else current[0].lead,
            )
        )
        carry: list[_Unit] = []
        if keep_overlap and overlap_tokens:
            size = 0
            for u in reversed(current[1:]):
                size += count(u.text)
                if size > overlap_tokens:
                    break
                carry.insert(0, u)
        current = carry
        used = sum(count(u.text) for u in carry)

    for unit in _units(blocks, offsets):
        context = " — ".join(x for x in (title, unit.heading or unit.locator) if x)
        prefix = count(context) + 1 if context else 0
        budget = max(chunk_tokens // 2, chunk_tokens - prefix)
        if current and unit.heading != current[0].heading:
            flush(keep_overlap=False)
        n = count(unit.text)
        pieces = _split_long(unit, budget, count) if n > budget else [unit]
        for piece in pieces:
            size = count(piece.text) if len(pieces) > 1 else n
            if current and used + size > budget:
                flush(keep_overlap=True)
                if current and used + size > budget:
                    current, used = [], 0
            current.append(piece)
            used += size
    flush(keep_overlap=False)
    return chunks
