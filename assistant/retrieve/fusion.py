"""Pure ranking arithmetic: reciprocal rank fusion and per-document diversity."""

from __future__ import annotations

from collections.abc import Sequence


def rrf(rankings: Sequence[tuple[Sequence[str], float]], k: int = 60) -> list[tuple[str, float]]:
    """Fuse ranked id lists, each with a weight: score(id) = sum(weight / (k + rank)), rank from 1.

    Ties keep the order in which ids were first seen, so the result is deterministic.
    """
    scores: dict[str, float] = {}
    for ids, weight in rankings:
        for rank, item in enumerate(ids, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    order = {item: i for i, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def diversify(
    ranked: Sequence[tuple[str, float]], doc_of: dict[str, str], top_k: int, max_per_doc: int
) -> list[tuple[str, float]]:
    """Take the best `top_k`, at most `max_per_doc` from one document, so a long regulation cannot
    crowd out a short article. Backfills from the leftovers when too few documents compete."""
    picked: list[tuple[str, float]] = []
    leftovers: list[tuple[str, float]] = []
    per_doc: dict[str, int] = {}
    for item, score in ranked:
        doc = doc_of[item]
        if per_doc.get(doc, 0) < max_per_doc:
            picked.append((item, score))
            per_doc[doc] = per_doc.get(doc, 0) + 1
        else:
            leftovers.append((item, score))
        if len(picked) == top_k:
            return picked
    picked.extend(leftovers[: top_k - len(picked)])
    return sorted(picked, key=lambda kv: -kv[1])
