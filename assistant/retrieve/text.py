"""Tokenising for BM25: lower case, words and numbers (10^25, 2024/1689 kept whole), no stopwords,
plural 's' folded so 'licences' finds 'licence'."""

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


def fold(word: str) -> str:
    word = word.replace("’", "'").removesuffix("'s")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    return [fold(t) for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]
