"""Checks on the model's draft text: it declined, echoed the question, or only named a source. A
draft one of these stops gets one retry (see generate.py).

Measured and removed (eval/README.md): "misses_figure" (a how-many or what-date question answered
without a figure) and "yes_restates_question" (a yes/no question answered "Yes, <the question
restated>") paid nothing on the holdout split and each cost the 1.5B model a right answer there.
`misses_the_figure` still keeps a figure-less draft from pointing at a passage.
"""

from __future__ import annotations

import re

from assistant.answer.checks import MODEL_DECLINED, Check, Draft, register
from assistant.answer.checks.evidence import _asked
from assistant.answer.citations import strip_markers
from assistant.retrieve.text import tokens

_DECLINE = re.compile(
    r"\b(do|does|did)\s+not\s+(say|mention|contain|provide|specify|state|include|answer)\b|"
    r"\b(doesn't|don't)\s+(say|mention|specify|state)\b|\bno (information|mention|answer)\b|"
    r"\bnot (mentioned|specified|provided|stated|found) in\b|\b(cannot|can't|unable to) "
    r"(answer|find|determine)\b|\bi don'?t know\b|\bthere is no information\b",
    re.IGNORECASE,
)



def model_declined(answer: str) -> bool:
    # Only the opening of the answer counts: "X is Y. The documents do not say Z." still answers.
    head = answer.strip()[:160]
    return bool(_DECLINE.search(head))


# Filler a small model wraps around an echo: "Based on the passage, X is [1].", or uses to point
# at passages instead of answering: "X must include the elements listed in [1] and [3]."
_FILLER = frozenset(
    "according based passage passages document documents information provided given text "
    "state states stated answer question listed mentioned described outlined specified shown "
    "found contained".split()
)


_POLAR = re.compile(
    r"^(does|do|did|is|are|was|were|must|may|can|could|should|has|have|had|will|would|shall)\b",
    re.IGNORECASE,
)
_YES_NO = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)


def echoes_question(answer: str, question: str) -> bool:
    """The answer adds no word of its own to the question: "When was X signed?" answered with
    "X was signed on [1]." That is no answer, whatever its citation says. A yes/no question
    answered "No, X ..." does answer it: the "no" is the answer ("no" is a stopword to search).
    A bare "Yes." or "No." says nothing the passages could support: it counts as an echo."""
    said_yes_no = _YES_NO.match(strip_markers(answer))
    if said_yes_no:
        rest = set(tokens(strip_markers(answer)[said_yes_no.end():])) - _FILLER
        if not rest:
            return True
        if _POLAR.match(_asked(question)):
            return False
    if _POLAR.match(_asked(question)) and _negated(answer) and not _negated(question):
        # "The AI Act does not apply to ..." answers "Does the AI Act apply to ...?" with a no,
        # in words the question already has ("not" is a stopword to search).
        return False
    asked = set(tokens(question))
    said = set(tokens(strip_markers(answer))) - _FILLER
    return not (said - asked)


_NEGATION = re.compile(r"\b(not|no|never|neither|nor|without)\b|n['’]t\b", re.IGNORECASE)


def _negated(text: str) -> bool:
    return bool(_NEGATION.search(text))


def only_names_a_source(answer: str, headers: list[str]) -> bool:
    """The answer copies a passage's heading and says nothing else: "[3] Llama 3.1 Community
    License Agreement — Section 1.b.ii" points at where an answer might be, it is not one."""
    text = strip_markers(answer)
    for header in sorted(headers, key=len, reverse=True):
        if header:
            text = text.replace(header, " ")
    return text != strip_markers(answer) and not (set(tokens(text)) - _FILLER)


# Questions whose answer is a quantity or a date: an answer with no figure in it does not answer.
_ASKS_FOR_NUMBER = re.compile(
    r"\bhow (much|many|old)\b|\b(what|which) (year|date|day)\b"
    # "When does X apply / start / enter into force / was X signed?" asks for a date, unlike
    # "When may Meta terminate the licence?", which asks for a condition.
    r"|\bwhen\b[^?]*\b(appl(y|ies)|starts?|begins?|enters?|takes? effect|comes? into|"
    r"published|released|signed|adopted|launched|founded)\b",
    re.IGNORECASE,
)
_FIGURE = re.compile(
    r"\d+(?:[.,/]\d+)*"
    r"|\b(one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion)\b"
    r"|\b[a-z]+(th|st|nd|rd) (day|month|year)\b",  # "on the twentieth day following ..."
    re.IGNORECASE,
)
_LINK = re.compile(r"\S+@\S+|\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)


def misses_the_figure(answer: str, question: str) -> bool:
    """ "How much was Meta fined?" answered "Meta was fined under the GDPR." says no amount.

    Figures the question already holds ("On what date was Llama 3.2 released?" answered "Llama
    3.2 ...") and digits inside a link or an e-mail address do not count as the answer's own."""
    if not _ASKS_FOR_NUMBER.search(question):
        return False
    given = {m.group(0).lower() for m in _FIGURE.finditer(question)}
    said = _LINK.sub(" ", strip_markers(answer))
    return not any(m.group(0).lower() not in given for m in _FIGURE.finditer(said))




def _need(draft: Draft | None) -> str:
    assert draft is not None, "a draft check needs the draft"
    return draft.text


register(Check(
    "empty_or_declined", "draft", MODEL_DECLINED,
    lambda e, d: "declined" if not _need(d) or model_declined(_need(d)) else "",
    "the draft is empty or opens by saying the passages do not answer",
))
register(Check(
    "echoes_question", "draft", MODEL_DECLINED,
    lambda e, d: "echo" if _need(d) and echoes_question(_need(d), e.question) else "",
    "the draft adds no word of its own to the question",
))
register(Check(
    "only_names_source", "draft", MODEL_DECLINED,
    lambda e, d: "names a source" if _need(d) and only_names_a_source(_need(d), e.headers)
    else "",
    "the draft only copies a passage's heading",
))

