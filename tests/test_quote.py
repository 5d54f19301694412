"""Quoting the best-matching passage sentence when the model declines (answer/quote.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.answer.generate import AnswerOptions
from assistant.answer.quote import Quote, candidate_sentences, closest_sentence, score
from tests.fakes import FakeChatModel, FakeEmbedder
from tests.test_generate import PASSAGES, passage, run


def test_sentences_that_cannot_stand_alone_are_not_candidates() -> None:
    text = ("The preferred form must include all the elements below:\nData Information: "
            "sufficiently detailed information about the data.\nCode\n"
            "It is free; it is open. Done.")
    assert candidate_sentences(text) == [
        "Data Information: sufficiently detailed information about the data.",
        "It is free; it is open.",
    ]
    # A clause end before a new capitalised clause splits, as in legal lists.
    assert candidate_sentences("Providers shall keep documentation; Providers shall publish a "
                               "summary.") == ["Providers shall keep documentation;",
                                               "Providers shall publish a summary."]


def test_score_is_similarity_plus_half_the_share_of_question_words() -> None:
    # Words as the retriever's tokens() gives them: "rights" counts as "right".
    words = {"license", "right", "multimodal", "granted"}
    assert score(0.5, words, "The rights granted for multimodal models.") == pytest.approx(0.875)
    assert score(0.5, set(), "Anything at all here.") == 0.5


def test_the_closest_sentence_wins_and_ties_go_to_the_earlier_passage() -> None:
    embedder = FakeEmbedder({"joined": [1.0, 0.0, 0.0], "license": [0.0, 1.0, 0.0]})
    quote = closest_sentence("Who joined Zuckerberg?", [p.text for p in PASSAGES],
                             embedder.embed_query, embedder.embed)
    # Both question words ("joined", "zuckerberg") are in it: 1.0 + 0.5 * 2/2.
    assert quote == Quote(1, PASSAGES[0].text, pytest.approx(1.5))
    same = ["Daniel Ek joined Zuckerberg there.", "Daniel Ek joined Zuckerberg there."]
    quote = closest_sentence("Who joined Zuckerberg?", same, embedder.embed_query, embedder.embed)
    assert quote is not None and quote.n == 1
    assert closest_sentence("Who?", ["Too short.", "A list:"], embedder.embed_query,
                            embedder.embed) is None


def test_a_double_decline_quotes_a_sentence_that_scores_high_enough() -> None:
    embedder = FakeEmbedder({"joined": [1.0, 0.0, 0.0]})
    declines = ("The documents do not say.", "The documents do not say.")
    _, result = run(FakeChatModel.scripted(*declines),
                    options=AnswerOptions(quote_threshold=1.1), embedder=embedder)
    assert not result.abstained and result.quoted and not result.retried
    assert result.answer == f"“{PASSAGES[0].text}” [1]"
    assert result.cited == [1] and all(s.supported for s in result.sentences)
    assert result.to_json()["quoted"] is True
    # Below the threshold, or with quoting off, the decline stands.
    for threshold in (1.6, 0.0):
        _, result = run(FakeChatModel.scripted(*declines),
                        options=AnswerOptions(quote_threshold=threshold), embedder=embedder)
        assert result.abstained and not result.quoted
        assert result.abstain_reason == "passages_do_not_answer"


def test_brackets_in_a_quoted_sentence_are_not_citation_markers() -> None:
    embedder = FakeEmbedder({"joined": [1.0, 0.0, 0.0]})
    passages = [PASSAGES[1], passage(2, "Daniel Ek joined Zuckerberg, see note [1] there.")]
    declines = ("The documents do not say.", "The documents do not say.")
    _, result = run(FakeChatModel.scripted(*declines), passages=passages,
                    options=AnswerOptions(quote_threshold=1.1), embedder=embedder)
    assert result.quoted and result.cited == [2]
    assert result.answer == "“Daniel Ek joined Zuckerberg, see note (1) there.” [2]"


def test_an_unsupported_answer_is_never_replaced_by_a_quote() -> None:
    embedder = FakeEmbedder({"joined": [1.0, 0.0, 0.0]})
    model = FakeChatModel.scripted("Zuckerberg was joined by twelve senators from Ohio [1].")
    _, result = run(model, options=AnswerOptions(quote_threshold=1.1), embedder=embedder)
    assert result.abstained and not result.quoted
    assert result.abstain_reason == "answer_not_supported"


def test_real_minilm_quotes_an_answering_sentence_and_not_for_an_off_corpus_question(
    corpus_data_dir: Path,
) -> None:
    from assistant.chat import ChatService
    from assistant.settings import Settings

    service = ChatService(Settings(data_dir=corpus_data_dir))
    threshold = service.settings.answer.quote_threshold
    embed_query, embed = service.embedder.embed_query, service.embedder.embed

    asked = "Who is not granted the license rights for the multimodal models in Llama 3.2?"
    passages = [p.text for p in service.retrieve(asked).passages]
    quote = closest_sentence(asked, passages, embed_query, embed)
    assert quote is not None and quote.score >= threshold
    assert "European Union" in quote.text and "multimodal" in quote.text

    asked = "What was Spotify's revenue in 2023?"
    passages = [p.text for p in service.retrieve(asked).passages]
    quote = closest_sentence(asked, passages, embed_query, embed)
    assert quote is not None and quote.score < threshold


def test_the_cli_says_an_answer_is_a_quote() -> None:
    from types import SimpleNamespace

    from assistant.cli import answer_notes
    from assistant.settings import Settings

    settings = Settings()
    none: dict = {"passages": [], "retrieved": [], "cut_off": False}
    assert answer_notes(SimpleNamespace(quoted=False, **none), settings) == []
    notes = answer_notes(SimpleNamespace(quoted=True, **none), settings)
    assert len(notes) == 1 and "quoted from the passage" in notes[0]
