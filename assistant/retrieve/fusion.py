"""Pure ranking arithmetic: reciprocal rank fusion, relative score fusion and per-document
diversity."""

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


Scored = Sequence[tuple[str, float]]


def relative(rankings: Sequence[tuple[Scored, float]]) -> list[tuple[str, float]]:
    """Fuse scored lists, each with a weight: every list's scores are scaled to [0, 1] (its best
    1, its last candidate 0) and summed by weight. Unlike rank fusion, a hit that one search
    finds far ahead of its other candidates (a paraphrase only the vectors see) can outscore
    ids that both searches rank middling. Ties keep first-seen order."""
    scores: dict[str, float] = {}
    for scored, weight in rankings:
        if not scored:
            continue
        values = [v for _, v in scored]
        top, bottom = max(values), min(values)
        for item, value in scored:
            scaled = (value - bottom) / (top - bottom) if top > bottom else 1.0
            scores[item] = scores.get(item, 0.0) + weight * scaled
    order = {item: i for i, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def fuse(rankings: Sequence[tuple[Scored, float]], method: str, k: int = 60
         ) -> list[tuple[str, float]]:
    if method == "relative":
        return relative(rankings)
    return rrf([([item for item, _ in scored], weight) for scored, weight in rankings], k=k)


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
