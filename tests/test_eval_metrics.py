"""Eval metrics on hand-made records whose scores are known exactly."""

from __future__ import annotations

from typing import Any

import pytest

from assistant.answer.checks import MODEL_DECLINED, NO_EVIDENCE
from assistant.eval.metrics import (
    OVERVIEW_METRICS,
    OVERVIEW_SUMMARY,
    SUMMARY_METRICS,
    bullet_supported,
    bullets,
    contradicts,
    coverage,
    first_sentence,
    is_correct,
    lookups,
    matches,
    percentile,
    polarity,
    question_verdict,
    reciprocal_rank,
    score,
    score_overview,
    summarize,
    summarize_by_kind,
    summarize_overview,
    summarize_overview_by_split,
)

ARTICLE = "etcentric-meta-spotify-statement"
ACT = "eu-ai-act-2024-1689"
OSI = "osi-osaid-1.0-rc1"


def record(
    kind: str,
    answer: str,
    *,
    must: list[list[str]] | None = None,
    gold: list[str] | None = None,
    abstained: bool = False,
    reason: str = "",
    cited: list[str] | None = None,
    retrieved: list[str] | None = None,
    ttft: float = 0.0,
    total: float = 0.0,
    prompt_tokens: int = 0,
    quoted: bool = False,
    expected: str = "",
) -> dict[str, Any]:
    r: dict[str, Any] = {
        "id": f"{kind}-{answer[:8]}",
        "kind": kind,
        "answerable": kind != "unanswerable",
        "answer": answer,
        "abstained": abstained,
        "abstain_reason": reason,
        "citations": [{"n": i, "doc_id": d} for i, d in enumerate(cited or [], 1)],
        "retrieved": [{"doc_id": d, "chunk_id": f"{d}#{i}"} for i, d in enumerate(retrieved or [])],
        "timings": {"first_token_ms": ttft, "total_ms": total},
        "prompt_tokens": prompt_tokens,
        "quoted": quoted,
    }
    r.update(score(r, must or [], gold or [], expected))
    return r


@pytest.fixture
def records() -> list[dict[str, Any]]:
    return [
        # right, cites only gold, gold ranked first
        record("fact", "Daniel Ek [1].", must=[["Daniel Ek", "Spotify"]], gold=[ARTICLE],
               cited=[ARTICLE], retrieved=[ARTICLE, ACT, ARTICLE],
               ttft=100, total=1000, prompt_tokens=500),
        # wrong, cites one gold doc of two, gold ranked third; a quoted passage sentence
        record("fact", "The Guardian [1][2].", must=[["Economist"]], gold=[ARTICLE],
               cited=[ACT, ARTICLE, ACT], retrieved=[ACT, OSI, ARTICLE],
               ttft=200, total=2000, prompt_tokens=700, quoted=True),
        # right but cites nothing
        record("fact", "In THE ECONOMIST.", must=[["Economist"]], gold=[ARTICLE],
               retrieved=[ARTICLE], ttft=500, total=5000, prompt_tokens=1300),
        # the model declined: an abstention after generation, gold never retrieved
        record("multihop", "The documents do not say.", must=[["Economist"]], gold=[ARTICLE],
               abstained=True, reason=MODEL_DECLINED, retrieved=[OSI, ACT],
               ttft=300, total=3000, prompt_tokens=900),
        # abstained before generation: the model never ran
        record("unanswerable", "The documents do not say.", abstained=True, reason=NO_EVIDENCE),
        # answered an unanswerable question
        record("unanswerable", "Paris [1].", cited=[ACT], retrieved=[ACT],
               ttft=400, total=4000, prompt_tokens=1100),
    ]


def test_matches_needs_every_group_case_insensitive() -> None:
    groups = [["Daniel Ek", "Spotify"], ["Economist"]]
    assert matches("spotify's CEO wrote in the ECONOMIST", groups)
    assert not matches("Spotify's CEO", groups)
    assert matches("anything", [])


