"""Paired comparison of runs and the accuracy interval: exact values on small records."""

from __future__ import annotations

import pytest

from assistant.eval.compare import between_models, paired, sign_test, verdict, wilson


def test_wilson_interval() -> None:
    lo, hi = wilson(49, 83)  # the 0.5B model's 59.0% on the question set
    assert (round(lo, 4), round(hi, 4)) == (0.4829, 0.6899)
    assert wilson(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    lo, hi = wilson(10, 10)
    assert (round(lo, 4), hi) == (0.7225, 1.0)
    assert wilson(0, 0) is None


def test_sign_test_is_exact_and_two_sided() -> None:
    assert sign_test(0, 0) == 1.0
    assert sign_test(3, 3) == 1.0
    assert sign_test(5, 0) == 0.0625  # 2 * (1/2)^5
    assert sign_test(0, 5) == 0.0625
    assert sign_test(6, 0) == 0.03125
    assert sign_test(7, 2) == pytest.approx(0.1797, abs=1e-4)  # 2 * 46/512


def test_verdict_needs_significance() -> None:
    assert verdict(6, 0, 0.03125) == "better"
    assert verdict(0, 6, 0.03125) == "worse"
    assert verdict(5, 0, 0.0625) == "within noise"
    assert verdict(2, 2, 0.01) == "within noise"


def _runs(before: str, after: str) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    ids = [f"q{i}" for i in range(len(before))]
    old = [{"id": i, "correct": c == "1"} for i, c in zip(ids, before, strict=True)]
    new = [{"id": i, "correct": c == "1"} for i, c in zip(ids, after, strict=True)]
    return old, new


def test_paired_counts_changes_question_by_question() -> None:
    old, new = _runs("1100110", "1011111")
    c = paired(old, new)
    assert c == {
        "questions": 7, "right_before": 4, "right_after": 6, "gained": ["q2", "q3", "q6"],
        "lost": ["q1"], "p_value": 0.625, "verdict": "within noise",
    }
    # Only questions both runs answered are compared.
    c = paired(old[:3], new)
    assert (c["questions"], c["gained"], c["lost"]) == (3, ["q2"], ["q1"])


def test_between_models_pairs_every_two_in_order() -> None:
    old, new = _runs("000000", "111111")
    pairs = between_models({"a": old, "b": new, "c": old})
    assert [(p["a"], p["b"]) for p in pairs] == [("a", "b"), ("a", "c"), ("b", "c")]
    assert (pairs[0]["verdict"], pairs[0]["p_value"]) == ("better", 0.0312)
    assert (pairs[2]["verdict"], len(pairs[2]["lost"])) == ("worse", 6)
    assert pairs[1]["verdict"] == "within noise"
    assert between_models({"a": old}) == []
