"""Tokenising for BM25: lower case, words and numbers (10^25, 2024/1689 kept whole), no stopwords,
plural 's' folded so 'licences' finds 'licence', British and American spellings folded to one
form so 'licence' finds 'license' and 'authorized' finds 'authorised'."""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\d+(?:[.,^/]\d+)*|[a-z][a-z0-9'’-]*[a-z0-9]|[a-z]")

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which while who whom
    why will with would you your yours yourself yourselves tell say says said please""".split()
)


# British -> American endings. The same fold runs over documents and questions, so a fold that
# makes a non-word ("advise" -> "advize") costs nothing; only merging two different words would,
# and these endings do not (the EU AI Act writes "authorised", the Llama licence "license").
_SPELLING = (
    ("isation", "ization"), ("isations", "izations"), ("ised", "ized"), ("ising", "izing"),
    ("ises", "izes"), ("ise", "ize"), ("yse", "yze"), ("ysed", "yzed"), ("ysing", "yzing"),
    ("our", "or"), ("ours", "ors"), ("tre", "ter"), ("tres", "ters"),
    ("mme", "m"),
)
# "-ence" is British only in these stems ("sentence", "evidence" are the same in both), and the
# doubled "l" only in these ("filled" is not "filed").
_ENSE_STEMS = ("licence", "defence", "offence", "pretence")
_DOUBLE_L = ("labell", "modell", "travell", "cancell", "signall", "channell", "levell", "fuell")


def spelling(word: str) -> str:
    if word.startswith(_ENSE_STEMS):
        return word.replace("ence", "ense", 1)
    if word.startswith(_DOUBLE_L):
        return word.replace("ll", "l", 1)
    if len(word) < 6:
        return word
    for british, american in _SPELLING:
        if word.endswith(british):
            return word[: -len(british)] + american
    return word


def fold(word: str) -> str:
    word = word.replace("’", "'").removesuffix("'s")
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return spelling(word)


def tokens(text: str) -> list[str]:
    return [fold(t) for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]