def test_abstention_is_never_a_correct_answer() -> None:
    assert not is_correct("Daniel Ek? The documents do not say.", True, True, [["Daniel Ek"]])
    assert is_correct("Daniel Ek", False, True, [["Daniel Ek"]])
    assert is_correct("The documents do not say.", True, False, [])
    assert not is_correct("Paris.", False, False, [])


# A yes/no question from the shipped set (ho-lic-trademark-yn), its answer a No.
NO = "No. No trademark licences are granted; you only get a licence to use the name."
NO_MUST = [["trademark"]]
# One whose answer is a Yes said with an affirmative reason, and one whose Yes is a negation.
YES = "Yes. The terms may require modified versions to be released under the same terms."
YES_MUST = [["same terms"]]
YES_NEGATED = "Yes: the documentation duties (Art. 53(1)(a)) do not apply to open-source models."


def test_polarity_is_the_first_word_past_quotes_and_markdown() -> None:
    assert polarity(NO) == "no" and polarity(YES_NEGATED) == "yes"
    assert polarity('**No.** The licence') == "no"
    assert polarity("> “Yes, it does”") == "yes"
    assert polarity("  - no") == "no"
    for text in ("Not in the documents.", "Nothing.", "None of them.", "Yesterday.", "Nope", ""):
        assert polarity(text) is None


def test_first_sentence_keeps_abbreviations_and_drops_the_opening_punctuation() -> None:
    assert first_sentence("The duties (Art. 53(1)(a)) do not apply. Other duties do.") == (
        "The duties (Art. 53(1)(a)) do not apply")
    assert first_sentence(". It applies to providers (Article 2(1)(c)).") == (
        "It applies to providers (Article 2(1)(c))")
    assert first_sentence("**No.** The licence") == "**No"
    assert first_sentence("One line\nanother") == "One line"


def test_answer_opening_with_the_other_word_is_wrong_despite_the_strings() -> None:
    said_yes = "Yes, the licence grants trademark rights [1]."
    assert matches(said_yes, NO_MUST) and contradicts(said_yes, NO)
    assert not is_correct(said_yes, False, True, NO_MUST, NO)
    assert is_correct("No, no trademark licence is granted [1].", False, True, NO_MUST, NO)
    assert is_correct("**No.** Trademarks are excluded.", False, True, NO_MUST, NO)
    # Self-contradicting answers are judged by their opening word (ho-lic-cisg-yn, 1.5B model).
    assert not is_correct("Yes, the trademark clause does not apply.", False, True, NO_MUST, NO)
    assert not is_correct("No, the same terms cannot be required.", False, True, YES_MUST, YES)
    # Without the expected answer (or with one that is not a yes or a no) there is no rule.
    assert is_correct(said_yes, False, True, NO_MUST)
    assert is_correct(said_yes, False, True, NO_MUST, "Trademarks are excluded.")


def test_an_undecided_opening_contradicts_only_an_expected_yes_with_a_negation() -> None:
    negation = "The licence does not grant trademark rights [1]."
    assert polarity(negation) is None
    assert is_correct(negation, False, True, NO_MUST, NO)  # reads as the no it should be
    # An affirmative sentence decides nothing: must_include alone decides.
    assert is_correct("The licence covers trademark use.", False, True, NO_MUST, NO)
    assert not contradicts("Modified versions use the same terms.", YES)
    for said_no in ("The licence does not allow the same terms.", "It can't ask for the same "
                    "terms.", "There are never the same terms.", "No licence asks for the same "
                    "terms."):
        assert contradicts(said_no, YES), said_no
    # The negation in a later sentence is not the answer's opening.
    assert not contradicts("Modified versions use the same terms. Others do not.", YES)
    # "No 1025/2012" numbers a regulation.
    assert not contradicts("Regulation (EU) No 1025/2012 asks for the same terms.", YES)
    # The expected yes is itself a negation: a negated answer agrees with it.
    assert not contradicts("The documentation duties do not apply to open-source models.",
                           YES_NEGATED)
    assert contradicts("No, the documentation duties apply.", YES_NEGATED)


