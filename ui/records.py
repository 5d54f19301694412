"""The plain, JSON-able records of answers that the UI stores and renders.

Each is the answer's one record (AnswerResult.to_json, with passages in Passage.to_json's shape)
plus what the UI adds: whether it was stopped, a comparison's answers and which one is right."""

from __future__ import annotations

from typing import Any


def record_from_result(result: Any) -> dict[str, Any]:
    """The plain, JSON-able view of an AnswerResult that the UI stores and renders: the answer's
    one record (as `assistant ask --json` prints it), marked as not stopped."""
    return {**result.to_json(), "stopped": False}


def compare_record(comparison: Any) -> dict[str, Any]:
    """A comparison (assistant.chat.Comparison) as the UI stores it: each model's answer record,
    the passages they shared, and which answer the user marked right ("" not yet, "none")."""
    data = comparison.to_json()
    answers = data["answers"]
    return {
        **data, "compare": True, "marked": "", "stopped": False,
        "answer": answers[0]["answer"] if answers else "",
        "retrieved": answers[0]["retrieved"] if answers else [],
        "timings": {"retrieve_ms": data["retrieve_ms"], "total_ms": data["total_ms"]},
    }


def shown_answer(record: dict[str, Any]) -> str:
    """The text a comparison stands for in the conversation (what a follow-up builds on): the
    answer marked right, else the first model's."""
    for a in record.get("answers") or []:
        if a.get("model") == record.get("marked"):
            return str(a.get("answer", ""))
    return str(record.get("answer", ""))


def merged_for_sources(record: dict[str, Any]) -> dict[str, Any]:
    """One sources view of a comparison: every passage any model cited (the models numbered the
    same passages alike), with the models that cited it; the shared retrieved passages."""
    answers = record.get("answers")
    if not answers:
        return record
    by_n: dict[int, dict[str, Any]] = {}
    sentences: list[dict[str, Any]] = []
    for a in answers:
        sentences += a.get("sentences") or []
        for c in a.get("citations") or []:
            entry = by_n.setdefault(int(c["n"]), {**c, "cited_by": []})
            entry["cited_by"].append(a.get("model", ""))
            entry["supported"] = entry.get("supported", True) and c.get("supported", True)
    pointed = {int(p["n"]): p for a in answers for p in a.get("pointed") or []}
    return {
        "question": record.get("question", ""), "standalone_query": record.get("standalone_query"),
        "citations": [by_n[n] for n in sorted(by_n)], "sentences": sentences,
        "retrieved": record.get("retrieved") or answers[0].get("retrieved") or [],
        "abstained": all(a.get("abstained") for a in answers),
        "pointed": list(pointed.values()), "stopped": record.get("stopped", False),
    }
