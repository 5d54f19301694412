"""Issue 32's UI: Summarize a document from the Corpus tab or the sources panel (the question and
the scope it puts into the chat), the answer's unit in its stamp, a summary's bullets, progress
and stop. The handlers run over a fake ChatService whose stream yields what the engine yields
(Searched, the Pieces, Answered), so the exact question and scope it was asked
with can be checked; one browser test drives the same through the page. The engine's overview
path itself is tested with the engine."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr
import pytest

from assistant.answer.citations import Sentence
from assistant.answer.generate import AnswerResult
from assistant.events import Answered, Piece, Searched
from assistant.retrieve.hybrid import Passage, Retrieval
from assistant.settings import Settings
from assistant.store.chroma import DocRecord
from tests.test_ui_render import assert_inert, passage, record, tags
from ui import answer_html, export, scope, sources_html
from ui.chat import ChatHandlers
from ui.history import ConversationStore

ARTICLE = "etcentric-meta-spotify-statement"
ARTICLE_TITLE = "Meta, Spotify Issue Statement on EU AI Rules"
CHARTER = "osi-open-source-ai-definition"
CHARTER_TITLE = "The Open Source AI Definition 1.0"
UNIT = {"label": f"the article: {ARTICLE_TITLE}", "docs": [ARTICLE], "provision": ""}
BULLETS = ["- Meta and Spotify criticised the EU's AI rules [1].\n",
           "- They asked for clear, consistent rules [2]."]


def _passage(n: int, doc_id: str = ARTICLE, title: str = ARTICLE_TITLE) -> Passage:
    return Passage(f"{doc_id}-{n}", doc_id, title, "https://example.org/a", "ETCentric",
                   "2024-08-26", "", "", f"Passage {n} of {title}: Meta and Spotify criticised "
                   "the EU rules and asked for clear, consistent rules.", 0.5, 0.6)


@dataclass
class SummaryResult(AnswerResult):
    """The record as the engine's overview mode writes it (the unit and mode keys)."""

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "unit": UNIT, "mode": "summary"}


@dataclass
class FakeCorpus:
    """The corpus service's listing, over two fixed documents."""

    docs: dict[str, DocRecord] = field(default_factory=lambda: {
        d: DocRecord(d, "v1", "sha", 3, 0.0, {"title": t, "publisher": "P"})
        for d, t in ((ARTICLE, ARTICLE_TITLE), (CHARTER, CHARTER_TITLE))})

    def records(self) -> dict[str, DocRecord]:
        return dict(self.docs)

    def documents(self) -> list[DocRecord]:
        return sorted(self.docs.values(), key=lambda r: r.meta["title"])


@dataclass
class FakeService:
    """ChatService's surface the chat tab uses; `stream` yields as the engine does and records
    how it was called. With `gate`, it waits for it before each piece after the first."""

    corpus: FakeCorpus = field(default_factory=FakeCorpus)
    calls: list[dict[str, Any]] = field(default_factory=list)
    pieces_given: int = 0
    closed: bool = False
    gate: threading.Event | None = None

    def stream(self, question: str, history: list[Any], **kw: Any) -> Iterator[Any]:
        self.calls.append({"question": question, "history": history, **kw})
        return self._stream(question, kw.get("docs") or [])

    def _stream(self, question: str, docs: list[str]) -> Iterator[Any]:
        doc = docs[0] if docs else ARTICLE
        title = self.corpus.docs[doc].meta["title"]
        passages = [_passage(1, doc, title), _passage(2, doc, title)]
        try:
            yield Searched(Retrieval(question, passages, 0.6, scope=list(docs)))
            for i, piece in enumerate(BULLETS):
                if i and self.gate is not None:
                    self.gate.wait(10)
                self.pieces_given += 1
                yield Piece(piece)
            sentences = [Sentence(b.strip()[:-5] + ".", [n], True, 1.0)
                         for n, b in enumerate(BULLETS, 1)]
            yield Answered(SummaryResult(
                question, "".join(BULLETS), False, "fake", passages, [1, 2], sentences,
                standalone_query=question, retrieved=passages, scope=list(docs),
                timings={"total_ms": 1500.0}))
        finally:
            # What closing the generator does to the engine: its model lock is released here.
            self.closed = True


