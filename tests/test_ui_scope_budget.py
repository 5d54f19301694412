"""Pure rendering and parsing for issue 24: passages over the prompt budget in the sources panel,
the scope in the answer stamp and the scope picker's choices, the URL import's form values and
its per-URL report; plus in_prompt in the answer record from a real generate() with a fake model."""

from __future__ import annotations

from html import unescape
from typing import Any

from assistant.ingest.web import CrawlOptions, Outcome, WebIngestReport
from tests.test_ui_render import assert_inert, passage, record, tags
from ui import answer_html, corpus_html, corpus_url, scope, sources_html


def test_passages_over_the_budget_are_marked_apart_from_those_not_cited() -> None:
    cited = passage(1)
    read = passage(2, text="A passage the model read and did not cite.", in_prompt=True)
    over = passage(3, text="A passage past the prompt budget.", in_prompt=False)
    html = sources_html.render_sources(
        [(1, record(retrieved=[{**cited, "in_prompt": True}, read, over]))])
    groups = [a.get("class") for t, a in tags(html) if t == "details"
              and "others" in (a.get("class") or "")]
    assert groups == ["others", "others over-budget"]
    assert "Retrieved but not cited (1)" in html
    assert "over the prompt budget, not given to the model (1)" in html
    # The flag sits on the over-budget passage only.
    assert html.count(sources_html.OVER_BUDGET) == 1
    head, tail = html.split('class="others over-budget"')
    assert sources_html.OVER_BUDGET in tail and "past the prompt budget." in tail
    assert "read and did not cite" in head
    # Records written before in_prompt existed show as before: one group, no flag.
    old = sources_html.render_sources([(1, record())])
    assert "over-budget" not in old and sources_html.OVER_BUDGET not in old


def test_an_abstention_flags_closest_passages_that_were_not_in_the_prompt() -> None:
    given = passage(1, in_prompt=True)
    left_out = passage(2, text="Left out by the budget.", in_prompt=False)
    rec = record(abstained=True, abstain_reason="passages_do_not_answer", citations=[],
                 sentences=[], retrieved=[given, left_out])
    html = sources_html.render_sources([(1, rec)])
    assert html.count(sources_html.OVER_BUDGET) == 1
    # Decided before any prompt was built: nothing was "left out by the budget".
    before = record(abstained=True, abstain_reason="no_relevant_passages", citations=[],
                    sentences=[], retrieved=[passage(1, in_prompt=False),
                                             passage(2, in_prompt=False)])
    assert sources_html.OVER_BUDGET not in sources_html.render_sources([(1, before)])


def test_in_prompt_is_false_for_passages_the_budget_left_out() -> None:
    from assistant.answer.generate import AnswerOptions, generate
    from assistant.prompts import PromptLibrary
    from assistant.retrieve.hybrid import Passage
    from assistant.settings import REPO_ROOT
    from tests.fakes import FakeChatModel

    passages = [Passage(f"c{i}", "d", "T", "", "", "", "", "",
                        "Daniel Ek joined Mark Zuckerberg in the statement. " * 12, 0.1, 0.6)
                for i in range(6)]
    model = FakeChatModel.scripted("Daniel Ek joined Mark Zuckerberg [1].")
    result = [r for r in generate(model, PromptLibrary(REPO_ROOT / "prompts"),
                                  "Who joined Zuckerberg?", passages,
                                  AnswerOptions(prompt_budget=400), 0.6)][-1]
    flags = [r["in_prompt"] for r in result.to_json()["retrieved"]]
    assert flags[0] is True and flags[-1] is False
    assert flags == sorted(flags, reverse=True)  # by rank: the last ones are left out
    assert sum(flags) == len(result.passages)
    # The CLI says so too.
    from assistant.cli import answer_notes
    from assistant.settings import load_settings

    settings = load_settings(prompt_budget_tokens=400)
    note = f"{6 - sum(flags)} of 6 retrieved passages did not fit the 400-token prompt budget"
    assert any(note in n for n in answer_notes(result, settings))


