"""Yes/no questions answered from the evidence, not from the question's framing.

Asked "Does the Llama 3.1 licence let me use Meta's logo?" with "No trademark licenses are
granted under this Agreement" as passage [1], small models answer "Yes, ..." [1]: the question's
wording leads, the passage does not. Their Yes or No is no better than chance (measured, see
eval/EXPERIMENTS.md), so a yes/no answer opens with the passage sentence that decides it, quoted
and cited, and the model's own words follow without their Yes or No (answer/steps.py).
"""

from __future__ import annotations

import re

_AUXILIARY = frozenset((
    "is", "are", "am", "was", "were", "do", "does", "did", "can", "could", "may", "might", "must",
    "shall", "should", "will", "would", "has", "have", "had", "isn't", "aren't", "doesn't",
    "don't", "can't", "won't", "wasn't", "didn't", "hasn't", "haven't", "shouldn't", "mustn't",
))
_LEAD_IN = re.compile(r"^\W*(?:(?:and|but|so|also|then|ok|okay|well)\W+)*", re.IGNORECASE)
_OPENING = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)
# "Is it free, or paid?": a comma before "or" offers alternatives; "military or defence" does not.
_ALTERNATIVE = re.compile(r",\s*or\b", re.IGNORECASE)


def _opens_with_auxiliary(clause: str) -> bool:
    words = _LEAD_IN.sub("", clause.strip()).split(maxsplit=1)
    return bool(words) and words[0].lower().strip(",") in _AUXILIARY


def is_yes_no(question: str) -> bool:
    """A question a person answers with Yes or No: its last sentence, or that sentence after a
    leading clause ("According to Meta, had ...", "If my company ..., is Meta ..."), opens with an
    auxiliary verb, and it offers no alternatives ("Is it free, or paid?")."""
    last = re.split(r"(?<=[.!?])\s+", question.strip())[-1]
    if _ALTERNATIVE.search(last):
        return False
    return _opens_with_auxiliary(last) or (
        "," in last and _opens_with_auxiliary(last.split(",", 1)[1]))


def strip_opening(answer: str) -> str:
    """The answer without its leading Yes/No ("No, the licence ..." -> "The licence ...")."""
    rest = _OPENING.sub("", answer, count=1).lstrip(" ,.;:—-")
    return rest[:1].upper() + rest[1:] if rest else rest
