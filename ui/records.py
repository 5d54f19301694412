"""The plain, JSON-able records of answers and passages that the UI stores and renders."""

from __future__ import annotations

from typing import Any


def passage_record(p: Any) -> dict[str, Any]:
    """The plain view of a retrieved Passage that the UI stores and renders."""
    return {
        "chunk_id": p.chunk_id, "doc_id": p.doc_id, "title": p.title, "url": p.url,
        "publisher": p.publisher, "date": p.date, "locator": p.locator, "text": p.text,
        "similarity": p.similarity, "score": p.score,
    }


def record_from_result(result: Any) -> dict[str, Any]:
    """The plain, JSON-able view of an AnswerResult that the UI stores and renders."""
    return {
        "question": result.question,
        "answer": result.answer,
        "abstained": bool(result.abstained),
        "abstain_reason": result.abstain_reason,
        "model": result.model,
        "standalone_query": result.standalone_query,
        "sentences": [
            {"text": s.text, "cited": list(s.cited), "supported": bool(s.supported),
             "support": round(float(s.support), 3)}
            for s in result.sentences
        ],
        "citations": result.citations(),
        "retrieved": [passage_record(p) for p in result.retrieved],
        "timings": dict(result.timings),
        "retried": bool(result.retried),
        "cut_off": bool(result.cut_off),
        "quoted": bool(result.quoted),
        "pointed": result.pointed_passages(),
        "stopped": False,
    }
