"""Checks before generation, from the question and the retrieved passages alone.

A check here skips the model, so a false alarm costs an answer the model never got to give:
keep them to what the passages plainly cannot support.
"""

from __future__ import annotations

import re

from assistant.answer.checks import NO_EVIDENCE, NOT_MENTIONED, Check, Draft, Evidence, register

# Capitalised words that start or shape a question rather than name something.
_NOT_NAMES = frozenset(
    "who whom whose what when where which why how is are was were do does did can could may might "
    "must should would will shall the a an in on of under and or to for by with from it its this "
    "that these those according i my besides above below after before yes no if ok okay so "
    "any also".split()
)
_NAME = re.compile(r"\b[A-Z][\w.-]*[A-Za-z0-9]")
_CONNECTIVES = frozenset({"of", "the", "for", "and", "on", "de"})

# Abbreviations whose long form is not their initials ("FLOPs": floating point operations), or
# whose initials a text rarely spells out in full ("CEO": chief executive). Units and titles
# only: names of organisations are matched by their initials (`_initialisms`).
ABBREVIATIONS = {
    "FLOP": ("floating point operation", "floating-point operation"),
    "FLOPS": ("floating point operation", "floating-point operation"),
    "CEO": ("chief executive",),
    "CTO": ("chief technology officer",),
    "EUR": ("euro", "€"),
    "USD": ("dollar", "$"),
    "MAU": ("monthly active user",),
    "B2B": ("business",),
    "AUP": ("acceptable use",),
    "LLM": ("language model",),
    "ML": ("machine learning",),
    "Q&A": ("question",),
    "US": ("united states",),
    "USA": ("united states",),
    "UK": ("united kingdom",),
    "EU": ("european union", "union"),
    # Regulations known by a short name the texts cite by number.
    "GDPR": ("general data protection regulation", "2016/679"),
}


def _asked(question: str) -> str:
    """The question proper: the last sentence (a multi-hop question's preamble states facts)."""
    parts = [p for p in re.split(r"(?<=[.?!])\s+", question.strip()) if p]
    return parts[-1] if parts else ""


def question_names(question: str) -> list[str]:
    """Names in the question proper (its last sentence; a multi-hop question's preamble names
    things from another document): capitalised words past the first, "Act's" read as "Act" and
    "CEOs" as "CEO"."""
    asked = _asked(question)
    names = []
    for match in _NAME.finditer(asked):
        if match.start() == 0:
            continue
        word = re.sub(r"['’]s?$", "", match.group(0))
        if re.fullmatch(r"[A-Z]{2,}s", word):
            word = word[:-1]
        if word.lower() not in _NOT_NAMES and word not in names:
            names.append(word)
    return names


def _initialisms(text: str) -> set[str]:
    """Every initialism a run of words spells: "Open Source AI Definition" gives OSAID (an
    all-capitals word counts whole), "Open Source Initiative" gives OSI, "general-purpose AI"
    gives GPAI (each part of a hyphenated word counts)."""
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9]*", text)
             if w.lower() not in _CONNECTIVES]
    out = set()
    for i in range(len(words)):
        spelled = ""
        for word in words[i : i + 6]:
            spelled += word if word.isupper() else word[0].upper()
            out.add(spelled)
    return out


def _forms(name: str) -> list[str]:
    """The ways a passage may write a name: as is, singular ("Llamas", "Commissions"), and an
    abbreviation's long form."""
    forms = [name.lower()]
    if len(name) > 3 and name.endswith("s") and not name.isupper():
        forms.append(name[:-1].lower())
    forms += ABBREVIATIONS.get(name.upper(), ())
    return forms


def unmentioned_names(question: str, texts: list[str]) -> list[str]:
    """Names the question asks about that no passage mentions, in any of their forms, nor as an
    initialism. "Who is the CEO of OpenAI?" over passages about Meta and the OSI gives
    ["OpenAI"]: whatever the model says, it cannot come from these passages."""
    joined = "\n".join(texts)
    lowered = joined.lower()
    spelled: set[str] | None = None
    missing = []
    for name in question_names(question):
        if any(form in lowered for form in _forms(name)):
            continue
        if sum(c.isupper() for c in name) >= 2:
            spelled = _initialisms(joined) if spelled is None else spelled
            if name.upper() in spelled:
                continue
        missing.append(name)
    return missing


def _no_relevant_passages(evidence: Evidence, _draft: Draft | None) -> str:
    if not evidence.texts or evidence.best_similarity < evidence.min_relevance:
        return f"best similarity {evidence.best_similarity:.2f} < {evidence.min_relevance:.2f}"
    return ""


def _names_unmentioned(evidence: Evidence, _draft: Draft | None) -> str:
    missing = unmentioned_names(evidence.own_question, evidence.texts + evidence.publishers)
    return " or ".join(f"“{n}”" for n in missing)


register(Check(
    "no_relevant_passages", "before", NO_EVIDENCE, _no_relevant_passages,
    "the best passage's similarity to the question is below min_relevance",
    ("min_relevance",),
))
register(Check(
    "names_unmentioned", "before", NOT_MENTIONED, _names_unmentioned,
    "the question names something no passage mentions (in any spelling, initials or long form)",
))
