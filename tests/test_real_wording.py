"""Questions as people word them: spelling, yes/no, follow-ups that open with
"And", lists cut from their opening line, paraphrases only the vectors find. Pure logic, exact."""

from assistant.answer.polarity import is_yes_no, opening, parse, strip_opening, with_verdict
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


def test_the_verdict_opens_the_answer_and_overrules_a_contradicting_draft():
    assert opening("No, it does not.") == "no" and opening("Not really.") is None
    assert parse(" No.") == "no" and parse("I cannot tell") is None
    assert strip_opening("Yes, you may [1].") == "You may [1]."
    assert with_verdict("no", "The licence grants no trademark rights [1].", "s", 1) == (
        "No. The licence grants no trademark rights [1].", False)
    assert with_verdict("no", "Yes, you can use the logo [2].",
                        "No trademark licenses are granted [under] this Agreement.", 1) == (
        "No. “No trademark licenses are granted (under) this Agreement.” [1]", True)


def test_a_question_that_opens_with_and_is_a_follow_up():
    assert looks_like_followup("And which courts handle disputes under the agreement?")
    assert looks_like_followup("What about providers established outside the Union at all?")
    assert not looks_like_followup("Which courts handle disputes under the Llama agreement?")
