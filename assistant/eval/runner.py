"""`assistant eval`: answer a question set with one or more models, score, and report.

Fairness: retrieval (with follow-up rewriting) runs once per question and is frozen in
`retrieval.jsonl`; every model answers from exactly those passages. Results are appended a line
at a time, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from assistant.atomic_write import write_atomic
from assistant.chat import ChatService
from assistant.code_version import source_version
from assistant.errors import ConfigError
from assistant.eval import answering, compare, report, saved
from assistant.eval.metrics import (
    OVERVIEW,
    check_table,
    lookups,
    score,
    score_overview,
    summarize,
    summarize_by_kind,
    summarize_by_split,
    summarize_overview_by_split,
)
from assistant.eval.questions import KINDS, SPLITS, Question, load_questions, select
from assistant.models.base import parse_spec
from assistant.settings import Settings

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]
RETRIEVAL_FILE = "retrieval.jsonl"
WARM_UP_QUERY = "warm up"
SUMMARY_FILE = "summary.json"


def model_slug(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "-", spec)


def results_path(out: Path, model: str) -> Path:
    return out / f"results-{model_slug(model)}.jsonl"


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            # The tail of a run killed mid-write; that question is simply answered again.
            log.warning("%s, line %d: unreadable record skipped", path, n)
    return rows


def _append(fh: IO[str], record: dict[str, Any]) -> None:
    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    fh.flush()


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


class _Progress:
    """One tqdm bar on stderr over every step still to do, mirrored to the on_progress callback."""

    def __init__(self, total: int, on_progress: ProgressFn | None) -> None:
        self.total = total
        self.done = 0
        self.on_progress = on_progress
        self.bar = tqdm(total=total, desc="eval", unit="step", file=sys.stderr,
                        disable=total == 0)

    def note(self, message: str) -> None:
        self.bar.set_description_str(message[:40])
        if self.on_progress:
            self.on_progress(self.done / self.total if self.total else 1.0, message)

    def start(self, item: str) -> None:
        self.bar.set_postfix_str(item, refresh=False)

    def step(self, message: str) -> None:
        self.done += 1
        self.bar.update(1)
        if self.on_progress:
            self.on_progress(self.done / self.total, message)

    def close(self) -> None:
        self.bar.close()


def _retrieval_key(s: Settings, ident: dict[str, str], q: Question) -> str:
    # A scope enters the key only when given, so unscoped questions keep their earlier keys.
    scoped = {"docs": sorted(q.docs)} if q.docs else {}
    return _digest({
        **scoped,
        "question": q.question, "history": q.history,
        "corpus": ident["corpus_hash"], "embedder": ident["embedder"],
        "chunking": ident["chunking"],
        # The whole section: a setting added to it can never be missed from the key.
        "retrieval": s.retrieval.model_dump(),
        "code": ident.get("retrieval_code", ""),
    })


def _rescore(record: dict[str, Any], q: Question) -> dict[str, Any]:
    # Gold answers may have been corrected since the record was written; scoring is cheap and
    # pure, so the file always agrees with the current question file. It is also what makes the
    # scores final: answering.record() scores without the expected answer (so no yes/no rule),
    # and a change to that file's code would re-answer every question.
    record = {**record, "question": q.question, "kind": q.kind, "answerable": q.answerable,
              "split": q.split}
    record.update(score(record, q.must_include, q.sources, q.expected_answer))
    if q.kind == OVERVIEW:
        record.update(score_overview(record, q.must_include, q.sources))
    return record


def _baseline_files(baseline: Path, labels: list[str]) -> dict[str, Path]:
    """The earlier run's results file of each model evaluated now that has one there."""
    found = {m: results_path(baseline, m) for m in labels if results_path(baseline, m).exists()}
    if not found:
        there = sorted(p.name for p in baseline.glob("results-*.jsonl"))
        raise ConfigError(
            f"No results of {', '.join(labels)} in {baseline}",
            "pass the --out folder of an earlier `assistant eval` of the same model"
            + (f" (that folder has {', '.join(there)})" if there else ""),
        )
    return found


def _model_summary(
    stamp: dict[str, str], records: list[dict[str, Any]], by_id: dict[str, Question]
) -> dict[str, Any]:
    """One model's scores: `overall`, `by_split` and `checks` over the lookup questions,
    `by_kind` over every kind, `overview` per split over the overview questions."""
    looked_up = lookups(records)
    return {
        "stamp": stamp,
        "overall": summarize(looked_up),
        "by_kind": summarize_by_kind(records),
        "by_split": summarize_by_split(looked_up),
        "checks": {
            split: check_table([r for r in looked_up if r.get("split") == split], by_id)
            for split in dict.fromkeys(r.get("split", "tune") for r in looked_up)
        },
        "overview": summarize_overview_by_split(records),
    }


