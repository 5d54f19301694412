"""Questions as people word them: spelling, yes/no, follow-ups that open with
"And", lists cut from their opening line, paraphrases only the vectors find. Pure logic, exact."""

from assistant.answer.polarity import is_yes_no, strip_opening
from assistant.answer.prompt import heading_name, passage_header, passage_text
from assistant.chat import looks_like_followup
from assistant.ingest.blocks import Block
from assistant.ingest.chunking import chunk_blocks
from assistant.retrieve.fusion import fuse, relative
from assistant.retrieve.hybrid import Passage
from assistant.retrieve.text import tokens


def test_british_and_american_spellings_meet_in_one_token():
    assert tokens("licence organisation authorised behaviour programme centre labelled") == \
        tokens("license organization authorized behavior program center labeled")
    # Words that only look British keep apart from their neighbours.
    assert tokens("filled sentence") == ["filled", "sentence"]


def test_relative_fusion_lets_a_hit_far_ahead_of_its_list_win():
    vectors = [("para", 0.80), ("x", 0.41), ("y", 0.40)]
    bm25 = [("x", 9.0), ("y", 8.9), ("z", 1.0)]
    # By rank alone (BM25 weighted 3), the paraphrase only the vectors find comes last.
    assert [i for i, _ in fuse([(vectors, 1.0), (bm25, 3.0)], "rrf")][-2:] == ["z", "para"]
    fused = relative([(vectors, 1.0), (bm25, 1.0)])
    assert fused[0][0] == "x"
    assert dict(fused)["para"] == 1.0
    assert dict(fused)["z"] == 0.0


def test_a_chunk_that_continues_a_list_carries_its_opening_line():
    block = Block("Article 5(1)", "The following AI practices shall be prohibited:\n"
                  + "\n".join(f"({c}) the use of practice {c} " + "word " * 40 for c in "abcd"),
                  "Article 5 — Prohibited AI practices")
    chunks = chunk_blocks("act", [block], lambda t: len(t.split()), chunk_tokens=60,
                          overlap_tokens=0)
    assert len(chunks) > 1
    assert chunks[0].lead == ""
    assert all(c.lead == "The following AI practices shall be prohibited:" for c in chunks[1:])


def _passage(text: str, locator: str, heading: str, lead: str = "") -> Passage:
    return Passage("c", "act", "AI Act", "", "", "", locator, heading, text, 0.0, 0.0, lead=lead)


def test_a_passage_names_its_place_in_the_document():
    assert heading_name("Article 99 — Penalties", "Article 99(3)") == "Penalties"
    assert heading_name("Article 99", "Article 99(3)") == ""
    assert heading_name("Definitions", "Section 1") == "Definitions"
    p = _passage("(c) the use of practice c", "Article 5(1)",
                 "Article 5 — Prohibited AI practices", lead="The following shall be prohibited:")
    assert passage_header(p) == "AI Act — Article 5(1) — Prohibited AI practices"
    assert passage_text(p) == "The following shall be prohibited: … (c) the use of practice c"


def test_yes_no_questions_as_people_ask_them():
    for q in ("Does the licence let me use Meta's logo?", "And is that free?",
              "According to Meta, had regulators passed rules?",
              "If my company is big, is Meta obliged to license it?",
              "I only use AI at home. Do the deployer rules apply to me?",
              "Is it used for military or defence purposes?"):
        assert is_yes_no(q), q
    for q in ("What does Article 5 prohibit?", "Is it free, or paid?", "Who signed it?"):
        assert not is_yes_no(q), q


def test_an_answers_own_yes_or_no_can_be_taken_off():
    assert strip_opening("Yes, you may [1].") == "You may [1]."
    assert strip_opening("No.") == ""


def test_a_yes_no_answer_opens_with_its_deciding_sentence():
    from assistant.answer.generate import AnswerOptions, generate
    from assistant.prompts import PromptLibrary
    from assistant.settings import REPO_ROOT
    from tests.fakes import FakeChatModel, FakeEmbedder

    logo = _passage("No trademark licenses are granted under this Agreement. Meta owns the "
                    "marks.", "Section 5.a", "")
    other = _passage("The licence is governed by the laws of California.", "Section 7", "")
    wrong = "Yes, trademark licenses are granted under this Agreement [1]."
    model = FakeChatModel.scripted(wrong)
    embedder = FakeEmbedder({"trademark": [1.0, 0.0, 0.0], "logo": [1.0, 0.0, 0.0],
                             "laws": [0.0, 1.0, 0.0]})
    *_, result = generate(model, PromptLibrary(REPO_ROOT / "prompts"),
                          "Does the licence let me use Meta's logo?", [logo, other],
                          AnswerOptions(), 0.6, embedder=embedder)
    assert result.answer.startswith(
        "“No trademark licenses are granted under this Agreement” [1].")
    assert "Yes," not in result.answer
    plain = AnswerOptions(yes_no_evidence_first=False)
    *_, result = generate(FakeChatModel.scripted(wrong),
                          PromptLibrary(REPO_ROOT / "prompts"),
                          "Does the licence let me use Meta's logo?", [logo, other], plain, 0.6,
                          embedder=embedder)
    assert result.answer.startswith("Yes,")


def test_a_question_that_opens_with_and_is_a_follow_up():
    assert looks_like_followup("And which courts handle disputes under the agreement?")
    assert looks_like_followup("What about providers established outside the Union at all?")
    assert not looks_like_followup("Which courts handle disputes under the Llama agreement?")


def test_a_locators_digits_are_no_figure_unless_they_name_the_provision():
    from assistant.answer.citations import check_sentences, invented

    passages = ["Llama 3.1 Community License — Section 23\nThe licence ends when you breach it."]
    assert invented("The context window of Llama 3.1 is 23 days [1].", "", passages) == ["23"]
    assert invented("Section 23 says the licence ends on a breach [1].", "", passages) == []
    [s] = check_sentences("The context window of Llama 3.1 is 23 days [1].", passages)
    assert not s.supported