def test_yes_no_and_verdict_per_question() -> None:
    def scored(answer: str, abstained: bool = False, expected: str = NO) -> dict[str, Any]:
        r = record("fact", answer, must=NO_MUST, abstained=abstained, expected=expected)
        return {k: r[k] for k in ("correct", "yes_no", "verdict")}

    assert scored("Yes, trademark rights are granted.") == {
        "correct": False, "yes_no": False, "verdict": "wrong"}
    assert scored("No, no trademark licence.") == {
        "correct": True, "yes_no": True, "verdict": "right"}
    assert scored("The licence does not grant trademark rights.") == {
        "correct": True, "yes_no": True, "verdict": "right"}
    # Declining a yes/no question is neither a yes nor a no: refused, and not right.
    assert scored("The documents do not say.", abstained=True) == {
        "correct": False, "yes_no": False, "verdict": "refused"}
    assert scored("Trademark rights.", expected="Trademarks are excluded.") == {
        "correct": True, "yes_no": None, "verdict": "right"}
    declined = record("unanswerable", "The documents do not say.", abstained=True, expected=NO)
    answered = record("unanswerable", "No, never.", expected=NO)
    assert (declined["yes_no"], declined["verdict"]) == (None, "right")
    assert (answered["yes_no"], answered["verdict"]) == (None, "wrong")
    assert question_verdict(True, True, True) == "refused"


def test_summary_of_yes_no_questions_and_truth_score() -> None:
    records = [
        record("fact", "No, no trademark licence [1].", must=NO_MUST, expected=NO),  # +1
        record("fact", "Yes, trademark use is allowed.", must=NO_MUST, expected=NO),  # -1
        record("fact", "The documents do not say.", must=NO_MUST, abstained=True,
               reason=MODEL_DECLINED, expected=NO),  # 0
        record("fact", "Same terms.", must=YES_MUST, expected=YES),  # +1, undecided
        record("fact", "Daniel Ek.", must=[["Daniel Ek"]]),  # +1, not a yes/no question
        record("unanswerable", "The documents do not say.", abstained=True),  # +1
        record("unanswerable", "Paris."),  # -1
    ]
    s = summarize(records)
    assert (s["yes_no_questions"], s["yes_no_right"], s["yes_no_accuracy"]) == (4, 2, 0.5)
    assert s["accuracy"] == 0.6  # 3 of 5 answerable
    assert s["truth_score"] == 0.2857  # (1 - 1 + 0 + 1 + 1 + 1 - 1) / 7
    unans = summarize(records[-2:])
    assert (unans["yes_no_questions"], unans["yes_no_accuracy"]) == (0, None)
    assert unans["truth_score"] == 0.0


def test_reciprocal_rank() -> None:
    assert reciprocal_rank([ACT, OSI, ARTICLE], [ARTICLE]) == pytest.approx(1 / 3)
    assert reciprocal_rank([ARTICLE, ARTICLE], [ARTICLE]) == 1.0
    assert reciprocal_rank([ACT], [ARTICLE]) == 0.0
    assert reciprocal_rank([], [ARTICLE]) == 0.0


def test_per_question_values(records: list[dict[str, Any]]) -> None:
    right, wrong, uncited, declined, no_evidence, answered_unans = records
    assert (right["correct"], right["citation_hit"], right["citation_precision"]) == (
        True, True, 1.0)
    assert (right["retrieval_hit"], right["reciprocal_rank"]) == (True, 1.0)
    # Precision counts distinct cited documents: {ACT, ARTICLE} -> 1 of 2.
    assert (wrong["correct"], wrong["citation_hit"], wrong["citation_precision"]) == (
        False, True, 0.5)
    assert wrong["reciprocal_rank"] == pytest.approx(1 / 3)
    assert (uncited["correct"], uncited["citation_hit"], uncited["citation_precision"]) == (
        True, False, None)
    assert (declined["correct"], declined["citation_hit"], declined["citation_precision"]) == (
        False, None, None)
    assert (declined["retrieval_hit"], declined["reciprocal_rank"], declined["model_ran"]) == (
        False, 0.0, True)
    assert no_evidence["model_ran"] is False and no_evidence["correct"] is True
    for r in (no_evidence, answered_unans):
        assert r["retrieval_hit"] is None and r["citation_hit"] is None
    assert answered_unans["correct"] is False