def run_eval(
    settings: Settings,
    questions: Path,
    models: list[str],
    out: Path,
    limit: int | None = None,
    kinds: list[str] | None = None,
    fresh: bool = False,
    on_progress: ProgressFn | None = None,
    baseline: Path | None = None,
    splits: list[str] | None = None,
    without: list[str] | None = None,
) -> str:
    """Run the question set against every model; write results, summary and reports to `out`.

    `baseline`, an earlier run's `out`, adds a paired comparison of each model against its own
    answers there. `without` names answer checks to turn off for this run (what a check is
    worth is the difference against a run with it)."""
    if without:
        disabled = list(dict.fromkeys([*settings.answer.disabled_checks, *without]))
        settings = settings.model_copy(update={
            "answer": settings.answer.model_copy(update={"disabled_checks": disabled})})
    # `mine` is the user's questions saved from the chat (assistant/eval/saved.py).
    questions = saved.resolve(questions, settings.data_dir)
    all_questions = load_questions(questions)
    selected = select(all_questions, kinds, limit, splits)
    labels = list(dict.fromkeys(parse_spec(m).text for m in models))
    if not labels:
        raise ConfigError("No model to evaluate", "pass at least one --model SPEC")
    if baseline is not None:
        # Checked before any answer is generated: a typo here must not cost a 30-minute run.
        _baseline_files(baseline, labels)
    out.mkdir(parents=True, exist_ok=True)
    if fresh:
        for path in [out / RETRIEVAL_FILE, *(results_path(out, m) for m in labels)]:
            path.unlink(missing_ok=True)

    if on_progress:
        on_progress(0.0, "opening the index")
    service = ChatService(settings)
    options = service.options()
    # How each question is put to the model (a clean context, history) and recorded; the rest
    # of the runner only schedules and reports, and changing it re-answers nothing.
    eval_code = source_version("eval/answering.py")
    stamps = {m: {**service.stamp(m), "eval_code": eval_code} for m in labels}
    ident = stamps[labels[0]]
    keys = {q.id: _retrieval_key(settings, ident, q) for q in selected}
    configs = {
        (q.id, m): _digest({
            "retrieval": keys[q.id], "stamp": stamps[m], "options": asdict(options),
            "context_window": settings.context_window,
        })
        for q in selected for m in labels
    }

    frozen: dict[str, answering.FrozenRetrieval] = {}
    for row in _read_jsonl(out / RETRIEVAL_FILE):
        try:
            frozen[row["id"]] = answering.FrozenRetrieval.from_json(row)
        except (KeyError, TypeError):
            # Written by another version of this runner: retrieve that question again.
            log.warning("%s: entry %r not reusable", out / RETRIEVAL_FILE, row.get("id"))
    to_retrieve = [q for q in selected if q.id not in frozen or frozen[q.id].key != keys[q.id]]
    done: dict[str, dict[str, dict[str, Any]]] = {
        m: {r["id"]: r for r in _read_jsonl(results_path(out, m)) if "id" in r} for m in labels
    }
    to_answer = {
        m: [q for q in selected if done[m].get(q.id, {}).get("config") != configs[(q.id, m)]]
        for m in labels
    }
    for m in labels:
        reused = len(selected) - len(to_answer[m])
        if reused:
            log.info("%s: reusing %d earlier answers from %s", m, reused, results_path(out, m))

    progress = _Progress(len(to_retrieve) + sum(map(len, to_answer.values())), on_progress)
    try:
        if to_retrieve:
            progress.note("retrieving")
            # The first query builds BM25 and warms the embedder; keep that out of the timings
            # every model's answer inherits.
            service.retrieve(WARM_UP_QUERY)
            with (out / RETRIEVAL_FILE).open("a", encoding="utf-8") as fh:
                for q in to_retrieve:
                    progress.start(q.id)
                    frozen[q.id] = answering.freeze(service, q, keys[q.id], questions)
                    _append(fh, frozen[q.id].to_json())
                    progress.step(f"retrieved {q.id}")
            _write_jsonl(out / RETRIEVAL_FILE, (f.to_json() for f in frozen.values()))

        for m in labels:
            if not to_answer[m]:
                continue
            progress.note(f"loading {m}")
            model = service.model(m)
            progress.note(m)
            with results_path(out, m).open("a", encoding="utf-8") as fh:
                for q in to_answer[m]:
                    progress.start(q.id)
                    result = answering.answer(service, model, frozen[q.id], options)
                    record = answering.record(q, frozen[q.id], result, stamps[m],
                                              configs[(q.id, m)])
                    done[m][q.id] = record
                    _append(fh, record)
                    progress.step(f"{m} {q.id}")
    finally:
        progress.close()

    by_id = {q.id: q for q in all_questions}
    order = {q.id: i for i, q in enumerate(all_questions)}
    records: dict[str, list[dict[str, Any]]] = {}
    for m in labels:
        # Records of questions outside this selection are kept for a later, larger run.
        rows = [_rescore(r, by_id[i]) if i in by_id else r for i, r in done[m].items()]
        rows.sort(key=lambda r: order.get(r["id"], len(order)))
        _write_jsonl(results_path(out, m), rows)
        chosen = {r["id"]: r for r in rows}
        records[m] = [chosen[q.id] for q in selected]

    summary = {
        "question_file": str(questions),
        "questions": len(selected),
        "kinds": kinds or list(KINDS),
        "limit": limit,
        "splits": splits or list(SPLITS),
        "without": list(without or []),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "models": {m: _model_summary(stamps[m], records[m], by_id) for m in labels},
    }
    # Overview questions have their own measures (`overview`); the accuracy, its comparisons
    # and the check table stay over the lookups, comparable with earlier reports.
    looked_up = {m: lookups(rs) for m, rs in records.items()}
    if len(labels) > 1:
        summary["between_models"] = compare.between_models(looked_up)
    if baseline is not None:
        by_model = {}
        for m, path in _baseline_files(baseline, labels).items():
            ids = {r["id"] for r in looked_up[m]}
            rows = [_rescore(r, by_id[r["id"]]) for r in _read_jsonl(path)
                    if r.get("id") in ids]
            by_model[m] = compare.paired(rows, looked_up[m])
        summary["baseline"] = {"run": str(baseline), "models": by_model}
    write_atomic(out / SUMMARY_FILE, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    if on_progress:
        on_progress(1.0, "writing the report")
    report.write_reports(out, summary, selected, records)
    return report.summary_table(summary) + f"\n\nreport: {out / 'report.html'}"
