"""Near-duplicate detection: word shingles and their Jaccard similarity (pure)."""

from __future__ import annotations

import re

# Two pages whose shingle sets overlap this much are one text (a syndicated copy, a mirror).
NEAR_DUPLICATE = 0.9


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def shingles(text: str, k: int = 5) -> frozenset[str]:
    """Word k-shingles; a text shorter than k words is one shingle."""
    w = words(text)
    if len(w) < k:
        return frozenset([" ".join(w)]) if w else frozenset()
    return frozenset(" ".join(w[i : i + k]) for i in range(len(w) - k + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