def test_percentile_interpolates_linearly() -> None:
    assert percentile([40, 10, 30, 20], 50) == 25.0
    assert percentile([10, 20, 30, 40, 50], 95) == 48.0
    assert percentile([7], 95) == 7.0
    assert percentile([None, 3, None], 50) == 3.0
    assert percentile([], 50) is None


def test_summary_overall(records: list[dict[str, Any]]) -> None:
    s = summarize(records)
    assert (s["questions"], s["answerable"], s["unanswerable"], s["model_ran"], s["k"]) == (
        6, 4, 2, 5, 3)
    assert s["accuracy"] == 0.5  # 2 of 4 answerable
    assert s["accuracy_ci95"] == [0.1500, 0.8500]  # Wilson, 2 of 4
    assert s["citation_hit"] == 0.6667  # 2 of the 3 answered answerable
    assert s["citation_precision"] == 0.75  # mean of 1.0 and 0.5
    assert s["hit_at_k"] == 0.75  # 3 of 4
    assert s["mrr"] == 0.5833  # (1 + 1/3 + 1 + 0) / 4
    assert s["abstention_accuracy"] == 0.5
    assert s["false_abstention_rate"] == 0.25
    # Over the five answers the model generated: 100..500 ms and 1000..5000 ms.
    assert (s["first_token_ms_p50"], s["first_token_ms_p95"]) == (300.0, 480.0)
    assert (s["total_ms_p50"], s["total_ms_p95"]) == (3000.0, 4800.0)
    assert s["prompt_tokens_p50"] == 900.0
    assert (s["quoted"], s["quoted_correct"]) == (1, 0)  # the one quote was wrong
    # Right, wrong, right, refused, declined (right), answered unanswerable (wrong).
    assert s["truth_score"] == 0.1667
    assert (s["yes_no_questions"], s["yes_no_accuracy"]) == (0, None)


def test_summary_by_kind_uses_none_without_denominator(records: list[dict[str, Any]]) -> None:
    by_kind = summarize_by_kind(records)
    assert list(by_kind) == ["fact", "multihop", "unanswerable"]
    fact, multihop, unans = by_kind["fact"], by_kind["multihop"], by_kind["unanswerable"]
    assert (fact["accuracy"], fact["citation_hit"], fact["hit_at_k"]) == (0.6667, 0.6667, 1.0)
    assert fact["abstention_accuracy"] is None and fact["false_abstention_rate"] == 0.0
    assert (multihop["accuracy"], multihop["false_abstention_rate"]) == (0.0, 1.0)
    assert multihop["citation_hit"] is None and multihop["citation_precision"] is None
    assert unans["abstention_accuracy"] == 0.5
    for key in ("accuracy", "citation_hit", "hit_at_k", "mrr", "false_abstention_rate"):
        assert unans[key] is None
    assert unans["total_ms_p50"] == 4000.0  # only the answer the model generated


def test_empty_summary_is_all_none() -> None:
    s = summarize([])
    assert s["questions"] == 0 and s["k"] == 0
    assert all(s[k] is None for k in SUMMARY_METRICS)
    assert (s["yes_no_questions"], s["yes_no_right"]) == (0, 0)
    assert (s["quoted"], s["quoted_correct"]) == (0, 0)