def handlers(tmp_path: Path, service: FakeService | None = None) -> ChatHandlers:
    settings = Settings(data_dir=tmp_path)
    return ChatHandlers(settings, service or FakeService(),  # type: ignore[arg-type]
                        ConversationStore(tmp_path / "history.db"))


REQUEST = SimpleNamespace(session_hash="session-1")


def ask(chat: ChatHandlers, question: str, scoped: list[str]) -> Iterator[tuple[Any, ...]]:
    return chat.ask(question, None, 5, 0.1, True, True, [], None, REQUEST,  # type: ignore[arg-type]
                    scoped)


def last_message(out: tuple[Any, ...]) -> str:
    chat = out[0]
    return str(chat[-1]["content"]) if isinstance(chat, list) and chat else ""


# -- the stamp, the bullets, the buttons: pure rendering ---------------------------------------

def test_the_stamp_says_what_the_answer_is_about() -> None:
    unit = {"label": "Article 5 — EU AI Act", "docs": ["eu-ai-act-2024-1689"],
            "provision": "Article 5"}
    html = answer_html.render_answer(record(unit=unit, mode="lookup"), 1)
    about = [a for t, a in tags(html) if t == "span" and a.get("class") == "about"]
    assert len(about) == 1
    # The tooltip says how to change a wrong guess: the scope control.
    assert "Search only these documents" in (about[0].get("title") or "")
    assert "About: Article 5 — EU AI Act" in unescape(html)
    # Old records have no unit, or an empty one: no "About".
    for old in (record(), record(unit={}), record(unit=None), record(unit={"label": " "})):
        assert "About:" not in answer_html.render_answer(old, 1)
    assert_inert(answer_html.render_answer(record(unit={"label": '<img src=x onerror="x()">'}),
                                           1))
    # A comparison's columns show each answer's unit too.
    compared = {"answers": [record(unit=unit)], "retrieved": [], "marked": ""}
    assert "About: Article 5" in unescape(answer_html.render_answer(compared, 1))


def test_a_summary_shows_as_a_list_while_it_streams_and_when_done() -> None:
    partial = answer_html.render_partial("".join(BULLETS))
    items = [t for t, _ in tags(partial) if t == "li"]
    assert len(items) == 2 and "<ul class=\"bullets\">" in partial
    # The cursor sits at the end of the last item, not under the list.
    assert partial.endswith('<span class="cursor">▍</span></li></ul></div>')
    assert "- Meta" not in partial and "&#91;1&#93;" in partial
    # Done: each item's markers link to its passages; a flagged sentence stays flagged.
    rec = record(
        answer="".join(BULLETS),
        sentences=[{"text": "- Meta and Spotify criticised the EU's AI rules.", "cited": [1],
                    "supported": True, "support": 1.0},
                   {"text": "Both signed it.", "cited": [1], "supported": True, "support": 1.0},
                   {"text": "- They asked for clear, consistent rules.", "cited": [2],
                    "supported": False, "support": 0.1}],
        citations=[{**passage(1), "n": 1, "supported": True},
                   {**passage(2, chunk_id="doc-2"), "n": 2, "supported": False}])
    html = answer_html.render_answer(rec, 4)
    assert [t for t, _ in tags(html)].count("li") == 2
    first, second = html.split("<li>")[1:]
    assert 'href="#src-4-1"' in first and "Both signed it" in first
    assert 'href="#src-4-2"' in second and "⚠ unsupported" in second
    # Without checked sentences (a stopped summary, an old record) the lines still list.
    for rec in (record(answer="Intro.\n" + "".join(BULLETS), sentences=[]),
                record(answer="".join(BULLETS), sentences=[], stopped=True)):
        html = answer_html.render_answer(rec, 1)
        assert [t for t, _ in tags(html)].count("li") == 2, html
    # Prose stays prose.
    assert "<ul" not in answer_html.render_answer(record(), 1)
    assert "<ul" not in answer_html.render_partial("One line.\nAnother - not a list.")
    assert_inert(answer_html.render_partial('- <img src=x onerror="x()">\n- b'))


