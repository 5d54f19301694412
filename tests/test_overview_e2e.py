"""Overview answers end to end: the real index (MiniLM, Chroma) and the real SmolLM2 model.
Whatever the tiny model writes, each bullet must cite the unit's passage it comes from, and
the support check must have judged it."""

from __future__ import annotations

import pytest

from tests.helpers import TEST_MODEL

ARTICLE = "etcentric-meta-spotify-statement"
ACT = "eu-ai-act-2024-1689"


@pytest.fixture(scope="module")
def service(corpus_data_dir):
    from assistant.chat import ChatService
    from assistant.settings import Settings

    return ChatService(Settings(data_dir=corpus_data_dir, model=TEST_MODEL))


def _bullets(result) -> list[str]:
    return [line for line in result.answer.splitlines() if line.startswith("- ")]


def test_summarize_the_article_reads_the_article_alone_in_order(service):
    result = service.ask("Summarize the article.")
    assert result.mode == "summary" and not result.abstained
    assert result.unit["docs"] == [ARTICLE] and result.unit["how"] == "the article"
    assert {p.doc_id for p in result.passages} == {ARTICLE}
    starts = [p.start for p in result.passages]
    assert starts == sorted(starts) and len(starts) == 4
    assert len(_bullets(result)) == 4
    # Each bullet cites one passage, in order, and the support check judged it.
    bullets = [s for s in result.sentences if s.text.startswith("- ")]
    assert [s.cited for s in bullets] == [[1], [2], [3], [4]]
    assert all(s.supported for s in bullets)
    assert result.to_json()["unit"]["label"].startswith("the article: ")


def test_a_summary_is_written_once_per_model_and_passage(service):
    first = service.ask("Give me the main points of the article in two bullet points.")
    again = service.ask("Give me the main points of the article in two bullet points.")
    assert len(_bullets(first)) == 2
    assert again.answer == first.answer
    assert again.completion_tokens == 0  # every bullet came from the cache


def test_what_article_5_prohibits_is_its_whole_list(service):
    result = service.ask("What does Article 5 of the AI Act prohibit?")
    assert result.mode == "list" and result.unit["provision"] == "Article 5"
    labels = [line.split()[1] for line in _bullets(result)]
    assert labels == [f"({c})" for c in "abcdefgh"]
    assert all(p.locator.startswith("Article 5(1)") for p in result.passages)
    assert "The following AI practices shall be prohibited" in result.answer.splitlines()[0]
    assert all(c["doc_id"] == ACT for c in result.citations())


def test_the_whole_act_is_too_long_to_summarise_and_says_what_to_ask(service):
    result = service.ask("Summarize the AI Act.")
    assert result.abstained and result.abstain_reason == "unit_too_long"
    assert "Summarize Article 5" in result.answer
    assert result.citations() == []


def test_a_summary_from_a_chosen_document(service):
    result = service.ask("Summarize it.", docs=["llama-3.1-acceptable-use-policy"])
    assert result.mode == "summary" and result.unit["how"] == "scope"
    assert {p.doc_id for p in result.passages} == {"llama-3.1-acceptable-use-policy"}


def test_a_disputed_yes_no_question_gets_both_sides(service):
    result = service.ask("Is Llama 3.1 open source?")
    assert result.mode == "two-sided" and not result.abstained
    assert "ZDNet" in result.answer and "Zuckerberg" in result.answer
    assert {c["doc_id"] for c in result.citations()} == {ARTICLE}
    heading, *claims = result.sentences
    assert not heading.cited and len(claims) == 2
    assert all(s.cited and s.supported for s in claims)