def test_answer_in_context_reads_the_retrieved_text() -> None:
    base = {"answerable": True, "abstained": True, "answer": "", "citations": []}
    inside = {**base, "retrieved": [{"doc_id": "a", "text": "nothing"},
                                    {"doc_id": "b", "text": "Governed by California law."}]}
    outside = {**base, "retrieved": [{"doc_id": "b", "text": "Governed by the laws of Ireland."}]}
    old = {**base, "retrieved": [{"doc_id": "b"}]}
    want = [["California"]]
    assert score(inside, want, ["b"])["answer_in_context"] is True
    assert score(outside, want, ["b"])["answer_in_context"] is False
    assert score(old, want, ["b"])["answer_in_context"] is None
    assert score({**inside, "answerable": False}, want, [])["answer_in_context"] is None


def test_answer_in_context_counts_only_the_passages_the_prompt_kept() -> None:
    base = {"answerable": True, "abstained": True, "answer": "", "citations": []}
    left_out = {**base, "retrieved": [
        {"doc_id": "a", "text": "nothing", "in_prompt": True},
        {"doc_id": "b", "text": "Governed by California law.", "in_prompt": False}]}
    assert score(left_out, [["California"]], ["b"])["answer_in_context"] is False
    kept = {**left_out, "retrieved": [{**p, "in_prompt": True} for p in left_out["retrieved"]]}
    assert score(kept, [["California"]], ["b"])["answer_in_context"] is True


def _checked(qid: str, answerable: bool, correct: bool, drafts: list[dict[str, Any]],
             abstain_check: str = "", split: str = "tune") -> dict[str, Any]:
    return {"id": qid, "answerable": answerable, "correct": correct, "drafts": drafts,
            "abstain_check": abstain_check, "abstained": bool(abstain_check), "split": split}


def test_check_table_counts_firings_and_reads_what_turning_a_check_off_would_change():
    from types import SimpleNamespace

    from assistant.eval.metrics import answer_without, check_table, summarize_by_split

    q = {"a": SimpleNamespace(must_include=[["Daniel Ek"]], expected_answer="Daniel Ek."),
         "b": SimpleNamespace(must_include=[["Economist"]], expected_answer="The Economist."),
         "u": SimpleNamespace(must_include=[], expected_answer="The corpus does not say."),
         "g": SimpleNamespace(must_include=[["OpenAI"]], expected_answer="OpenAI."),
         # Turning the check off would show a yes where the answer is no: no gain.
         "n": SimpleNamespace(must_include=[["Meta"]], expected_answer="No, Meta does not.")}
    records = [
        # The echo check stopped a right first draft; the retry declined: turning it off gains.
        _checked("a", True, False,
                 [{"text": "Daniel Ek joined [1].", "checks": ["echoes_question"]},
                  {"text": "No idea.", "checks": ["empty_or_declined"]}],
                 "empty_or_declined"),
        # Two checks fired: turning one off changes nothing.
        _checked("b", True, False, [{"text": "X [1].", "checks": ["echoes_question",
                                                                   "misses_figure"]}],
                 "echoes_question"),
        # The support check rightly stopped an invented answer to an unanswerable question.
        _checked("u", False, True, [{"text": "Canberra.", "checks": ["unsupported"]}],
                 "unsupported", split="holdout"),
        # A gate before generation leaves no draft: no estimate.
        _checked("g", True, False, [{"text": None, "checks": ["names_unmentioned"]}],
                 "names_unmentioned"),
        _checked("n", True, False, [{"text": "Yes, Meta owns it [1].", "checks": ["unsupported"]}],
                 "unsupported"),
    ]
    assert answer_without(records[0], "echoes_question") == "Daniel Ek joined [1]."
    assert answer_without(records[0], "empty_or_declined") == "No idea."
    assert answer_without(records[1], "echoes_question") is None
    assert answer_without(records[3], "names_unmentioned") is None
    table = check_table(records, q)
    assert table["echoes_question"] == {
        "fired_answerable": 2, "fired_unanswerable": 0, "decided_answerable": 1,
        "decided_unanswerable": 0, "without_gained": 1, "without_lost": 0}
    assert table["unsupported"]["decided_unanswerable"] == 1
    assert table["unsupported"]["without_lost"] == 1
    assert table["unsupported"]["without_gained"] == 0  # the yes would still be wrong
    assert table["names_unmentioned"]["without_gained"] == 0
    for r in records:
        r.update(model_ran=True, citation_hit=None, citation_precision=None, retrieval_hit=None,
                 reciprocal_rank=None, kind="fact", yes_no=None,
                 verdict=question_verdict(r["answerable"], r["abstained"], r["correct"]))
    by_split = summarize_by_split(records)
    assert by_split["tune"]["questions"] == 4 and by_split["holdout"]["questions"] == 1
    # Four refusals of answerable questions in tune; the one right refusal in the holdout.
    assert (by_split["tune"]["truth_score"], by_split["holdout"]["truth_score"]) == (0.0, 1.0)
    assert by_split["holdout"]["abstention_accuracy"] == 1.0