def test_the_stamp_says_the_answer_was_scoped() -> None:
    html = unescape(answer_html.render_answer(record(scope=["doc-a", "doc-b"]), 1))
    assert "searched only: doc-a, doc-b" in html
    many = unescape(answer_html.render_answer(record(scope=[f"d{i}" for i in range(5)]), 1))
    assert "searched only: d0, d1, d2 and 2 more" in many
    assert "searched only" not in answer_html.render_answer(record(), 1)
    assert "searched only" not in answer_html.render_answer(record(scope=[]), 1)
    assert_inert(answer_html.render_answer(record(scope=['<img src=x onerror="x()">']), 1))


def test_scope_choices_offer_publishers_with_several_documents_then_documents() -> None:
    records: list[tuple[str, dict[str, str]]] = [
        ("b-doc", {"title": "Beta", "publisher": "Meta"}),
        ("a-doc", {"title": "Alpha", "publisher": "Meta"}),
        ("c-doc", {"title": "", "publisher": "Solo"}),
    ]
    assert scope.choices(records) == [
        ("All from Meta (2 documents)", "pub:Meta"),
        ("Alpha (a-doc)", "doc:a-doc"), ("Beta (b-doc)", "doc:b-doc"),
        ("c-doc (c-doc)", "doc:c-doc"),
    ]
    assert scope.split(["doc:a-doc", "pub:Meta", "doc:c-doc"]) == (["a-doc", "c-doc"], ["Meta"])
    assert scope.split(None) == ([], [])


def test_url_form_values_become_the_clis_crawl_options() -> None:
    assert corpus_url.parse_urls(" https://a.org/x,\nhttps://b.org/y  ") == [
        "https://a.org/x", "https://b.org/y"]
    assert corpus_url.parse_urls(None) == []
    assert corpus_url.crawl_options(True, 2, True, 5) == CrawlOptions(
        follow_links=True, depth=2, same_site=True, max_pages=5)
    # Empty or nonsense numbers fall back to the CLI's defaults.
    assert corpus_url.crawl_options(False, None, False, 0) == CrawlOptions()


def test_the_url_report_lists_every_outcome_escaped() -> None:
    report = WebIngestReport(
        kept=[("a-page", "https://a.org/page")],
        duplicates=[("https://a.org/page?utm_source=x", "a-page")],
        failed=[("https://a.org/gone", "HTTP 404 Not Found - check the URL")],
        not_followed=["https://a.org/more"],
        not_fetched=[("economist-op-ed", "no known URL: listed in the manifest only")],
    )
    outcomes = report.outcomes()
    assert [o.status for o in outcomes] == [
        "kept", "duplicate", "skipped", "not followed", "not fetched"]
    assert outcomes[1].line() == "duplicate https://a.org/page?utm_source=x: stored once as a-page"
    assert outcomes[2].line() == "skipped https://a.org/gone: HTTP 404 Not Found - check the URL"
    html = corpus_html.render_outcomes([(o.url, o.status, o.detail) for o in outcomes])
    rows = [a for t, a in tags(html) if t == "tr"]
    assert len(rows) == 1 + 5  # the header and one row a URL
    assert "stored once as a-page" in html and "page cap reached" in html
    hostile: Any = [("https://x.org/<script>", "skipped", '<img src=x onerror="y()">')]
    assert_inert(corpus_html.render_outcomes(hostile))
    assert corpus_html.render_outcomes([]).count("<table") == 0


def test_a_kept_page_the_index_could_not_read_counts_as_skipped() -> None:
    from assistant.ingest.pipeline import IngestReport

    report = WebIngestReport(kept=[("a-page", "https://a.org/page")],
                             index=IngestReport(failed=[("a-page.html", "empty file")]))
    assert report.outcomes() == [Outcome("a-page.html", "skipped", "empty file")]
