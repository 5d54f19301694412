"""Two-sided answers: when the passages attribute conflicting claims on what a yes/no question
asks, the answer gives each claim with its source instead of deciding between them.

"Is Llama 3.1 open source?": the article quotes Zuckerberg ("Meta open-sources many of its AI
technologies, including its … Llama large language models") and ZDNet ("Many companies claim
their AI models are open source without really being open at all, such as Meta's Llama 3.1").
A small model picks one side and asserts it; the documents hold a dispute. Pure functions: a
claim is a passage sentence that names who says it (a reporting verb) and holds most of the
question's words; two claims conflict when one negates or disputes and the other does not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.answer.quote import candidate_sentences
from assistant.retrieve.text import tokens

_REPORTING = re.compile(
    r"\b(?:says?|said|claims?|claimed|claiming|asserts?|asserted|argues?|argued|writes?|wrote|"
    r"calls?|called|according to|points? out|explains?|insists?|maintains?|contends?|"
    r"disputes?|disputed|criticiz\w*|criticis\w*|statement reads|makes clear|reported)\b",
    re.IGNORECASE,
)
_DISPUTES = re.compile(
    r"\b(?:not|no|never|without|loosely|disputes?|disputed|den(?:y|ies|ied)|rejects?|"
    r"rejected|contrary|opposite|falsely|misleading|rather than|isn[’']t|aren[’']t|"
    r"doesn[’']t|don[’']t)\b",
    re.IGNORECASE,
)
# Share of the question's content words a claim must hold to be about what it asks.
MIN_SHARE = 0.6
HEADING = "The documents report conflicting positions on this:"


@dataclass(frozen=True)
class Claim:
    n: int  # passage number, from 1
    text: str
    disputes: bool


def _words(text: str) -> set[str]:
    # "open-sources" holds "open" and "source".
    return set(tokens(text.replace("-", " ")))


def claims(question: str, passages: Sequence[str]) -> list[Claim]:
    """The attributed sentences of the passages that hold most of the question's words."""
    asked = _words(question)
    if len(asked) < 2:
        return []
    out = []
    for n, text in enumerate(passages, start=1):
        for sentence in candidate_sentences(text):
            if not _REPORTING.search(sentence):
                continue
            if len(asked & _words(sentence)) / len(asked) >= MIN_SHARE:
                out.append(Claim(n, sentence, bool(_DISPUTES.search(sentence))))
    return out


def positions(question: str, passages: Sequence[str]) -> list[Claim]:
    """The first claim for and the first against, when the passages hold both; else []."""
    found = claims(question, passages)
    pro = next((c for c in found if not c.disputes), None)
    con = next((c for c in found if c.disputes), None)
    return [pro, con] if pro and con else []


def render(found: Sequence[Claim]) -> str:
    """The heading line, then each claim quoted with its marker."""
    lines = [HEADING]
    for c in found:
        said = c.text.replace("[", "(").replace("]", ")").rstrip(" .")
        # Quoted, unless it quotes someone itself (its own marks show what is whose words).
        said = said if re.search(r"[“”\"]", said) else f"“{said}”"
        lines.append(f"- {said} [{c.n}]")
    return "\n".join(lines)