# ---- overview answers ------------------------------------------------------------------------

STATEMENT = ("Meta Platforms CEO Mark Zuckerberg and Spotify CEO Daniel Ek have joined forces to "
             "express displeasure with the European Union regulations on artificial intelligence.")
FINES = ("Non-compliance with the prohibition of the AI practices referred to in Article 5 shall "
         "be subject to administrative fines of up to EUR 35 000 000.")
CITED = [{"n": 1, "doc_id": ARTICLE, "text": STATEMENT}, {"n": 3, "doc_id": ACT, "text": FINES}]


def test_coverage_is_the_share_of_key_points_matched_group_by_group() -> None:
    groups = [["Zuckerberg"], ["Daniel Ek", "Spotify"], ["Facebook", "Instagram"], ["privacy"]]
    assert coverage("ZUCKERBERG and spotify's boss", groups) == 0.5
    assert coverage("Meta, Instagram, privacy, Zuckerberg, Daniel Ek", groups) == 1.0
    assert coverage("nothing", groups) == 0.0
    assert coverage("anything", []) is None


def test_bullets_are_dash_lines_and_an_intro_is_not_one() -> None:
    answer = "In short:\n- first [1]\n  - nested [2]\nnot - one\n-no space\n* star"
    assert bullets(answer) == ["first [1]", "nested [2]"]
    assert bullets("Daniel Ek [1].") == []


def test_a_bullet_is_supported_by_the_passage_it_cites_not_by_another() -> None:
    # Content-word support: 4/6 of the words in passage 1, none in passage 3.
    assert bullet_supported("Zuckerberg and Daniel Ek criticise the EU regulations [1]", CITED)
    assert not bullet_supported("Zuckerberg and Daniel Ek criticise the EU regulations [3]",
                                CITED)
    # Cited, but 1/5: an invented point.
    assert not bullet_supported("Meta will open a pizza restaurant in Paris [1]", CITED)
    # No citation, or a number no citation has ([2] is not among the cited passages).
    assert not bullet_supported("Zuckerberg and Daniel Ek criticise the EU regulations", CITED)
    assert not bullet_supported("Zuckerberg and Daniel Ek criticise the EU regulations [2]",
                                CITED)
    # Two citations: the two passages together (1/4 and 7/12 alone, 5/6 together).
    both = "Fines reach EUR 35 000 000 for prohibited practices and Zuckerberg joined forces"
    assert bullet_supported(both + " [1][3]", CITED)
    assert bullet_supported(both + " [1, 3]", CITED)
    assert not bullet_supported(both + " [1]", CITED)


def overview_record(answer: str, sources: list[str], *, citations: list[dict[str, Any]],
                    abstained: bool = False, split: str = "tune", total: float = 0.0,
                    mode: str | None = None, kind: str = "overview") -> dict[str, Any]:
    r: dict[str, Any] = {
        "id": f"ov-{answer[:6]}", "kind": kind, "split": split, "answer": answer,
        "abstained": abstained, "citations": citations, "model_ran": total > 0,
        "timings": {"total_ms": total},
    }
    if mode:
        r["mode"] = mode
    r.update(score_overview(r, [["Zuckerberg"], ["Daniel Ek"], ["Facebook"], ["35 000 000"]],
                            sources))
    return r


