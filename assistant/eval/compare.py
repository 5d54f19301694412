"""Better, or only different? Paired comparisons of answers to the same questions (two models in
one run, or one model against an earlier run) and the confidence interval of an accuracy.

On 83 answerable questions a small model's accuracy moves by 3-5 answers each way whenever its
prompt's wording changes, so a difference of one or two answers says nothing. The exact sign
test on the questions only one side got right says how likely a split at least that uneven is
when neither side is better.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

Record = Mapping[str, Any]

# Below this p-value the difference is reported as a real one.
SIGNIFICANT = 0.05


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval (95% for z=1.96) of a proportion: unlike p ± z·se it stays inside
    [0, 1] and is honest at small n."""
    if n <= 0:
        return None
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact binomial p-value of `wins` against `losses` at even odds (ties dropped)."""
    n = wins + losses
    if n == 0:
        return 1.0
    low = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(low + 1)) / 2**n
    return min(1.0, 2 * tail)


def verdict(gained: int, lost: int, p: float) -> str:
    if p >= SIGNIFICANT or gained == lost:
        return "within noise"
    return "better" if gained > lost else "worse"


def paired(before: Sequence[Record], after: Sequence[Record]) -> dict[str, Any]:
    """Compare two sets of scored records question by question (only ids both have count).

    A question is right when its record says `correct`: for an unanswerable one that means it
    abstained. `gained` are the ids right only `after`, `lost` those right only `before`."""
    old = {r["id"]: bool(r["correct"]) for r in before}
    new = {r["id"]: bool(r["correct"]) for r in after}
    common = [i for i in new if i in old]
    gained = [i for i in common if new[i] and not old[i]]
    lost = [i for i in common if old[i] and not new[i]]
    p = sign_test(len(gained), len(lost))
    return {
        "questions": len(common),
        "right_before": sum(old[i] for i in common),
        "right_after": sum(new[i] for i in common),
        "gained": gained,
        "lost": lost,
        "p_value": round(p, 4),
        "verdict": verdict(len(gained), len(lost), p),
    }


def between_models(records: Mapping[str, Sequence[Record]]) -> list[dict[str, Any]]:
    """Every pair of models in one run, in the run's order: `after` is the second model."""
    names = list(records)
    return [
        {"a": a, "b": b, **paired(records[a], records[b])}
        for i, a in enumerate(names) for b in names[i + 1 :]
    ]
