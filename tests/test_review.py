"""Comparisons and corrections, as records: what a comparison shows and exports, which model it
stands for, and a corrected answer saved as a question the eval loads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assistant.cli import compare_specs
from assistant.errors import ConfigError
from assistant.eval import saved
from assistant.eval.questions import load_questions
from ui import answer_html, export, records, sources_html
from ui.history import ConversationStore

COLUMN = re.compile(r'class="compare-col[" ]')
PASSAGES = [
    {"chunk_id": "c1", "doc_id": "licence", "title": "Licence", "text":
     "If the monthly active users exceed 700 million, you must request a license from Meta."},
    {"chunk_id": "c2", "doc_id": "article", "title": "Article", "text":
     "Spotify CEO Daniel Ek joined Mark Zuckerberg in a joint statement."},
]


def answer(model: str, text: str, cited: list[int], supported: bool = True) -> dict:
    return {
        "question": "Who joined Zuckerberg?", "answer": text, "abstained": False, "model": model,
        "sentences": [{"text": text, "cited": cited, "supported": supported}],
        "citations": [{**PASSAGES[n - 1], "n": n, "supported": supported} for n in cited],
        "retrieved": PASSAGES, "timings": {"retrieve_ms": 20.0, "total_ms": 3020.0},
        "prompt_tokens": 512,
    }


def comparison(marked: str = "") -> dict:
    return {
        "question": "Who joined Zuckerberg?", "compare": True, "marked": marked,
        "answers": [answer("a", "Daniel Ek [2].", [2]),
                    answer("b", "Meta [1] and Ek [2].", [1, 2], supported=False)],
        "answer": "Daniel Ek [2].", "retrieved": PASSAGES,
    }


def test_a_comparison_shows_a_column_per_model_and_one_list_of_sources() -> None:
    html = answer_html.render_answer(comparison(), 1)
    assert len(COLUMN.findall(html)) == 2
    assert "answered in 3.0 s" in html and "512 prompt tokens" in html
    # Both columns link the same numbers to the same shared passages.
    assert html.count('href="#src-1-2"') == 2
    sources = sources_html.render_turn_sources(comparison(), 1)
    assert sources.count('id="src-1-2"') == 1 and 'id="src-1-1"' in sources
    assert "cited by a, b" in sources and "cited by b" in sources
    # b's sentence citing [1] and [2] is unsupported, so both passages carry the flag.
    assert sources.count("is not supported") == 2


def test_the_mark_decides_what_the_comparison_stands_for() -> None:
    assert records.shown_answer(comparison()) == "Daniel Ek [2]."
    marked = comparison(marked="b")
    assert records.shown_answer(marked) == "Meta [1] and Ek [2]."
    assert "✓ marked right" in answer_html.render_answer(marked, 1)
    text = export.conversation_markdown(
        "t", [("user", "Who joined Zuckerberg?", None), ("assistant", "x", marked)])
    assert "*b* ✓ marked right" in text and "_marked right: b_" in text
    assert "[2] Article — cited by a, b" in text
    none = export.conversation_markdown("t", [("assistant", "x", comparison(marked="none"))])
    assert "none of them marked right" in none


def test_a_streaming_comparison_says_which_model_is_waiting() -> None:
    done = {"answers": [answer("a", "Daniel Ek [2].", [2])], "retrieved": PASSAGES}
    html = answer_html.render_compare(done, 1, [("b", ""), ("c", "")])
    assert "Reading the passages" in html and "Waiting for its turn" in html
    assert len(COLUMN.findall(html)) == 3


def test_one_compare_flag_is_set_beside_the_chosen_model() -> None:
    assert compare_specs(["x"], "default") == ["default", "x"]
    assert compare_specs(["x", "y"], "default") == ["x", "y"]


def test_a_mark_is_saved_only_on_the_owners_answer(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite3")
    conv = store.create("alice", "q")
    store.add_turn("alice", conv, "q", "first", comparison())
    assert store.set_record("alice", conv, 1, comparison("a"), "first")
    assert store.messages("alice", conv)[1].record["marked"] == "a"  # type: ignore[index]
    assert not store.set_record("bob", conv, 1, comparison("b"), "x")
    assert not store.set_record("alice", conv, 2, comparison("b"), "x")
    assert store.messages("alice", conv)[1].record["marked"] == "a"  # type: ignore[index]


def test_must_include_is_proposed_from_the_correction() -> None:
    texts = [p["text"] for p in PASSAGES]
    got = saved.propose_must_include("Daniel Ek, the CEO of Spotify", "Who joined Zuckerberg?",
                                     texts)
    flat = [g[0] for g in got]
    assert "Daniel Ek" in flat and "Spotify" in flat
    got = saved.propose_must_include("More than 700 million monthly users need a license.",
                                     "Who needs a license?", texts)
    assert ["700 million"] in got
    assert ["license"] not in got  # the question already says it
    assert saved.propose_must_include("  ", "q", texts) == []
    assert saved.parse_must_include("Daniel Ek | Ek, Spotify") == [["Daniel Ek", "Ek"],
                                                                   ["Spotify"]]
    assert saved.format_must_include([["Daniel Ek", "Ek"], ["Spotify"]]) == \
        "Daniel Ek | Ek, Spotify"


def test_a_correction_becomes_a_question_the_eval_loads(tmp_path: Path) -> None:
    path = saved.questions_path(tmp_path)
    record = answer("m", "Meta [1].", [1])
    fact = saved.question_record(record, [], "Daniel Ek", False, [["Daniel Ek"]], ["article"],
                                 verdict="down")
    saved.append(path, fact)
    # A follow-up keeps the turns before it; a refusal the user knows to be wrong is answerable.
    history = [{"role": "user", "content": "Who is Zuckerberg?"},
               {"role": "assistant", "content": "Meta's CEO."}]
    follow = saved.question_record(
        {**record, "question": "And his partner?", "standalone_query": "Who is Zuckerberg? "
         "And his partner?", "abstained": True}, history, "Daniel Ek", False, [["Ek"]], [])
    saved.append(path, follow)
    # A thumbs-down on an invented answer: the documents do not say.
    invented = saved.question_record(record, [], "", True, [["ignored"]], ["article"])
    saved.append(path, invented)
    loaded = load_questions(path)
    assert [q.kind for q in loaded] == ["fact", "followup", "unanswerable"]
    assert loaded[0].must_include == [["Daniel Ek"]] and loaded[0].sources == ["article"]
    assert loaded[1].history == history and loaded[1].answerable
    assert not loaded[2].answerable and loaded[2].must_include == [] and not loaded[2].sources
    assert loaded[2].expected_answer == saved.NOT_SAID
    line = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert line["origin"] == {"model": "m", "answer": "Meta [1].", "abstained": False,
                              "verdict": "down"}
    s = saved.summary(path)
    assert s.count == 3 and s.first_added <= s.last_added and s.last_added.startswith("20")
    assert saved.resolve(Path("mine"), tmp_path) == path


def test_a_correction_that_could_not_be_scored_is_refused(tmp_path: Path) -> None:
    record = answer("m", "Meta [1].", [1])
    with pytest.raises(ConfigError, match="empty"):
        saved.question_record(record, [], " ", False, [["x"]], [])
    with pytest.raises(ConfigError, match="must include"):
        saved.question_record(record, [], "Daniel Ek", False, [], [])
    bad = saved.question_record(record, [], "Daniel Ek", False, [["Ek"]], [])
    bad["kind"] = "guess"
    with pytest.raises(ConfigError, match="would not load"):
        saved.append(tmp_path / "q.jsonl", bad)
    assert not (tmp_path / "q.jsonl").exists()