SUMMARY = ("The article in short:\n"
           "- Zuckerberg and Daniel Ek criticise the EU regulations [1]\n"
           "- Fines for prohibited practices reach EUR 35 000 000 [3]\n"
           "- Meta will open a pizza restaurant in Paris [1]\n"
           "- Facebook data is off limits")


def test_score_overview_of_one_answer() -> None:
    r = overview_record(SUMMARY, [ARTICLE], citations=CITED)
    assert {k: r[k] for k in OVERVIEW_METRICS} == {
        "coverage": 1.0, "bullets": 4, "bullets_supported": 2, "cites_other_doc": True,
        "about_article": True}
    # The same answer to a question about the article and the act cites no other document.
    assert overview_record(SUMMARY, [ARTICLE, ACT], citations=CITED)["cites_other_doc"] is False
    assert overview_record(SUMMARY, [ACT, ARTICLE], citations=CITED)["about_article"] is False
    declined = overview_record("The documents do not say. Zuckerberg", [ARTICLE], citations=[],
                               abstained=True)
    assert {k: declined[k] for k in OVERVIEW_METRICS} == {
        "coverage": 0.0, "bullets": 0, "bullets_supported": 0, "cites_other_doc": False,
        "about_article": True}


def test_summarize_overview_per_split() -> None:
    records = [
        overview_record(SUMMARY, [ARTICLE], citations=CITED, total=10_000, mode="summary"),
        # Cites only the article, one supported bullet of one; half the key points.
        overview_record("- Zuckerberg and Daniel Ek criticise the EU regulations [1]", [ARTICLE],
                        citations=CITED[:1], total=30_000, mode="summary"),
        # About the act, citing the article: another document, but not about the article.
        overview_record("- Zuckerberg and Daniel Ek criticise the EU regulations [1]", [ACT],
                        citations=CITED[:1], total=20_000, mode="list"),
        # Declined before generation: no time, no mode (an older record).
        overview_record("No relevant passages.", [OSI], citations=[], abstained=True),
        overview_record(SUMMARY, [ARTICLE], citations=CITED, split="holdout", total=5_000),
        # A lookup question: no part of any overview measure.
        {"kind": "fact", "split": "tune", "answer": "x"},
    ]
    tune = summarize_overview(records[:4])
    assert set(tune) == set(OVERVIEW_SUMMARY)
    assert tune == {
        "questions": 4, "abstained": 1, "coverage": round((1 + 0.5 + 0.5 + 0) / 4, 4),
        "bullets": 6, "bullets_supported": 4, "bullet_support": round(4 / 6, 4),
        "other_doc_answers": 2, "article_questions": 2, "article_other_doc_answers": 1,
        "seconds_mean": 20.0, "seconds_max": 30.0, "modes": {"-": 1, "list": 1, "summary": 2},
    }
    by_split = summarize_overview_by_split(records)
    assert list(by_split) == ["tune", "holdout"]
    assert by_split["tune"] == tune
    assert by_split["holdout"]["seconds_max"] == 5.0
    assert by_split["holdout"]["bullet_support"] == 0.5
    assert summarize_overview_by_split(records[5:]) == {}
    empty = summarize_overview([])
    assert (empty["coverage"], empty["bullet_support"], empty["seconds_mean"]) == (None,) * 3


def test_overview_questions_leave_the_lookup_scores_alone(records: list[dict[str, Any]]) -> None:
    before = summarize(records)
    ov = overview_record(SUMMARY, [ARTICLE], citations=CITED, total=90_000)
    ov.update(score({**ov, "answerable": True, "retrieved": []}, [["pizza"]], [ARTICLE]),
              answerable=True)
    assert lookups([*records, ov]) == records
    assert summarize(lookups([*records, ov])) == before
    assert summarize([*records, ov]) != before  # what lookups() is for
