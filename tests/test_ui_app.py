"""The real app, served on a free port and driven through gradio_client: a real store of the
small shipped documents, the real MiniLM and the real SmolLM2 through llama.cpp."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.errors import ConfigError
from assistant.models import catalog
from assistant.settings import Settings
from tests.helpers import TEST_MODEL, free_port

# The article first: SmolLM2 answers and cites these (greedy decoding, checked by hand); the
# second is a fallback should a different llama.cpp build word the first answer differently.
QUESTIONS = [
    "What did Zuckerberg and Ek criticize?",
    "Which CEO joined Mark Zuckerberg in the joint statement on EU AI rules?",
]


def small_settings(data_dir: Path) -> Settings:
    from assistant.settings import load_settings

    # A short prompt and answer keep each generation to seconds on 2 CPU cores; the wiring is
    # what is under test here, not answer quality.
    return load_settings(
        data_dir=data_dir, model=TEST_MODEL, top_k=3, prompt_budget_tokens=700,
        max_answer_tokens=64,
    )


def serve_app(data_dir: Path) -> tuple[Any, str, Settings]:
    """Index the small documents (not the EU AI Act) into data_dir and serve the app."""
    from assistant.corpus import load_manifest
    from assistant.ingest.pipeline import ingest
    from ui.app import build_app

    settings = small_settings(data_dir)
    docs = [d for d in load_manifest(settings.corpus_manifest).documents
            if d.doc_id != "eu-ai-act-2024-1689"]
    report = ingest(settings, docs, progress=False)
    assert not report.failed, report.failed
    app = build_app(settings, runs_dir=data_dir / "runs")
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return app, f"http://127.0.0.1:{port}/", settings


def client(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False,
                  download_files=False)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings]]:
    app, url, settings = serve_app(tmp_path_factory.mktemp("ui-app"))
    try:
        yield url, settings
    finally:
        app.close()


ASK = "/ask"
# Outputs of /ask: chatbot, sources, question box, browser state, conversations, export, details
CHAT, SOURCES, BOX, BROWSER, CONVS, EXPORT, DETAILS = range(7)


def text_of(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def ask(c: Any, question: str, model: str = TEST_MODEL) -> tuple[list[tuple], tuple]:
    job = c.submit(question, model, 3, 0.0, True, True, api_name=ASK)
    final = job.result(timeout=240)
    return list(job.outputs()), final


@pytest.mark.slow
def test_ask_cite_follow_up_switch_model_and_reopen(served: tuple[str, Settings]) -> None:
    url, settings = served
    c = client(url)
    started = time.perf_counter()
    question = ""
    for question in QUESTIONS:
        outputs, final = ask(c, question)
        details = final[DETAILS]
        if details["citations"]:
            break
        c.predict(True, api_name="/new_chat")
    first_s = time.perf_counter() - started
    assert details["citations"], f"no cited answer from {TEST_MODEL}: {details['answer']}"
    assert not details["abstained"] and details["model"] == TEST_MODEL
    # It streamed: a pending message and partial answers came before the final one.
    assert len(outputs) >= 3
    # The passages showed while the answer was being written, before any citation was known.
    searching = [o[SOURCES] for o in outputs
                 if isinstance(o[SOURCES], str) and "being written" in o[SOURCES]]
    assert searching and 'id="turn-1"' in searching[0] and "#1" in searching[0]
    assert "being written" not in final[SOURCES]
    chat = final[CHAT]
    assert [m["role"] for m in chat] == ["user", "assistant"]
    answer_html = text_of(chat[-1])
    n = details["citations"][0]["n"]
    assert f'href="#src-1-{n}"' in answer_html
    assert f'id="src-1-{n}"' in final[SOURCES]
    assert details["citations"][0]["title"] in final[SOURCES].replace("&#x27;", "'")
    assert "llamacpp&#58;smollm2-135m" in answer_html
    conv = final[BROWSER]["conv"]
    assert conv and final[CONVS]["value"] == conv
    assert final[BOX] in ("", None) or final[BOX].get("__type__") == "update"

    # Switch model: the same weights through a path spec are a second, distinct model.
    # Loaded models are shared process-wide, so an earlier test may have loaded smollm2 from
    # another data dir: make sure this one has the file.
    gguf = catalog.ensure_model(settings.models_dir, "smollm2-135m", progress=False)
    other = f"llamacpp:{gguf}"
    note = c.predict(other, api_name="/select_model")  # the install button is not in the API
    assert "next answer uses" in note["value"]

    # A follow-up is searched together with the question it follows, and says so.
    outputs, final = ask(c, "What about Spotify?", model=other)
    details = final[DETAILS]
    assert details["model"] == other
    # (how it is rewritten is the engine's business; that the UI shows it is tested here)
    assert details["standalone_query"] not in ("", "What about Spotify?")
    chat = final[CHAT]
    assert [m["role"] for m in chat] == ["user", "assistant"] * 2
    assert "searched: “" in text_of(chat[-1])
    assert 'id="turn-2"' in final[SOURCES] and 'id="turn-1"' in final[SOURCES]
    assert final[BROWSER]["conv"] == conv  # the same conversation

    # Export as Markdown.
    value = final[EXPORT]["value"]  # the server's copy (same machine): a FileData dict
    export_path = Path(value["path"] if isinstance(value, dict) else value)
    exported = export_path.read_text(encoding="utf-8")
    assert "**You:** What about Spotify?" in exported and f"[{n}] " in exported

    # New chat, then reopen the conversation from the list; and restore it as a reload would.
    new = c.predict(True, api_name="/new_chat")
    assert new[0] == [] and "Sources appear here" in new[1]
    reopened = c.predict(conv, True, api_name="/open_conversation")
    assert len(reopened[0]) == 4
    restored = c.predict(final[BROWSER], True, api_name="/restore")
    assert len(restored[0]) == 4 and restored[2]["conv"] == conv
    print(f"first answer in {first_s:.1f} s")


@pytest.mark.slow
def test_compare_mark_correct_and_evaluate_the_saved_question(served: tuple[str, Settings]
                                                              ) -> None:
    url, settings = served
    c = client(url)
    gguf = catalog.ensure_model(settings.models_dir, "smollm2-135m", progress=False)
    other = f"llamacpp:{gguf}"
    job = c.submit(QUESTIONS[1], TEST_MODEL, 3, 0.0, True, True, [other], api_name=ASK)
    final = job.result(timeout=480)
    outputs = list(job.outputs())
    details = final[DETAILS]
    # One record per model, written from the same passages, one after the other.
    assert [a["model"] for a in details["answers"]] == [TEST_MODEL, other]
    first, second = details["answers"]
    assert [p["chunk_id"] for p in first["retrieved"]] == \
        [p["chunk_id"] for p in second["retrieved"]] == \
        [p["chunk_id"] for p in details["retrieved"]]
    # The second model's column waited while the first one streamed.
    assert any("Waiting for its turn" in text_of(o[CHAT][-1]) for o in outputs
               if isinstance(o[CHAT], list) and o[CHAT])
    html = text_of(final[CHAT][-1])
    assert html.count('class="compare-model"') == 2 and "prompt tokens" in html
    assert "Mark the right one" in html
    assert final[SOURCES].count('class="turn-sources"') == 1  # one shared sources list

    # Pick the answer to review (what the page does after each answer), then mark the second
    # model right: saved with the conversation, shown, and exported.
    mark = c.predict(1, api_name="/review_answer")[0]
    assert [v for _, v in mark["choices"]] == [TEST_MODEL, other, "none"]
    chat, export, status = c.predict(other, 1, True, api_name="/mark_right")
    assert "Marked right" in status and "✓ marked right" in text_of(chat[-1])
    value = export["value"]
    exported = Path(value["path"] if isinstance(value, dict) else value).read_text("utf-8")
    assert f"marked right: {other}" in exported
    reopened = c.predict(final[BROWSER]["conv"], True, api_name="/open_conversation")
    assert "✓ marked right" in text_of(reopened[0][-1])

    # Correct it into an eval question, then run the eval on the saved questions.
    must = c.predict("Daniel Ek, the CEO of Spotify", 1, api_name="/propose_must_include")
    assert "Daniel Ek" in must[0]
    status, note = c.predict(1, "Daniel Ek, the CEO of Spotify", False, must[0],
                             ["etcentric-meta-spotify-statement"], api_name="/save_question")
    assert "Saved as a fact question" in status and "saved questions" in note
    mine = settings.data_dir / "questions" / "mine.jsonl"
    saved = json.loads(mine.read_text(encoding="utf-8").splitlines()[-1])
    assert saved["question"] == QUESTIONS[1] and saved["origin"]["model"] == other
    assert ["Daniel Ek"] in saved["must_include"]
    out = c.predict([TEST_MODEL], "mine", 0, [], "ui-mine", False, "", api_name="/run_eval")
    assert out[1]["value"]["data"][0][0] == TEST_MODEL
    summary = json.loads((settings.data_dir / "runs" / "ui-mine" / "summary.json").read_text())
    assert summary["question_file"] == str(mine)


@pytest.mark.slow
def test_errors_are_shown_and_the_conversation_is_kept(served: tuple[str, Settings]) -> None:
    url, _ = served
    c = client(url)
    # An empty question changes nothing.
    final = c.predict("   ", TEST_MODEL, 3, 0.0, True, True, api_name=ASK)
    assert final[CHAT] == {"__type__": "update"} or final[CHAT] in (None, [])
    # A model that is not there: a warning, no answer, the question back in the box.
    missing = "llamacpp:/nonexistent/model.gguf"
    final = c.predict("Who is Daniel Ek?", missing, 3, 0.0, True, True, api_name=ASK)
    assert final[CHAT] == []
    assert final[BOX] == "Who is Daniel Ek?"
    assert final[DETAILS] == {"__type__": "update"} or final[DETAILS] is None


@pytest.mark.slow
def test_stop_ends_the_answer_and_frees_the_model(served: tuple[str, Settings]) -> None:
    url, _ = served
    c = client(url)
    job = c.submit(QUESTIONS[0], TEST_MODEL, 3, 0.0, True, True, api_name=ASK)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not job.done():
        outs = job.outputs()
        if outs and isinstance(outs[-1][CHAT], list) and "streaming" in text_of(
            outs[-1][CHAT][-1]
        ):
            break
        time.sleep(0.05)
    c.predict(api_name="/stop")
    final = job.result(timeout=120)
    details = final[DETAILS]
    assert details["stopped"] is True, details
    assert "stopped" in text_of(final[CHAT][-1])
    # The passages it was written from are kept with the stopped answer.
    assert details["retrieved"] and "Passages the model was reading" in final[SOURCES]
    # The model's lock was released: the next question is answered.
    outputs, final = ask(c, "What about Spotify?")
    assert final[DETAILS]["stopped"] is False


@pytest.mark.slow
def test_conversations_are_per_browser(served: tuple[str, Settings]) -> None:
    from gradio_client.exceptions import AppError

    url, _ = served
    alice, bob = client(url), client(url)
    # Two people ask at once; each gets their own answer in their own conversation.
    jobs = [c.submit(q, TEST_MODEL, 3, 0.0, True, True, api_name=ASK)
            for c, q in ((alice, QUESTIONS[0]), (bob, QUESTIONS[1]))]
    final, theirs = (job.result(timeout=240) for job in jobs)
    assert final[DETAILS]["question"] == QUESTIONS[0]
    assert theirs[DETAILS]["question"] == QUESTIONS[1]
    conv = final[BROWSER]["conv"]
    assert conv != theirs[BROWSER]["conv"]
    assert [v for _, v in theirs[CONVS]["choices"]] == [theirs[BROWSER]["conv"]]
    # Bob cannot open Alice's conversation, even knowing its id: it is not in his list...
    with pytest.raises(AppError, match="not in the list of choices"):
        bob.predict(conv, True, api_name="/open_conversation")
    # ... and the store checks the owner, so a forged localStorage does not open it either.
    seen = bob.predict({"client": "bob-browser", "conv": conv}, True, api_name="/restore")
    assert seen[0] == [] and seen[2] == {"client": "bob-browser", "conv": ""}
    assert seen[3]["choices"] == []
    # Alice deletes it: gone from her list, and her chat starts afresh.
    after = alice.predict(True, api_name="/delete_conversation")
    assert after[0] == [] and after[2]["conv"] == ""
    assert conv not in [v for _, v in after[3]["choices"]]


@pytest.mark.slow
def test_corpus_tab_lists_uploads_and_removes(served: tuple[str, Settings], tmp_path: Path
                                              ) -> None:
    from gradio_client import handle_file

    url, _ = served
    c = client(url)
    table, _ = c.predict(api_name="/list_documents")
    ids = [row[0] for row in table["value"]["data"]]
    assert "etcentric-meta-spotify-statement" in ids and "eu-ai-act-2024-1689" not in ids
    good = tmp_path / "harbour-notes.md"
    good.write_text("# Harbour notes\n\nThe harbour master said <script>alert(1)</script> the "
                    "ferry leaves at nine every morning from pier four.\n")
    bad = tmp_path / "binary.xyz"
    bad.write_bytes(b"\x00\x01")
    report, table, _ = c.predict([handle_file(str(good)), handle_file(str(bad))],
                                 api_name="/upload_documents")
    assert "harbour-notes" in report and "Not indexed" in report and "binary.xyz" in report
    assert "<script" not in report
    assert "harbour-notes" in [row[0] for row in table["value"]["data"]]
    report, table, _ = c.predict("harbour-notes", api_name="/remove_document")
    assert "Removed harbour-notes" in report
    assert "harbour-notes" not in [row[0] for row in table["value"]["data"]]


@pytest.mark.slow
def test_evaluate_tab_runs_and_lists_runs(served: tuple[str, Settings], tmp_path: Path) -> None:
    url, settings = served
    c = client(url)
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        '{"id": "unans-x", "question": "What is the recipe for sourdough bread?", '
        '"expected_answer": "", "must_include": [], "sources": [], "answerable": false, '
        '"kind": "unanswerable"}\n'
    )
    out = c.predict([TEST_MODEL], str(questions), 1, [], "ui-test", False, "",
                    api_name="/run_eval")
    status, table, accuracy, latency, report_file, report_view, runs, baselines = out
    assert "1 questions" in status or "ui-test" in status
    assert table["value"]["headers"][0] == "model"
    assert table["value"]["data"][0][0] == TEST_MODEL
    assert (settings.data_dir / "runs" / "ui-test" / "summary.json").exists()
    assert 'sandbox=""' in report_view
    assert runs["value"] == "ui-test"
    # The run just finished is offered at once as one to compare the next run with.
    assert "ui-test" in str(baselines["choices"])
    listed = c.predict(api_name="/list_eval_runs")
    assert "ui-test" in [v for _, v in listed["choices"]] or "ui-test" in str(listed)
    reopened = c.predict("ui-test", api_name="/open_eval_run")
    assert reopened[1]["value"]["data"][0][0] == TEST_MODEL
    # A second run compared with the first, question by question: the same model, the same
    # passages, a clean context each time, so nothing changed.
    again = c.predict([TEST_MODEL], str(questions), 1, [], "ui-test-2", False, "ui-test",
                      api_name="/run_eval")
    assert f"{TEST_MODEL} against {settings.data_dir / 'runs' / 'ui-test'}: " in again[0]
    assert "(+0 −0), p = 1.00: within noise" in again[0]
    assert "within noise" in c.predict("ui-test-2", api_name="/open_eval_run")[0]
    assert "Against the earlier run" in again[5]


def test_the_page_is_served_before_the_store_is_opened(tmp_path: Path) -> None:
    """`assistant ui` serves its page first: the store opens on first use, or on the warm-up
    thread `launch` starts once the page is up."""
    import urllib.request

    from assistant.chat import ChatService
    from ui.app import build_app

    settings = small_settings(tmp_path)
    service = ChatService(settings, open_now=False)
    app = build_app(settings, service, runs_dir=tmp_path / "runs")
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60) as page:
            assert page.status == 200
        assert not settings.store_dir.exists()
        assert service.corpus.documents() == []  # an empty data directory: an empty store
        assert settings.store_dir.exists()
    finally:
        app.close()


def test_binding_beyond_loopback_needs_auth(tmp_path: Path) -> None:
    from ui.app import check_serving, is_loopback, launch, parse_auth

    settings = small_settings(tmp_path)
    with pytest.raises(ConfigError) as err:
        launch(settings, host="0.0.0.0", port=free_port())
    assert "--auth" in str(err.value)
    with pytest.raises(ConfigError, match="--auth"):
        check_serving("192.168.1.20", None)
    with pytest.raises(ConfigError, match="user:password"):
        parse_auth("no-colon")
    assert check_serving("127.0.0.1", None) is None
    assert check_serving("0.0.0.0", "me:secret") == ("me", "secret")
    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.org"))
    assert os.environ.get("GRADIO_ANALYTICS_ENABLED") == "False"


def test_committed_reports_are_listed_and_open_beside_local_runs(tmp_path: Path) -> None:
    import shutil

    import gradio as gr

    from ui.evaluate import EvalHandlers

    # A fresh clone has no raw runs, only the committed report: it is offered too.
    (committed,) = [d for d in (Path(__file__).resolve().parents[1] / "eval" / "reports").iterdir()
                    if (d / "summary.json").exists()]
    name = committed.name
    summary = json.loads((committed / "summary.json").read_text(encoding="utf-8"))
    reports = tmp_path / "reports"
    shutil.copytree(committed, reports / name)
    (reports / "2026-11-26l").mkdir()  # no summary.json: not a report
    runs = tmp_path / "runs"
    shutil.copytree(committed, runs / "mine")
    evals = EvalHandlers(Settings(data_dir=tmp_path / "data"), runs, reports)
    assert evals.run_choices() == [
        ("mine", "mine"), (f"{name} (committed report)", f"report:{name}")]
    # Only local runs can be a baseline: a report has no per-question answers to compare.
    assert "report:" not in str(evals.baselines().choices)
    status, table, accuracy, *_ = evals.open_run(f"report:{name}")
    assert f"Committed report {name}: {summary['questions']} questions" in status
    assert [row[0] for row in table.value["data"]] == list(summary["models"])
    assert accuracy.visible and accuracy.value["orig_name"] == "accuracy.png"
    # A name cannot climb out of the reports folder: "../runs/mine" is looked up as reports/mine.
    assert evals.open_run("report:../runs/mine") == (gr.skip(),) * 6


def test_the_ui_does_not_import_the_mcp_sdk_and_leaves_it_importable() -> None:
    # Gradio would import it at its own import (0.3-0.5 s of the UI's start); `assistant mcp`
    # in the same interpreter still finds it.
    import subprocess
    import sys

    code = ("import sys, ui.app; assert 'mcp' not in sys.modules, 'imported'; "
            "from mcp.server import MCPServer; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