def test_each_passage_offers_to_summarize_its_document() -> None:
    rec = record(retrieved=[passage(1), passage(2, doc_id=CHARTER, title=CHARTER_TITLE)])
    html = sources_html.render_sources([(1, rec)])
    buttons = [a for t, a in tags(html) if t == "button"]
    assert {b.get("data-doc") for b in buttons} == {ARTICLE, CHARTER}
    assert all(b.get("type") == "button" and b.get("class") == "summarize-doc" for b in buttons)
    # Named for a screen reader's list of buttons: which document each one summarizes.
    assert f"Summarize {CHARTER_TITLE} in the chat" in {b.get("aria-label") for b in buttons}
    assert "Summarize this document</button>" in html
    hostile = passage(1, doc_id='x" onclick="y()', title='<img src=x onerror="z()">')
    assert_inert(sources_html.render_sources([(1, record(citations=[{**hostile, "n": 1}]))]))
    assert sources_html.summarize_button({"title": "no id"}) == ""


def test_the_question_and_the_export() -> None:
    assert scope.summary_question(" Meta, Spotify  Issue Statement. ") == \
        "Summarize Meta, Spotify Issue Statement."
    rec = record(answer="".join(BULLETS), unit=UNIT)
    text = export.conversation_markdown("t", [("user", "Summarize it.", None),
                                              ("assistant", rec["answer"], rec)])
    assert f"**Assistant:**\n\n{BULLETS[0]}{BULLETS[1]}\n" in text
    assert f"; about: the article: {ARTICLE_TITLE}_" in text


# -- the handlers over a fake engine -------------------------------------------------------------

def test_summarize_puts_the_question_and_the_scope_into_the_chat(tmp_path: Path) -> None:
    service = FakeService()
    chat = handlers(tmp_path, service)
    question, picker, tabs = chat.summarize(ARTICLE)
    assert question == f"Summarize {ARTICLE_TITLE}."
    assert picker.value == [f"doc:{ARTICLE}"]
    assert f"doc:{ARTICLE}" in [v for _, v in picker.choices]
    assert tabs.selected == "chat"
    # The sources panel's button sends the doc id as the event's data: the same result.
    clicked = chat.summarize_clicked(gr.EventData(None, {"doc": ARTICLE}))
    assert clicked[0] == question and clicked[1].value == picker.value

    # The chained step asks it as any question, with that scope.
    outputs, shown = [], []
    for out in ask(chat, question, picker.value):
        outputs.append(out)
        shown.append(last_message(out))  # now: the pending message is updated in place
    (call,) = service.calls
    assert call["question"] == question
    assert call["docs"] == [ARTICLE] and call["publishers"] == []
    # Progress: how many passages it reads, then the bullets as they come.
    assert any("Reading 2 passages…" in s for s in shown)
    assert any('class="answer streaming"' in s and "<li>" in s for s in shown)
    final = unescape(last_message(outputs[-1]))
    assert f"About: the article: {ARTICLE_TITLE}" in final
    assert f"searched only: {ARTICLE}" in final
    assert final.count("<li>") == 2
    details = outputs[-1][-1]
    assert details["unit"] == UNIT and details["mode"] == "summary"
    assert service.closed


