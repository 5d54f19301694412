"""Pure tests of the UI's rendering and conversation store: escaping, links, flags, exports."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from assistant.answer.citations import Sentence
from assistant.answer.generate import AnswerResult
from assistant.retrieve.hybrid import Passage
from ui import answer_html, corpus_html, escape, eval_html, export, records, sources_html
from ui.history import ConversationStore

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def assert_inert(html: str) -> None:
    """No element or attribute that could run code came out of the data."""
    for tag, attrs in tags(html):
        assert tag not in ("script", "img", "iframe", "object", "embed"), (tag, html)
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, html)
            assert not (value or "").strip().lower().startswith("javascript:"), (tag, name)


def passage(n: int, **kw: Any) -> dict[str, Any]:
    base = {
        "chunk_id": f"doc-{n}", "doc_id": "etcentric-meta-spotify-statement",
        "title": "Meta, Spotify Issue Statement", "url": "https://etcentric.org/a",
        "publisher": "ETCentric", "date": "2024-08-26", "locator": "",
        "text": "Intro line. Spotify CEO Daniel Ek joined Mark Zuckerberg in the statement. "
        "Other text follows.",
        "similarity": 0.5, "score": 0.03,
    }
    return {**base, **kw}


def record(**kw: Any) -> dict[str, Any]:
    cited = passage(1)
    base = {
        "question": "Which CEO joined Zuckerberg?",
        "answer": "Daniel Ek joined Mark Zuckerberg [1].",
        "abstained": False, "abstain_reason": "", "model": "llamacpp:smollm2-135m",
        "standalone_query": "Which CEO joined Zuckerberg?",
        "sentences": [{"text": "Daniel Ek joined Mark Zuckerberg.", "cited": [1],
                       "supported": True, "support": 1.0}],
        "citations": [{**cited, "n": 1, "supported": True}],
        "retrieved": [cited, passage(2, text="An unrelated passage about licences.")],
        "timings": {"total_ms": 1234.0}, "stopped": False,
    }
    return {**base, **kw}


def test_document_text_is_escaped_in_the_sources_panel() -> None:
    evil = passage(1, text=f"Ek joined. {EVIL}", title=EVIL, publisher=EVIL, locator=EVIL,
                   date=EVIL)
    rec = record(citations=[{**evil, "n": 1, "supported": True}],
                 retrieved=[evil, passage(2, text=EVIL, title=EVIL)], question=EVIL)
    html = sources_html.render_sources([(1, rec)])
    assert_inert(html)
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_answer_and_question_text_are_escaped_for_the_chatbot() -> None:
    rec = record(sentences=[{"text": f"Ek said {EVIL} and **this** _that_ $5 [link](x).",
                             "cited": [1], "supported": True, "support": 1.0}],
                 model=EVIL, standalone_query=EVIL)
    html = answer_html.render_answer(rec, 1)
    assert_inert(html)
    assert "<script" not in html and "onerror=" not in html
    # Markdown syntax from the model is shown as text, except bold, rebuilt from escaped text.
    assert "<strong>this</strong>" in html
    assert "&#95;that&#95;" in html and "&#36;5" in html and "&#91;link&#93;" in html
    user = answer_html.render_user(EVIL + "\nsecond line")
    assert_inert(user)
    assert "<br>second line" in user


def test_partial_answers_are_escaped_while_streaming() -> None:
    html = answer_html.render_partial(f"Ek {EVIL}")
    assert_inert(html)
    assert "streaming" in html
    assert "Searching" in answer_html.render_partial("")


def test_javascript_urls_are_not_links() -> None:
    rec = record(citations=[{**passage(1, url="javascript:alert(1)"), "n": 1,
                             "supported": True}])
    html = sources_html.render_sources([(1, rec)])
    assert_inert(html)
    assert 'href="javascript' not in html
    assert escape.safe_url("https://example.org/x") == "https://example.org/x"
    assert escape.safe_url("data:text/html,hi") == ""


def test_markers_link_to_the_right_anchors() -> None:
    rec = record(
        sentences=[
            {"text": "Daniel Ek joined.", "cited": [1], "supported": True, "support": 1.0},
            {"text": "It was in The Economist.", "cited": [2], "supported": True,
             "support": 1.0},
        ],
        citations=[{**passage(1), "n": 1, "supported": True},
                   {**passage(2, chunk_id="doc-9"), "n": 2, "supported": True}],
    )
    answer = answer_html.render_answer(rec, 3)
    links = [a for t, a in tags(answer) if t == "a" and "cite" in (a.get("class") or "")]
    assert [a["href"] for a in links] == ["#src-3-1", "#src-3-2"]
    # The marker sits before the sentence's full stop, as the engine renders it.
    assert 'Daniel Ek joined <a class="cite" href="#src-3-1"' in answer
    sources = sources_html.render_sources([(3, rec)])
    ids = {a.get("id") for t, a in tags(sources) if t == "details"}
    assert {"src-3-1", "src-3-2"} <= ids
    # Cited passages are open; each shows title, publisher, date and a link to the source.
    cited = [a for t, a in tags(sources) if t == "details" and a.get("id") == "src-3-1"]
    assert "open" in cited[0]
    assert "ETCentric" in sources and "2024-08-26" in sources
    assert 'href="https://etcentric.org/a"' in sources


def test_marker_fallback_without_sentences() -> None:
    rec = record(sentences=[], answer="Ek joined [1]. Also [2, 3].")
    html = answer_html.render_answer(rec, 2)
    assert 'href="#src-2-1"' in html
    # Markers the answer does not have as citations are shown but not linked.
    assert 'href="#src-2-3"' not in html and "[3]" in html


def test_supporting_sentence_is_highlighted_and_locator_shown() -> None:
    rec = record(citations=[{**passage(1, locator="Article 53(2)"), "n": 1, "supported": True}])
    html = sources_html.render_sources([(1, rec)])
    assert "<mark>Spotify CEO Daniel Ek joined Mark Zuckerberg in the statement.</mark>" in html
    assert "<mark>Intro line.</mark>" not in html
    assert 'class="locator">Article 53(2)<' in html


def test_of_two_sentences_as_close_to_the_claim_the_more_focused_is_highlighted() -> None:
    note = ("Footnote 1 (What is Open Source AI, “… that grant the freedoms”): These freedoms are "
            "derived from the Free Software Definition.")
    claim = "The freedoms in the Open Source AI Definition come from the Free Software Definition."
    assert sources_html.highlight(note, [claim]) == (
        "Footnote 1 (What is Open Source AI, “… that grant the freedoms”): "
        "<mark>These freedoms are derived from the Free Software Definition.</mark>"
    )


def test_retrieved_but_not_cited_are_collapsed_and_optional() -> None:
    html = sources_html.render_sources([(1, record())], show_retrieved=True)
    others = [a for t, a in tags(html) if t == "details" and a.get("class") == "others"]
    assert others and "open" not in others[0]
    assert "unrelated passage" in html
    assert "unrelated passage" not in sources_html.render_sources(
        [(1, record())], show_retrieved=False
    )


def test_abstention_is_a_calm_notice_with_the_closest_passages() -> None:
    rec = record(
        abstained=True, abstain_reason="passages_do_not_answer", citations=[], sentences=[],
        answer="The documents do not say: the closest passages (listed below) do not answer "
        "this question.",
    )
    html = answer_html.render_answer(rec, 1)
    assert 'class="abstain"' in html and "The documents do not answer this" in html
    assert "error" not in html.lower()
    assert "cite" not in html
    sources = sources_html.render_sources([(1, rec)])
    assert "Closest passages" in sources and "Daniel Ek" in sources


def test_unsupported_sentences_are_flagged() -> None:
    rec = record(sentences=[
        {"text": "Daniel Ek joined Mark Zuckerberg.", "cited": [1], "supported": True,
         "support": 1.0},
        {"text": "Elon Musk also signed it.", "cited": [], "supported": False, "support": 0.1},
    ])
    html = answer_html.render_answer(rec, 1)
    flagged = [a for t, a in tags(html) if t == "span" and a.get("class") == "unsupported"]
    assert len(flagged) == 1
    assert "⚠ unsupported" in html
    assert html.index("Elon Musk") > html.index('class="unsupported"')
    rec["citations"][0]["supported"] = False
    assert "not supported" in sources_html.render_sources([(1, rec)])


def test_stamp_has_model_and_standalone_query_for_follow_ups() -> None:
    first = answer_html.render_answer(record(), 1)
    assert "llamacpp&#58;smollm2-135m" in first and "searched" not in first
    follow = record(question="What about Spotify?",
                    standalone_query="Which CEO joined Zuckerberg? What about Spotify?")
    html = answer_html.render_answer(follow, 2)
    assert "searched: “Which CEO joined Zuckerberg? What about Spotify?”" in html
    assert "1.2 s" in html
    assert "second try" not in html


def test_stamp_says_when_the_answer_came_from_the_retry() -> None:
    html = answer_html.render_answer(record(retried=True), 1)
    assert '<span class="retried"' in html and "second try" in html


def test_stamp_says_when_the_answer_is_a_quoted_passage_sentence() -> None:
    assert "quoted" not in answer_html.render_answer(record(), 1)
    html = answer_html.render_answer(record(quoted=True), 1)
    assert '<span class="quoted"' in html and "quoted from the passage" in html


def test_stamp_says_when_the_answer_was_cut_off_at_the_length_limit() -> None:
    assert "cut off" not in answer_html.render_answer(record(), 1)
    html = answer_html.render_answer(record(cut_off=True), 1)
    assert '<span class="cut-off"' in html and "max_answer_tokens" in html


def test_empty_panel_and_latest_answer_first() -> None:
    assert "Sources appear here" in sources_html.render_sources([])
    html = sources_html.render_sources(
        [(1, record(question="first")), (2, record(question="second"))]
    )
    assert html.index('id="turn-2"') < html.index('id="turn-1"')


def test_record_from_a_real_answer_result() -> None:
    p = Passage(chunk_id="c1", doc_id="d", title="T", url="https://x.org", publisher="P",
                date="2024", locator="Section 2", heading="", text="Daniel Ek joined.",
                score=0.1, similarity=0.6)
    result = AnswerResult(
        question="q", answer="Daniel Ek joined [1].", abstained=False, model="m",
        passages=[p], cited=[1],
        sentences=[Sentence(text="Daniel Ek joined.", cited=[1], supported=True, support=1.0)],
        standalone_query="q", retrieved=[p], timings={"total_ms": 10.0},
    )
    rec = records.record_from_result(result)
    assert rec["cut_off"] is False and rec["quoted"] is False
    assert rec["citations"][0]["locator"] == "Section 2"
    assert rec["retrieved"][0]["chunk_id"] == "c1"
    assert rec["sentences"] == [{"text": "Daniel Ek joined.", "cited": [1], "supported": True,
                                 "support": 1.0, "moved_from": []}]
    assert 'href="#src-1-1"' in answer_html.render_answer(rec, 1)
    # One record shape: what the UI stores is what `assistant ask --json` prints.
    assert {k: v for k, v in rec.items() if k != "stopped"} == result.to_json()


def test_an_abstention_names_the_check_that_decided_it() -> None:
    rec = {"abstained": True, "abstain_reason": "passages_do_not_mention",
           "abstain_check": "names_unmentioned", "answer": "The documents do not say: ...",
           "model": "m"}
    html = answer_html.render_answer(rec, 1)
    assert "check: names&#95;unmentioned" in html and 'class="abstain-check"' in html


def test_conversation_markdown_export() -> None:
    text = export.conversation_markdown("Ek", [
        ("user", "Which CEO?", None),
        ("assistant", "Daniel Ek [1].", record()),
    ])
    assert text.startswith("# Ek\n")
    assert "**You:** Which CEO?" in text and "**Assistant:** Daniel Ek [1]." in text
    assert "[1] Meta, Spotify Issue Statement (ETCentric, 2024-08-26) <https://etcentric.org/a>" \
        in text
    assert "> Intro line." in text


def test_ingest_report_escapes_names_and_reasons() -> None:
    html = corpus_html.render_ingest_report(["a"], [], ["b"], [(EVIL, "unsupported type '.exe'")],
                                       "1 added")
    assert_inert(html)
    assert "Not indexed" in html and "unsupported type" in html


def test_summary_table_shapes() -> None:
    nested = {"questions": 2, "models": {
        "llamacpp:a": {"stamp": {}, "overall": {"accuracy": 0.51234,
                                                "accuracy_ci95": [0.4829, 0.6899],
                                                "kinds": ["fact"], "total_ms_p50": 10.0},
                       "by_kind": {}}}}
    headers, rows = eval_html.summary_table(nested)
    assert headers == ["model", "accuracy", "accuracy_ci95", "total_ms_p50"]
    assert rows == [["llamacpp:a", 0.512, "0.483–0.690", 10.0]]
    headers, rows = eval_html.summary_table([{"model": "m", "accuracy": 1.0}])
    assert headers == ["model", "accuracy"] and rows == [["m", 1.0]]


def test_report_iframe_is_sandboxed_and_escaped() -> None:
    html = eval_html.report_iframe(f"<html><body>{EVIL}</body></html>")
    (tag, attrs), = tags(html)
    assert tag == "iframe" and attrs["sandbox"] == ""
    assert "<script" in (attrs["srcdoc"] or "")  # only inside the sandboxed document


def test_conversation_store_keeps_clients_apart(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "h.sqlite3")
    conv = store.create("alice", "  Which   CEO joined?  ")
    store.add_turn("alice", conv, "Which CEO joined?", "Daniel Ek [1].", record())
    assert [c.title for c in store.conversations("alice")] == ["Which CEO joined?"]
    assert store.conversations("bob") == []
    assert store.owns("alice", conv) and not store.owns("bob", conv)
    assert store.messages("bob", conv) == []
    messages = store.messages("alice", conv)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].record is not None and messages[1].record["citations"][0]["n"] == 1
    with pytest.raises(PermissionError):
        store.add_turn("bob", conv, "q", "a", {})
    assert not store.delete("bob", conv)
    assert store.delete("alice", conv)
    assert store.messages("alice", conv) == []
    # A second store on the same file sees the same data (one file per data directory).
    conv2 = store.create("alice", "x")
    assert ConversationStore(tmp_path / "h.sqlite3").owns("alice", conv2)


def test_a_stopped_answer_says_its_citations_were_not_checked() -> None:
    rec = record(stopped=True, sentences=[], citations=[], retrieved=[],
                 answer="Article 53(2) exempts [1")
    html = answer_html.render_answer(rec, 1)
    assert "stopped" in html and "cite" not in html
    assert "not checked" in sources_html.render_sources([(1, rec)])


def test_a_stopped_answer_keeps_the_passages_it_was_written_from() -> None:
    rec = record(stopped=True, sentences=[], citations=[], answer="Daniel Ek joined")
    html = sources_html.render_sources([(1, rec)])
    assert "not checked" in html and "Passages the model was reading" in html
    assert "An unrelated passage about licences." in html


def test_passages_show_on_top_while_an_answer_is_written() -> None:
    searching = {
        "question": "What about <Spotify>?",
        "standalone_query": "Which CEO joined Zuckerberg? What about <Spotify>?",
        "retrieved": [passage(1), passage(2, text="Second <b>passage</b>.")],
    }
    html = sources_html.render_sources([(1, record())], searching=searching)
    assert_inert(html)
    # The pending turn (2) comes first, with what was searched and the passages in rank order.
    assert html.index('id="turn-2"') < html.index('id="turn-1"')
    assert "Searched for: “Which CEO joined Zuckerberg? What about &lt;Spotify&gt;?”" in html
    assert "being written" in html and "Second &lt;b&gt;passage&lt;/b&gt;." in html
    assert html.index(">#1<") < html.index(">#2<")
    # A question searched as asked does not repeat itself; no passages says so.
    alone = sources_html.render_sources([], searching={"question": "q", "standalone_query": "q",
                                                 "retrieved": []})
    assert "Searched for" not in alone and "No passages found" in alone
    assert "Sources appear here" not in alone


def test_an_abstention_that_points_at_a_passage_links_it_and_lists_it_first() -> None:
    second = passage(2, text="You must request a license from Meta.")
    rec = record(
        abstained=True, abstain_reason="passages_do_not_answer", sentences=[], citations=[],
        answer="No answer in words: the model pointed at [2] (listed first below) but did not "
        "say what in it answers the question. Read it to check; nothing here confirms it.",
        retrieved=[passage(1), second],
        pointed=[{"n": 2, "chunk_id": "doc-2", "doc_id": second["doc_id"], "title": "t",
                  "locator": "", "url": ""}],
    )
    answer = answer_html.render_answer(rec, 1)
    assert "No answer, only a passage to read" in answer and 'href="#src-1-2"' in answer
    sources = sources_html.render_sources([(1, rec)])
    assert_inert(sources)
    assert 'id="src-1-2"' in sources and "pointed at, unconfirmed" in sources
    assert sources.index("request a license") < sources.index("Other close passages")
    assert sources.index("Other close passages") < sources.index("Spotify CEO Daniel Ek")
    assert ">#1<" in sources and ">#2<" not in sources  # numbered as the model saw them
    # Without a pointer the closest passages are listed as before.
    plain = sources_html.render_sources([(1, {**rec, "pointed": []})])
    assert "none of them answers it" in plain and "pointed" not in plain
