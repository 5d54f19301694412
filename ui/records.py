"""The plain, JSON-able records of answers and passages that the UI stores and renders."""

from __future__ import annotations

from typing import Any


def passage_record(p: Any) -> dict[str, Any]:
    """The plain view of a retrieved Passage that the UI stores and renders."""
    return {
        "chunk_id": p.chunk_id, "doc_id": p.doc_id, "title": p.title, "url": p.url,
        "publisher": p.publisher, "date": p.date, "locator": p.locator, "text": p.text,
        "similarity": p.similarity, "score": p.score, "injection": p.injection,
    }


def record_from_result(result: Any) -> dict[str, Any]:
    """The plain, JSON-able view of an AnswerResult that the UI stores and renders: the answer's
    one record (as `assistant ask --json` prints it), marked as not stopped."""
    return {**result.to_json(), "stopped": False}
