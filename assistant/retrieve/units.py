"""The unit a question is about: "the article", a document it names ("the licence", "the AUP"),
or a provision ("Article 5", "Annex III", "Section 4 of the licence").

To the retriever "the article" is just another word, and the AI Act holds most of the corpus's
chunks, so "Summarize the article" found the Act. A question that names its unit is searched
within it (the scope mechanism), and the answer's stamp says which unit was meant, so a wrong
guess is visible and can be changed by choosing a scope. Pure functions over the documents'
metadata: the manifest's `lead` and `aliases` fields, each document's title, and which
documents hold a provision.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from assistant.retrieve.references import Ref, parse_refs
from assistant.retrieve.text import fold

# "the article", "this story", "the news piece": the corpus's lead article. Not "the Article 5".
_LEAD = re.compile(
    r"\b(?:the|this|that)\s+(?:news\s+|original\s+|lead\s+)?(?:article|story|piece|post|"
    r"news\s+report|write-?up)\b(?!\s*\d)",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9]+(?:[.'’][a-z0-9]+)*")
_VERSION = re.compile(r"\b\d+\.\d+\b")
# A provision's name as the question writes it: "Article 5", "Annex III", "Section 1.b".
_PROVISION = re.compile(
    r"\b(?:article|recital|annex|section)s?\s+(?:\d+[a-z]?|[ivxlc]+\b)"
    r"(?:\s?\(\s?[0-9a-z]{1,4}\s?\))*(?:\.[0-9a-z]{1,4}\b)*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Unit:
    """What a question is about: documents, and maybe one provision in them."""

    docs: tuple[str, ...]
    # "the article" (the lead article), "named" (a title or alias), "provision", or "scope"
    # (the documents the asker chose).
    how: str
    label: str
    provision: str = ""
    refs: tuple[Ref, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"docs": list(self.docs), "how": self.how, "label": self.label,
                "provision": self.provision}


def normalise(text: str) -> str:
    """Lower case, one space between words, plurals and British spellings folded: a name is
    found whatever its spelling ("the licence" is "the license")."""
    return " " + " ".join(fold(w) for w in _WORD.findall(text.lower().replace("’", "'"))) + " "


def names_of(meta: Mapping[str, str]) -> list[str]:
    """The names a document answers to: its title and its manifest aliases."""
    names = [meta.get("title", "")]
    for alias in meta.get("aliases", "").split(";"):
        names.append(alias)
        # "the AUP" is also "the Llama 3.2 AUP": an initialism names it without its article.
        rest = alias.strip().removeprefix("the ")
        if rest != alias.strip() and rest.isupper():
            names.append(rest)
    return [n.strip() for n in names if len(n.strip()) >= 3]


def named_docs(question: str, metas: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The documents the question names. A version the question gives ("Llama 3.2") keeps
    those of that version when a name fits several ("the AUP")."""
    asked = normalise(question)
    found = [doc_id for doc_id, meta in metas.items()
             if any(_names(normalise(n), n, asked) for n in names_of(meta))]
    versions = set(_VERSION.findall(question))
    if versions:
        # "the licence" of Llama 3.2 is not the Llama 3.1 licence: a document whose names give
        # a version is kept only when the question asks for that version.
        found = [d for d in found
                 if versions & (named := set(_VERSION.findall(" ".join(names_of(metas[d])))))
                 or not named]
    return found


# What may stand before a one-word name that names the document itself: "the zoo", "about
# market", not "the Brenac covered market" (another market, which the word only ends).
_BEFORE_A_NAME = frozenset(" the this that a an in on about of from my our your summarize "
                           "summarise ".split())


def _names(name: str, raw: str, asked: str) -> bool:
    """Whether the question names the document by `name` (normalised; `raw` as written). A
    one-word lower-case name (a file called "market", "notes") counts only where it heads its
    own phrase: a word of the question that merely ends a longer name is not it. Initialisms
    ("AUP") are specific enough anywhere."""
    if name not in asked:
        return False
    if len(name.split()) > 1 or raw.strip().isupper():
        return True
    words = asked.split()
    return any(w == name.strip() and (i == 0 or words[i - 1] in _BEFORE_A_NAME)
               for i, w in enumerate(words))


def lead_doc(metas: Mapping[str, Mapping[str, str]], added: Mapping[str, float]) -> str:
    """The lead article: of the documents marked lead, the one added last (an imported URL
    becomes the lead of its own crawl); "" when none is marked."""
    leads = [d for d, m in metas.items() if m.get("lead") == "true"]
    return max(leads, key=lambda d: added.get(d, 0.0)) if leads else ""


def resolve(
    question: str,
    metas: Mapping[str, Mapping[str, str]],
    added: Mapping[str, float],
    holding: Callable[[Ref], set[str]],
    heading_of: Callable[[str, Ref], str],
    scope: tuple[str, ...] = (),
) -> Unit | None:
    """The unit the question names, or None when it names none. `holding(ref)` gives the
    documents that hold a provision; `heading_of(doc, ref)` its heading there. Within a
    `scope` the asker chose, the unit is that scope (narrowed to a provision it names)."""
    docs = list(scope) or named_docs(question, metas)
    how = "scope" if scope else "named"
    if not scope and _LEAD.search(question) and (lead := lead_doc(metas, added)):
        docs = list(dict.fromkeys([lead, *docs]))
        how = "the article"
    refs = tuple(parse_refs(question))
    if refs:
        holders = set().union(*(holding(r) for r in refs))
        narrowed = [d for d in docs if d in holders] if docs else sorted(holders)
        if narrowed:
            first = _PROVISION.search(question)
            provision = first.group() if first else ""
            heading = heading_of(narrowed[0], refs[0]) or provision
            title = metas.get(narrowed[0], {}).get("title", narrowed[0])
            return Unit(tuple(narrowed), "provision" if how != "scope" else how,
                        f"{heading} · {title}", provision, refs)
    if not docs:
        return None
    titles = [metas.get(d, {}).get("title", d) for d in docs]
    label = "; ".join(titles[:3]) + (f" and {len(titles) - 3} more" if len(titles) > 3 else "")
    if how == "the article":
        label = f"the article: {label}"
    return Unit(tuple(docs), how, label)