def test_summarize_refuses_a_document_that_is_not_indexed(tmp_path: Path) -> None:
    chat = handlers(tmp_path)
    # gr.Error stops the chained ask: it must not ask whatever is in the question box.
    with pytest.raises(gr.Error, match="not in the index any more"):
        chat.summarize("gone-doc")
    with pytest.raises(gr.Error, match="Pick a document"):
        chat.summarize(None)
    with pytest.raises(gr.Error, match="Pick a document"):
        chat.summarize_clicked(gr.EventData(None, {}))


def test_stop_closes_the_engines_stream_and_keeps_what_was_written(tmp_path: Path) -> None:
    service = FakeService(gate=threading.Event())
    chat = handlers(tmp_path, service)
    question = scope.summary_question(ARTICLE_TITLE)
    run = ask(chat, question, [f"doc:{ARTICLE}"])
    outputs = []
    for out in run:
        outputs.append(out)
        if 'class="answer streaming"' in last_message(out):
            chat.stop(REQUEST)  # type: ignore[arg-type]
            service.gate.set()  # type: ignore[union-attr]
    # The first bullet was shown, then the stop: the engine's generator was closed without
    # being asked for the second piece.
    assert service.closed and service.pieces_given == 1
    details = outputs[-1][-1]
    assert details["stopped"] is True and details["answer"] == BULLETS[0].strip()
    assert details["scope"] == [ARTICLE]
    assert "stopped" in last_message(outputs[-1])


def test_stop_while_the_passages_are_read_asks_for_no_piece(tmp_path: Path) -> None:
    service = FakeService()
    chat = handlers(tmp_path, service)
    outputs = []
    for out in ask(chat, scope.summary_question(ARTICLE_TITLE), [f"doc:{ARTICLE}"]):
        outputs.append(out)
        if "Reading 2 passages" in last_message(out):
            chat.stop(REQUEST)  # type: ignore[arg-type]
    assert service.closed and service.pieces_given == 0
    assert outputs[-1][-1]["stopped"] is True


# -- the page: both Summarize actions, in a real headless Chromium -------------------------------

CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                    "(apt-get install chromium, or `make browser`)")
def test_summarize_from_the_corpus_tab_and_from_the_sources_panel(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.helpers import free_port
    from tests.test_ui_browser import ARGS
    from ui.app import build_app

    service = FakeService()
    app = build_app(Settings(data_dir=tmp_path), service=service,  # type: ignore[arg-type]
                    runs_dir=tmp_path / "runs")
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(30_000)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#question textarea")

            # Corpus tab: click the document's row, then Summarize.
            page.get_by_role("tab", name="Corpus").click()
            page.locator("#documents").get_by_role("gridcell", name=ARTICLE_TITLE).click()
            expect(page.locator("#corpus-remove input")).to_have_value(
                f"{ARTICLE_TITLE} ({ARTICLE})")
            page.click("#corpus-summarize-btn")
            # The Chat tab opens and the summary is asked there, scoped to the document.
            expect(page.get_by_role("tab", name="Chat")).to_have_attribute(
                "aria-selected", "true")
            turn = page.locator("#chat .turn").last
            expect(turn.locator(".stamp")).to_contain_text(f"About: the article: {ARTICLE_TITLE}")
            expect(turn.locator("ul.bullets li")).to_have_count(2)
            expect(page.locator("#chat")).to_contain_text(f"Summarize {ARTICLE_TITLE}.")
            assert [(c["question"], c["docs"]) for c in service.calls] == [
                (f"Summarize {ARTICLE_TITLE}.", [ARTICLE])]

            # Sources panel: the button under a passage, by keyboard.
            button = page.locator(f"#sources button.summarize-doc[data-doc='{ARTICLE}']").first
            button.focus()
            page.keyboard.press("Enter")
            expect(page.locator("#chat .turn")).to_have_count(2)
            expect(page.locator("#chat .turn").last.locator(".stamp")).to_contain_text("About:")
            assert [c["docs"] for c in service.calls] == [[ARTICLE], [ARTICLE]]
            assert len(service.calls[1]["history"]) == 2  # asked in the same conversation
            assert not errors
            browser.close()
    finally:
        app.close()
