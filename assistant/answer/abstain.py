"""Deciding "the corpus does not say": from retrieval evidence before generation, and from the
model's own words and the support check after it."""

from __future__ import annotations

import re

from assistant.answer.citations import Sentence, strip_markers
from assistant.retrieve.text import tokens

NO_EVIDENCE = "no_relevant_passages"
MODEL_DECLINED = "passages_do_not_answer"
UNSUPPORTED = "answer_not_supported"
NOT_MENTIONED = "passages_do_not_mention"

MESSAGES = {
    NO_EVIDENCE: "The documents do not say: nothing in them is about this question.",
    MODEL_DECLINED: "The documents do not say: the closest passages (listed below) do not answer "
    "this question.",
    UNSUPPORTED: "The documents do not say: the draft answer was not supported by the passages "
    "(listed below), so it is not shown.",
    NOT_MENTIONED: "The documents do not say: the closest passages (listed below) never mention "
    "{names}.",
}

# A declined draft that still pointed at passages ("The term ... is [3]."): no answer is shown,
# but the reader learns where the model looked. The reason stays MODEL_DECLINED.
POINTED = (
    "No answer in words: the model pointed at {which} (listed first below) but did not say what "
    "in it answers the question. Read it to check; nothing here confirms it."
)

_DECLINE = re.compile(
    r"\b(do|does|did)\s+not\s+(say|mention|contain|provide|specify|state|include|answer)\b|"
    r"\b(doesn't|don't)\s+(say|mention|specify|state)\b|\bno (information|mention|answer)\b|"
    r"\bnot (mentioned|specified|provided|stated|found) in\b|\b(cannot|can't|unable to) "
    r"(answer|find|determine)\b|\bi don'?t know\b|\bthere is no information\b",
    re.IGNORECASE,
)


def retrieval_says_nothing(best_similarity: float, min_relevance: float) -> bool:
    return best_similarity < min_relevance


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


def _asked(question: str) -> str:
    """The question proper: the last sentence (a multi-hop question's preamble states facts)."""
    parts = [p for p in re.split(r"(?<=[.?!])\s+", question.strip()) if p]
    return parts[-1] if parts else ""


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


def unsupported(sentences: list[Sentence]) -> bool:
    """Every sentence failed the support check: the model answered from its own memory."""
    return bool(sentences) and not any(s.supported for s in sentences)


# Capitalised words that start or shape a question rather than name something.
_NOT_NAMES = frozenset(
    "who whom whose what when where which why how is are was were do does did can could may might "
    "must should would will shall the a an in on of under and or to for by with from it its this "
    "that these those according i my besides above below after before".split()
)
_NAME = re.compile(r"\b[A-Z][\w.-]*[A-Za-z0-9]")
_CONNECTIVES = frozenset({"of", "the", "for", "and", "on", "de"})


def question_names(question: str) -> list[str]:
    """Names in the question proper (its last sentence; a multi-hop question's preamble names
    things from another document): capitalised words past the first, "Act's" read as "Act" and
    "CEOs" as "CEO"."""
    asked = _asked(question)
    names = []
    for match in _NAME.finditer(asked):
        if match.start() == 0:
            continue
        word = re.sub(r"['’]s$", "", match.group(0))
        if re.fullmatch(r"[A-Z]{2,}s", word):
            word = word[:-1]
        if word.lower() not in _NOT_NAMES and word not in names:
            names.append(word)
    return names


def _initialisms(text: str) -> set[str]:
    """Every initialism a run of words spells: "Open Source AI Definition" gives OSAID (an
    all-capitals word counts whole), "Open Source Initiative" gives OSI."""
    words = [w for w in re.findall(r"[A-Za-z][\w-]*", text) if w.lower() not in _CONNECTIVES]
    out = set()
    for i in range(len(words)):
        spelled = ""
        for word in words[i : i + 6]:
            spelled += word if word.isupper() else word[0].upper()
            out.add(spelled)
    return out


def unmentioned_names(question: str, texts: list[str]) -> list[str]:
    """Names the question asks about that no passage mentions, not even as an initialism.
    "Who is the CEO of OpenAI?" over passages about Meta and the OSI gives ["OpenAI"]: whatever
    the model says, it cannot come from these passages."""
    joined = "\n".join(texts)
    lowered = joined.lower()
    spelled: set[str] | None = None
    missing = []
    for name in question_names(question):
        if name.lower() in lowered:
            continue
        if name.isupper() and len(name) >= 2:
            spelled = _initialisms(joined) if spelled is None else spelled
            if name in spelled:
                continue
        missing.append(name)
    return missing
