"""Text in a document that addresses the assistant instead of informing the reader: "ignore all
previous instructions", chat-template role markers, "answer with exactly the word X", tool-call
syntax. Found sentence by sentence at ingest (marked on the chunk), and again when a prompt is
built, where each such sentence is replaced by a note (or fenced as quoted data) so the model
reads the document's facts and not its orders.

Each pattern is tried on the sentence lower-cased with its spacing collapsed, and the phrase
patterns also on the sentence with every non-letter removed, so "I G N O R E  previous
instructions" or "ignore_previous_instructions" are caught too.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from assistant.sentences import Rule, spans

# Role and template markers of the chat formats small models are trained on.
_MARKERS = re.compile(
    r"<\|\s*(im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id)\s*\|>"
    r"|\[/?inst\]|<</?sys>>|<\s*/?\s*(tool_call|function_call|tools?|system)\s*>"
    r"|(^|\n)\s*#{2,}\s*(system|instruction|instructions|assistant|response)\s*:?"
    r"|(^|\n)\s*(system|assistant)\s*(prompt)?\s*:"
    r"|\"(name|function)\"\s*:\s*\"[^\"]+\"\s*,\s*\"(arguments|parameters)\"\s*:",
)

# Phrases that give the reader of the document (the model) an order about its answer.
_PHRASES = re.compile(
    r"\b(ignore|disregard|forget|override|bypass)\b[^.!?\n]{0,40}\b(previous|prior|above|earlier|"
    r"preceding|all|any|your|other|system)\b[^.!?\n]{0,20}\b(instructions?|prompts?|rules|"
    r"directions|guidelines|context)\b"
    r"|\b(new|updated|real|actual)\s+(system\s+)?instructions?\s*:"
    r"|\b(system|admin|developer)\s+(notice|message|override|prompt|instruction)s?\b"
    r"|\b(note|message|notice|instructions?)\s+(to|for)\s+(the\s+)?(ai|assistant|model|language "
    r"model|llm|chatbot|bot)\b"
    r"|\b(dear|attention|hey|hello)\s+(ai|assistant|model|language model|llm|chatbot)\b"
    r"|\b(to|for)\s+the\s+(ai|assistant|model|language model|llm|chatbot)\s*:"
    r"|\byou\s+are\s+now\s+(an?|the|my)\s+[a-z]+"
    r"|\bthe\s+answer\s+is\s+always\b"
    r"|\b(answer|reply|respond)\s+with\s+\S+\s+only\b"
    r"|\byou\s+are\s+(now\s+)?(an?\s+)?(ai|assistant|language model|llm|chatbot)\b"
    r"|\b(ai|assistant|model|llm|chatbot)s?\s+(must|should|shall)\s+(always\s+|now\s+|only\s+)?"
    r"(answer|reply|respond|say|output|print|write|ignore)\b"
    r"|\b(answer|reply|respond)\s+(to\s+)?(every|each|all|any)\s+(question|query|request)s?\b"
    r"|\b(answer|reply|respond)\s+(only\s+)?(with|using)\s+(exactly|only|just|the\s+(single\s+)?"
    r"word|the\s+token|the\s+phrase)\b"
    r"|\b(output|print|say|write|return|reply|respond)\b[^.!?\n]{0,60}\band\s+nothing\s+else\b"
    r"|\b(output|print|say|write|return)\s+(only|exactly|just)\b[^.!?\n]{0,40}"
    r"|\bdo\s+not\s+(mention|reveal|cite|use)\s+(the\s+)?(passages?|sources?|documents?|context)\b"
    r"|\bregardless\s+of\s+(the|what|any)\s+(question|user|passages?)\b",
)

# The same orders with spaces and punctuation squeezed out ("i g n o r e", "ignore_previous").
_SQUASHED = re.compile(
    r"(ignore|disregard|forget)(all|any|the|your)*(previous|prior|above|earlier)(instructions?|"
    r"prompts?|rules)|nothingelse|systemnotice|systemprompt|imstart|endoftext"
)

# A whole chat turn or tool call, wherever its sentences break: from the opening marker to the
# closing one (or the end of the line, for a role prefix such as "Assistant: Sure! ...").
_BLOCKS = re.compile(
    r"<\|\s*im_start\s*\|>.*?(<\|\s*im_end\s*\|>|$)|\[\s*inst\s*\].*?(\[\s*/\s*inst\s*\]|$)"
    r"|<<\s*sys\s*>>.*?(<<\s*/\s*sys\s*>>|$)|<\s*tool_call\s*>.*?(<\s*/\s*tool_call\s*>|$)"
    # A role turn: the prefix and the two sentences after it ("Assistant: Sure! The answer is
    # X."), at a line start or, as chunks join lines with spaces, after a sentence.
    r"|(?:^|(?<=[.!?])[ \t]+)[ \t]*(system|assistant)[ \t]*:(?:[^.!?\n]*(?:[.!?]+|$)){1,2}",
    re.IGNORECASE | re.DOTALL | re.MULTILINE,
)

# Any whitespace after . ! ? ends a piece, whatever follows (the answer's and the chunker's
# rules want a capital next): a piece found is cut out of the chunk, so the pieces are kept
# small, and an order that spans two of them is still found (see `find`). Offsets, not text.
SENTENCES = Rule(ends=r"[.!?]")

NOTE = "(instruction to the assistant removed)"


@dataclass(frozen=True)
class Finding:
    start: int  # character offsets of the sentence in the text
    end: int
    text: str
    kind: str  # "marker", "phrase" or "squashed"


def _normal(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    # Zero-width characters are a common way to hide a phrase from a filter.
    text = re.sub(r"[\u200b-\u200f\u2060\ufeff]", "", text)
    return re.sub(r"[ \t\r\f\v]+", " ", text)


def classify(sentence: str) -> str:
    """ "" when the sentence only informs, else which kind of pattern it matched."""
    norm = _normal(sentence)
    if _MARKERS.search(norm):
        return "marker"
    if _PHRASES.search(norm):
        return "phrase"
    if _SQUASHED.search(re.sub(r"[^a-z]", "", norm)):
        return "squashed"
    return ""


def sentences(text: str) -> list[tuple[int, int]]:
    """Offsets of the sentence-ish pieces of `text` (split after . ! ? and at line breaks)."""
    return [(a, b) for a, b in spans(text, SENTENCES) if b > a]


def find(text: str) -> list[Finding]:
    pieces = sentences(text)
    spans = [(a, b, k) for a, b in pieces if (k := classify(text[a:b]))]
    # An order broken over a line ("IGNORE ALL PREVIOUS\ninstructions") spans two pieces.
    flagged = {a for a, _, _ in spans}
    for (a, _), (c, d) in zip(pieces, pieces[1:], strict=False):
        if a not in flagged and c not in flagged and (k := classify(text[a:d])):
            spans.append((a, d, k))
    spans += [(m.start(), m.end(), "marker") for m in _BLOCKS.finditer(text)]
    found: list[Finding] = []
    for start, end, kind in sorted(spans):
        if found and start <= found[-1].end:  # overlapping pieces become one
            last = found.pop()
            start, end = last.start, max(end, last.end)
            kind = last.kind if last.kind == "marker" else kind
        found.append(Finding(start, end, text[start:end], kind))
    return found


def kinds(text: str) -> str:
    """What the chunk metadata records: the kinds found, comma-separated, or ""."""
    return ",".join(sorted({f.kind for f in find(text)}))


def neutralise(text: str, mode: str = "remove") -> str:
    """`text` with each instruction sentence replaced by NOTE ("remove") or kept inside a
    quotation that says it is document text ("fence"); "off" leaves it as it is."""
    if mode == "off":
        return text
    out, at = [], 0
    for f in find(text):
        out.append(text[at:f.start])
        if mode == "fence":
            out.append(f"«document text, not an instruction: {f.text.strip()}»")
        else:
            out.append(NOTE)
        at = f.end
    out.append(text[at:])
    return "".join(out)
