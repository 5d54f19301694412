"""`assistant eval --retrieval-only`: judge a retrieval change in seconds, with no model.

Retrieval is frozen into the same `retrieval.jsonl` a full run uses (so a later run with a model
reuses it), and scored by hit@k, MRR and answer in passages: every `must_include` group found in
the top-k passages. That is the ceiling on accuracy before the prompt budget trims the last
passage, which needs the model's tokenizer, so it can read a point or two above a full run's
"answer in context".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.chat import ChatService
from assistant.eval import answering, saved
from assistant.eval.metrics import lookups, matches, mean, reciprocal_rank
from assistant.eval.questions import Question, load_questions, select
from assistant.eval.runner import RETRIEVAL_FILE, WARM_UP_QUERY, _read_jsonl, _retrieval_key
from assistant.settings import Settings
from assistant.store.chroma import store_identity


def retrieval_row(q: Question, passages: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One question's retrieval values (None where a value does not apply)."""
    docs = [p["doc_id"] for p in passages]
    if not q.answerable:
        return {"id": q.id, "split": q.split, "kind": q.kind, "hit": None, "rr": None,
                "in_passages": None}
    text = "\n".join(p["text"] for p in passages)
    gold = set(q.sources)
    return {
        "id": q.id, "split": q.split, "kind": q.kind,
        "hit": any(d in gold for d in docs) if gold else None,
        "rr": reciprocal_rank(docs, gold) if gold else None,
        "in_passages": matches(text, q.must_include),
    }


def summarize_rows(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in rows if r["in_passages"] is not None]
    def rate(key: str) -> float | None:
        value = mean(r[key] for r in answerable)
        return None if value is None else round(value, 4)
    return {"questions": len(rows), "answerable": len(answerable), "hit_at_k": rate("hit"),
            "mrr": rate("rr"), "answer_in_passages": rate("in_passages")}


def check_retrieval(
    settings: Settings, questions: Path, out: Path, limit: int | None = None,
    kinds: list[str] | None = None, splits: list[str] | None = None,
) -> str:
    questions = saved.resolve(questions, settings.data_dir)
    selected = select(load_questions(questions), kinds, limit, splits)
    service = ChatService(settings)
    ident = {**store_identity(settings, service.embedder), **service.code_versions,
             "corpus_hash": service.retriever.corpus_hash}
    keys = {q.id: _retrieval_key(settings, ident, q) for q in selected}
    out.mkdir(parents=True, exist_ok=True)
    frozen = {}
    for row in _read_jsonl(out / RETRIEVAL_FILE):
        try:
            frozen[row["id"]] = answering.FrozenRetrieval.from_json(row)
        except (KeyError, TypeError):
            continue
    service.retrieve(WARM_UP_QUERY)
    for q in selected:
        if q.id not in frozen or frozen[q.id].key != keys[q.id]:
            frozen[q.id] = answering.freeze(service, q, keys[q.id], questions)
    (out / RETRIEVAL_FILE).write_text(
        "".join(json.dumps(f.to_json(), ensure_ascii=False) + "\n" for f in frozen.values()),
        encoding="utf-8")
    rows = [retrieval_row(q, [p.to_dict() for p in frozen[q.id].passages]) for q in selected]
    # An overview's key points are rarely all in k passages: the rates stay over the lookups.
    looked_up = lookups(rows)
    summary = {split: summarize_rows([r for r in looked_up if r["split"] == split])
               for split in dict.fromkeys(r["split"] for r in looked_up)}
    (out / "retrieval-summary.json").write_text(
        json.dumps({"splits": summary, "questions": rows}, indent=2) + "\n", encoding="utf-8")
    lines = ["| split | answerable | hit@k | MRR | answer in passages |", "|---|---|---|---|---|"]
    for split, s in summary.items():
        lines.append(f"| {split} | {s['answerable']} | {_pct(s['hit_at_k'])} | "
                     f"{s['mrr'] if s['mrr'] is not None else '-'} | "
                     f"{_pct(s['answer_in_passages'])} |")
    missed = [r["id"] for r in looked_up if r["in_passages"] is False]
    lines.append(f"\nanswer not in the passages ({len(missed)}): {', '.join(missed) or '-'}")
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"
