"""The eval runner: question-file validation, reports, and a real run with resume.

The end-to-end test uses a real Chroma store in tmp_path (the small corpus documents), the real
MiniLM and the real SmolLM2 model. It checks wiring and consistency, never what the tiny model
answers.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant import chat
from assistant.errors import ConfigError
from assistant.eval import runner
from assistant.eval.metrics import (
    QUESTION_METRICS,
    SUMMARY_METRICS,
    score,
    summarize,
    summarize_by_kind,
)
from assistant.eval.questions import Question, load_questions, select
from assistant.eval.report import render_html, render_markdown, summary_table
from tests.conftest import TEST_MODEL

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"
ARTICLE = "etcentric-meta-spotify-statement"
RECORD_KEYS = {
    "id", "question", "kind", "answerable", "answer", "abstained", "abstain_reason", "citations",
    "retrieved", "timings", "prompt_tokens", "completion_tokens", "stamp", "pointed",
    "abstain_check", "drafts", "split", *QUESTION_METRICS,
}
STAMP_KEYS = {"model", "embedder", "chunking", "prompt_version", "corpus_hash",
              "retrieval_code", "answer_code", "eval_code"}

FACT: dict[str, Any] = {
    "id": "fact-ek", "question": "Who co-signed the statement against EU AI rules with Mark "
    "Zuckerberg?", "expected_answer": "Spotify CEO Daniel Ek.",
    "must_include": [["Daniel Ek", "Spotify"]], "sources": [ARTICLE], "answerable": True,
    "kind": "fact",
}
FOLLOWUP: dict[str, Any] = {
    "id": "follow-economist", "question": "In which publication did it first appear?",
    "history": [{"role": "user", "content": FACT["question"]},
                {"role": "assistant", "content": "Spotify CEO Daniel Ek co-signed it."}],
    "expected_answer": "The Economist.", "must_include": [["Economist"]], "sources": [ARTICLE],
    "answerable": True, "kind": "followup",
}
UNANSWERABLE: dict[str, Any] = {
    "id": "unans-tour", "question": 'What did the "Tour de France" winner eat for <lunch> & '
    "dinner?", "expected_answer": "Not in the documents.", "must_include": [], "sources": [],
    "answerable": False, "kind": "unanswerable",
}


def write_questions(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# ---- question file ----------------------------------------------------------------------------


def test_shipped_question_file_is_valid() -> None:
    questions = load_questions(REPO / "eval" / "questions.jsonl")
    assert len({q.id for q in questions}) == len(questions)
    for split, least in (("tune", 96), ("holdout", 60)):
        part = [q for q in questions if q.split == split]
        assert len(part) >= least
        assert {q.kind for q in part} == {"fact", "multihop", "followup", "unanswerable",
                                          "overview"}
        # Every shipped document is asked about in both splits.
        assert len({d for q in part for d in q.sources}) == 6


def test_history_is_optional(tmp_path: Path) -> None:
    qs = load_questions(write_questions(tmp_path / "q.jsonl", [FACT, FOLLOWUP, UNANSWERABLE]))
    assert [q.history for q in qs][0] == [] and len(qs[1].history) == 2
    assert qs[2] == Question(
        "unans-tour", UNANSWERABLE["question"], "Not in the documents.", [], [], False,
        "unanswerable",
    )


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        (json.dumps({k: v for k, v in FACT.items() if k != "sources"}), "missing key(s): sources"),
        (json.dumps({**FACT, "histroy": []}), "unknown key(s): histroy"),
        (json.dumps({**FACT, "kind": "trivia"}), "'kind' is 'trivia'"),
        (json.dumps({**FACT, "split": "test"}), "'split' is 'test'"),
        (json.dumps({**FACT, "answerable": False}), "'answerable' must be false exactly when"),
        (json.dumps({**FACT, "answerable": "yes"}), "'answerable' must be true or false"),
        (json.dumps({**FACT, "must_include": ["Daniel Ek"]}), "'must_include' must be a list"),
        (json.dumps({**FACT, "must_include": []}), "needs at least one 'must_include' group"),
        (json.dumps({**FACT, "question": "  "}), "'question' must be a non-empty string"),
        (json.dumps({**FOLLOWUP, "history": [{"role": "bot", "content": "x"}]}), "history turn 1"),
        (json.dumps({**FACT, "id": "fact-other", "sources": "etcentric"}), "'sources' must be"),
    ],
)
def test_bad_line_is_named(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps(UNANSWERABLE) + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_questions(path)
    assert f"{path}, line 3:" in str(err.value)
    assert problem in str(err.value)


def test_duplicate_id_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="line 2: id 'fact-ek' is already used on line 1"):
        load_questions(write_questions(tmp_path / "q.jsonl", [FACT, FACT]))
    with pytest.raises(ConfigError, match="not found - pass one with --questions"):
        load_questions(tmp_path / "missing.jsonl")
    with pytest.raises(ConfigError, match="has no questions"):
        load_questions(write_questions(tmp_path / "empty.jsonl", []))


def test_select_filters_kinds_then_limits(tmp_path: Path) -> None:
    qs = load_questions(write_questions(tmp_path / "q.jsonl", [FACT, FOLLOWUP, UNANSWERABLE]))
    assert [q.id for q in select(qs, limit=2)] == ["fact-ek", "follow-economist"]
    assert [q.id for q in select(qs, ["unanswerable", "followup"], 1)] == ["follow-economist"]
    with pytest.raises(ConfigError, match="Unknown kind"):
        select(qs, ["trivia"])
    with pytest.raises(ConfigError, match="No questions of kind multihop"):
        select(qs, ["multihop"])
    with pytest.raises(ConfigError, match="positive"):
        select(qs, limit=0)


def test_model_slug() -> None:
    assert runner.model_slug("llamacpp:qwen2.5-coder-0.5b") == "llamacpp-qwen2-5-coder-0-5b"
    assert runner.model_slug("openai:http://h:8/v1#m") == "openai-http---h-8-v1-m"


# ---- reports from hand-made records -----------------------------------------------------------


def test_reports_escape_model_output(tmp_path: Path) -> None:
    qs = load_questions(write_questions(tmp_path / "q.jsonl", [FACT, UNANSWERABLE]))
    evil = "<script>alert(1)</script> Daniel Ek [1] | & more"
    records = []
    for q, answer in zip(qs, [evil, "The documents do not say."], strict=True):
        r: dict[str, Any] = {
            "id": q.id, "question": q.question, "kind": q.kind, "answerable": q.answerable,
            "answer": answer, "abstained": not q.answerable,
            "abstain_reason": "" if q.answerable else "no_relevant_passages",
            "citations": [{"n": 1, "doc_id": ARTICLE, "locator": "<p> 2"}] if q.answerable
            else [], "retrieved": [{"doc_id": ARTICLE}], "timings": {}, "prompt_tokens": 0,
            "pointed": [] if q.answerable else [{"n": 3, "doc_id": "lic", "locator": "<s>2"}],
            "quoted": q.answerable,
        }
        r.update(score(r, q.must_include, q.sources))
        records.append(r)
    stamp = dict.fromkeys(STAMP_KEYS, "x")
    summary = {
        "question_file": "q.jsonl", "questions": 2, "kinds": ["fact", "unanswerable"],
        "created": "now", "models": {"m:<b>": {"stamp": stamp, "overall": summarize(records),
                                                "by_kind": summarize_by_kind(records)}},
    }
    page = render_html(summary, qs, {"m:<b>": records}, {"accuracy": PNG})
    assert "<script>" not in page and "m:<b>" not in page
    assert html.escape(evil) in page and html.escape(UNANSWERABLE["question"]) in page
    assert "[1] etcentric-meta-spotify-statement (&lt;p&gt; 2)" in page
    assert "pointed at [3] lic (&lt;s&gt;2)" in page
    assert page.count("quoted: the model declined") == 1
    md = render_markdown(summary, qs, {"m:<b>": records})
    assert "<script>" not in md and "\\| &amp; more" in md
    assert "pointed at [3] lic (&lt;s>2)" in md
    assert md.count("(quoted: the model declined)") == 1
    table = summary_table(summary).splitlines()
    assert table[0] == "2 questions from q.jsonl"
    assert table[1].split()[:7] == ["model", "accuracy", "95%", "CI", "yes/no", "truth", "cite"]
    assert "hit@1" in table[1]
    # One answerable question right: the interval says how little that shows. No yes/no
    # question; both verdicts right.
    assert table[3].split()[:5] == ["m:<b>", "100.0%", "21–100%", "-", "+1.00"]
    # ttft/total/prompt tokens have no model-generated answer with timings: shown as "-"; then
    # the quoted answers and how many of them were right.
    assert table[1].split()[-3:] == ["quoted", "quoted", "right"]
    assert table[3].split()[-5:] == ["-", "-", "0", "1", "1"]


# ---- end to end with the real model -----------------------------------------------------------


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from assistant.corpus import load_manifest
    from assistant.ingest.pipeline import ingest
    from assistant.settings import load_settings

    data_dir = tmp_path_factory.mktemp("eval-data")
    settings = load_settings(data_dir=data_dir)
    docs = [d for d in load_manifest(settings.corpus_manifest).documents
            if d.doc_id != "eu-ai-act-2024-1689"]
    report = ingest(settings, sources=docs, progress=False)
    assert not report.failed and len(report.added) == 5
    return data_dir


class Counter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.generated: list[str] = []
        self.retrieved: list[str] = []
        self.fresh: list[bool] = []
        # The eval answers through ChatService.answer, which calls chat.generate for a lookup.
        real_generate = chat.generate
        real_retrieve = runner.ChatService.retrieve

        def generate(model: Any, prompts: Any, question: str, *a: Any, **kw: Any) -> Iterator[Any]:
            self.generated.append(f"{model.label} {question}")
            # Nothing of the previous question's prompt is left in llama.cpp's context.
            self.fresh.append(model.llama.n_tokens == 0)
            return real_generate(model, prompts, question, *a, **kw)

        def retrieve(service: Any, query: str, *a: Any, **kw: Any) -> Any:
            if query != runner.WARM_UP_QUERY:
                self.retrieved.append(query)
            return real_retrieve(service, query, *a, **kw)

        monkeypatch.setattr(chat, "generate", generate)
        monkeypatch.setattr(runner.ChatService, "retrieve", retrieve)

    def reset(self) -> None:
        self.generated.clear()
        self.retrieved.clear()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_real_run_resumes_and_reports(
    small_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.settings import load_settings

    settings = load_settings(data_dir=small_store, model=TEST_MODEL)
    questions = write_questions(tmp_path / "q.jsonl", [FACT, FOLLOWUP, UNANSWERABLE])
    out = tmp_path / "run"
    calls = Counter(monkeypatch)

    table = runner.run_eval(settings, questions, [TEST_MODEL], out, limit=2)
    assert len(calls.generated) == 2 and len(calls.retrieved) == 2
    first = read_jsonl(out / "results-llamacpp-smollm2-135m.jsonl")
    assert [r["id"] for r in first] == ["fact-ek", "follow-economist"]
    assert "2 questions" in table and TEST_MODEL in table

    # Full run with a second spec for the same weights: model one reuses its two answers, and
    # both models answer from the same frozen passages.
    # Loaded models are shared process-wide, so an earlier test may have loaded smollm2 from
    # another data dir: make sure this one has the file.
    from assistant.models import catalog

    gguf = catalog.ensure_model(settings.models_dir, "smollm2-135m", progress=False)
    second = f"llamacpp:{gguf}"
    calls.reset()
    progress: list[tuple[float, str]] = []
    table = runner.run_eval(settings, questions, [TEST_MODEL, second], out,
                            on_progress=lambda f, m: progress.append((f, m)))
    assert len(calls.retrieved) == 1  # only the new question
    assert sorted(calls.generated) == sorted(
        [f"{TEST_MODEL} {UNANSWERABLE['question']}"]
        + [f"{second} {q['question']}" for q in (FACT, FOLLOWUP, UNANSWERABLE)]
    )
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    # Every answer starts from a clean context, so answers do not depend on question order.
    assert calls.fresh and all(calls.fresh)
    assert all(0.0 <= f <= 1.0 for f in fractions)

    results = {
        m: read_jsonl(out / f"results-{runner.model_slug(m)}.jsonl") for m in (TEST_MODEL, second)
    }
    assert results[TEST_MODEL][:2] == first  # reused untouched: same timings, same timestamps
    for m, rows in results.items():
        assert [r["id"] for r in rows] == ["fact-ek", "follow-economist", "unans-tour"]
        for r in rows:
            assert RECORD_KEYS <= r.keys()
            assert set(r["stamp"]) == STAMP_KEYS and r["stamp"]["model"] == m
            assert isinstance(r["correct"], bool)
            # Which retrieved passages entered the prompt: answer in context counts only those.
            assert all(isinstance(p["in_prompt"], bool) for p in r["retrieved"])
            assert any(p["in_prompt"] for p in r["retrieved"]) or not r["model_ran"]
    for a, b in zip(results[TEST_MODEL], results[second], strict=True):
        assert a["retrieved"] == b["retrieved"]
    frozen = read_jsonl(out / "retrieval.jsonl")
    assert [f["id"] for f in frozen] == ["fact-ek", "follow-economist", "unans-tour"]
    # The follow-up was searched together with the question it follows.
    assert frozen[1]["standalone"].startswith(FACT["question"])

    summary = json.loads((out / "summary.json").read_text())
    assert summary["questions"] == 3 and summary["question_file"] == str(questions)
    assert list(summary["models"]) == [TEST_MODEL, second]
    for m, data in summary["models"].items():
        overall, rows = data["overall"], results[m]
        assert set(SUMMARY_METRICS) <= overall.keys()
        assert set(data["by_kind"]) == {"fact", "followup", "unanswerable"}
        for metrics in data["by_kind"].values():
            assert set(SUMMARY_METRICS) <= metrics.keys()
        assert data["stamp"] == rows[0]["stamp"]
        unans = rows[2]
        assert overall["abstention_accuracy"] == (1.0 if unans["abstained"] else 0.0)
        assert data["by_kind"]["unanswerable"]["accuracy"] is None
        assert overall["accuracy"] == round(sum(r["correct"] for r in rows[:2]) / 2, 4)
        assert overall["false_abstention_rate"] == round(
            sum(r["abstained"] for r in rows[:2]) / 2, 4)
        assert overall["hit_at_k"] == round(sum(r["retrieval_hit"] for r in rows[:2]) / 2, 4)
        assert overall["k"] == max(len(r["retrieved"]) for r in rows) > 0
        assert overall["model_ran"] == sum(r["model_ran"] for r in rows)
        assert (overall["total_ms_p50"] is None) == (overall["model_ran"] == 0)
        assert m in table
        # Every question of this file is in the tune split; the check table counts each
        # check that fired on a draft of these records.
        assert data["by_split"]["tune"]["questions"] == 3
        fired = {n for r in rows for d in r["drafts"] for n in d["checks"]}
        assert set(data["checks"]["tune"]) == fired
    assert "## By split" in (out / "report.md").read_text(encoding="utf-8")

    page = (out / "report.html").read_text(encoding="utf-8")
    for q in (FACT, FOLLOWUP, UNANSWERABLE):
        assert html.escape(q["question"]) in page
    assert UNANSWERABLE["question"] not in page
    assert page.count("data:image/png;base64,") == 2
    for name in ("accuracy", "latency"):
        png = (out / f"{name}.png").read_bytes()
        assert png.startswith(PNG)
        assert base64.b64encode(png).decode() in page
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## Summary" in md and "### 3. `unans-tour` (unanswerable)" in md
    # The same weights from the same passages in a clean context: the same answers, so the
    # paired comparison finds no question either got right alone.
    (pair,) = summary["between_models"]
    assert (pair["a"], pair["b"], pair["questions"]) == (TEST_MODEL, second, 3)
    assert pair["gained"] == pair["lost"] == [] and pair["verdict"] == "within noise"
    assert pair["right_before"] == pair["right_after"] == sum(r["correct"] for r in results[second])
    assert "## Model against model" in md and f"{second} against {TEST_MODEL}: " in table

    # Nothing left to do: a third run answers and retrieves nothing.
    calls.reset()
    runner.run_eval(settings, questions, [TEST_MODEL, second], out)
    assert calls.generated == [] and calls.retrieved == []

    # A baseline without results of the model is refused before any work is done.
    with pytest.raises(ConfigError, match="No results of llamacpp:smollm2-135m in"):
        runner.run_eval(settings, questions, [TEST_MODEL], tmp_path / "again",
                        baseline=tmp_path / "nowhere")
    assert calls.generated == [] and calls.retrieved == []
    # Against the earlier run, question by question: the same model answers the same.
    table = runner.run_eval(settings, questions, [TEST_MODEL], tmp_path / "again", baseline=out)
    assert len(calls.generated) == 3
    base = json.loads((tmp_path / "again" / "summary.json").read_text())["baseline"]
    assert base["run"] == str(out)
    versus = base["models"][TEST_MODEL]
    assert versus["questions"] == 3 and versus["gained"] == versus["lost"] == []
    assert versus["right_before"] == sum(r["correct"] for r in results[TEST_MODEL])
    assert f"{TEST_MODEL} against {out}: " in table and "p = 1.00: within noise" in table
    again_md = (tmp_path / "again" / "report.md").read_text(encoding="utf-8")
    assert f"## Against the earlier run {out}" in again_md

    # Changed answer-checking code answers again from the same passages; changed retrieval
    # code searches again too. Nothing from the old code is kept.
    import assistant.chat as chat

    real = chat.source_version
    monkeypatch.setattr(chat, "source_version", lambda *p, **k: "new" + real(*p, **k)
                        if "answer/*.py" in p else real(*p, **k))
    calls.reset()
    runner.run_eval(settings, questions, [TEST_MODEL], out)
    assert len(calls.retrieved) == 0 and len(calls.generated) == 3
    monkeypatch.setattr(chat, "source_version", lambda *p, **k: "new" + real(*p, **k))
    calls.reset()
    runner.run_eval(settings, questions, [TEST_MODEL], out)
    assert len(calls.retrieved) == 3 and len(calls.generated) == 3
    # So does a change to how the eval puts each question (eval/answering.py), and only that:
    # the runner's scheduling and reporting code is not hashed.
    monkeypatch.setattr(runner, "source_version", lambda *p, **k: "newer" + real(*p, **k)
                        if p == ("eval/answering.py",) else "unhashed")
    calls.reset()
    runner.run_eval(settings, questions, [TEST_MODEL], out)
    assert len(calls.retrieved) == 0 and len(calls.generated) == 3
    written = read_jsonl(out / "results-llamacpp-smollm2-135m.jsonl")
    stamps = {r["stamp"]["eval_code"] for r in written}
    assert stamps == {"newer" + real("eval/answering.py")}
    # --fresh starts over.
    calls.reset()
    runner.run_eval(settings, questions, [TEST_MODEL], out, limit=1, fresh=True)
    assert len(calls.generated) == 1 and len(calls.retrieved) == 1
    assert len(read_jsonl(out / "results-llamacpp-smollm2-135m.jsonl")) == 1


@pytest.mark.slow
def test_a_run_without_a_check_never_fires_it(small_store: Path, tmp_path: Path) -> None:
    from assistant.errors import ConfigError
    from assistant.settings import load_settings

    settings = load_settings(data_dir=small_store, model=TEST_MODEL)
    questions = write_questions(tmp_path / "q.jsonl", [FACT, UNANSWERABLE])
    out = tmp_path / "without"
    table = runner.run_eval(settings, questions, [TEST_MODEL], out,
                            without=["unsupported", "no_relevant_passages"])
    rows = read_jsonl(out / f"results-{runner.model_slug(TEST_MODEL)}.jsonl")
    assert all(not {"unsupported", "no_relevant_passages"} & set(d["checks"])
               for r in rows for d in r["drafts"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["without"] == ["unsupported", "no_relevant_passages"]
    assert "checks turned off: unsupported, no_relevant_passages" in table
    with pytest.raises(ConfigError, match="Unknown answer check"):
        runner.run_eval(settings, questions, [TEST_MODEL], tmp_path / "x", without=["nope"])
