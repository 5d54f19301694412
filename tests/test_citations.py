from assistant.answer import checks
from assistant.answer.checks import draft as dc
from assistant.answer.checks import evidence as ec
from assistant.answer.checks import support as sc
from assistant.answer.citations import (
    check_sentences,
    cited_numbers,
    markers,
    render,
    split_sentences,
    support,
)

PASSAGES = [
    "Meta Platforms CEO Mark Zuckerberg and Spotify CEO Daniel Ek have joined forces.",
    "If the monthly active users is greater than 700 million, you must request a license "
    "from Meta.",
]


def test_markers_and_sentence_split():
    assert markers("A [1]. B [2, 3] and [1].") == [1, 2, 3]
    assert split_sentences("Ek joined [1]. He runs Spotify [1].") == [
        "Ek joined [1].", "He runs Spotify [1]."]
    assert split_sentences("Ek joined. [1] Next one.") == ["Ek joined [1].", "Next one."]


def test_support_counts_content_words_and_penalises_invented_numbers():
    assert support("Daniel Ek joined", PASSAGES[0]) == 1.0
    # spotify found; revenue, 2023 (x2), billion missing -> 1 / 5
    assert support("Spotify revenue 2023 billion", PASSAGES[0]) == 1 / 5


def test_supported_sentence_keeps_its_marker():
    [s] = check_sentences("Spotify CEO Daniel Ek joined Zuckerberg [1].", PASSAGES)
    assert (s.cited, s.supported, s.moved_from) == ([1], True, [])


def test_wrong_marker_is_moved_to_the_supporting_passage():
    [s] = check_sentences("Above 700 million monthly active users you must request a license [1].",
                          PASSAGES)
    assert (s.cited, s.supported, s.moved_from) == ([2], True, [1])


def test_marker_pointing_at_nothing_is_removed():
    [s] = check_sentences("Daniel Ek joined forces with Zuckerberg [7].", PASSAGES)
    assert s.cited == [1]
    assert render([s]) == "Daniel Ek joined forces with Zuckerberg [1]."


def test_unsupported_sentence_is_flagged_and_answer_judged_unsupported():
    sentences = check_sentences("Spotify earned 13 billion euros in revenue in 2023 [1].", PASSAGES)
    assert [s.supported for s in sentences] == [False]
    assert sc.unsupported(sentences)
    assert cited_numbers(sentences) == [1]


def test_mixed_answer_is_not_an_abstention():
    sentences = check_sentences(
        "Daniel Ek joined Zuckerberg [1]. Spotify earned 13 billion in 2023.", PASSAGES)
    assert [s.supported for s in sentences] == [True, False]
    assert not sc.unsupported(sentences)


def test_model_declines_only_at_the_start():
    assert dc.model_declined("The documents do not say.")
    assert dc.model_declined("The passages do not mention Spotify's revenue.")
    assert not dc.model_declined(
        "Daniel Ek joined him [1]. " + "x " * 100 + "The documents do not say more.")


def _before(similarity: float, question: str = "What is it?", texts=("a passage",)):
    evidence = checks.Evidence(question=question, own_question=question, texts=list(texts),
                               best_similarity=similarity, min_relevance=0.3)
    return [f.check.name for f in checks.run("before", evidence, None)]


def test_retrieval_threshold():
    assert _before(0.15) == ["no_relevant_passages"]
    assert _before(0.31) == []
    assert _before(0.15, texts=()) == ["no_relevant_passages"]


def test_checks_have_unique_names_stages_and_messages():
    names = checks.names()
    assert len(names) == len(set(names)) >= 6
    for check in checks.REGISTRY.values():
        assert check.stage in checks.STAGES and check.family in checks.MESSAGES and check.about
    assert checks.unknown(["unsupported", "no_such_check"]) == ["no_such_check"]


def test_a_disabled_check_does_not_run():
    evidence = checks.Evidence(question="Who is the CEO of OpenAI?",
                               own_question="Who is the CEO of OpenAI?",
                               texts=["Spotify CEO Daniel Ek."], best_similarity=0.1,
                               min_relevance=0.3)
    fired = [f.check.name for f in checks.run("before", evidence, None)]
    assert fired == ["no_relevant_passages", "names_unmentioned"]
    fired = [f.check.name for f in checks.run("before", evidence, None,
                                              disabled=["no_relevant_passages"])]
    assert fired == ["names_unmentioned"]


def test_a_number_in_no_passage_makes_a_sentence_unsupported_despite_overlap():
    from assistant.answer.citations import invented

    text = "You must request a license from Meta above 900 million monthly active users [2]."
    [s] = check_sentences(text, PASSAGES)
    assert not s.supported
    assert invented(text, "", PASSAGES) == ["900"]
    # A number the question itself gave is not an invention.
    assert invented(text, "What if I have 900 million users?", PASSAGES) == []
    assert invented("Above 700 million users [1].", "", PASSAGES) == []
    assert invented("Fines of up to EUR 35,000,000 [1].", "", ["up to EUR 35 000 000"]) == []


def test_a_quantity_or_date_question_needs_a_figure_in_the_answer():
    assert dc.misses_the_figure("Meta was fined under the GDPR [1].",
                                     "How much has Meta been fined under the GDPR?")
    assert not dc.misses_the_figure("Up to EUR 35 000 000 [1].", "How much is the fine?")
    assert not dc.misses_the_figure("Seven hundred million users.", "How many users?")
    assert dc.misses_the_figure("It was signed in Brussels [1].",
                                     "On what date was it signed?")
    # Other "when" questions can be answered without a date ("if you breach the terms").
    assert not dc.misses_the_figure("If you breach the terms [1].", "When may Meta terminate?")
    assert dc.misses_the_figure("Once models are placed on the market [1].",
                                     "When do the rules on general-purpose AI models apply?")
    assert not dc.misses_the_figure("From 2 August 2025 [1].",
                                         "When do the rules on general-purpose AI models apply?")
    assert not dc.misses_the_figure("On the twentieth day following its publication [1].",
                                         "When does the Regulation enter into force?")
    assert not dc.misses_the_figure("If it detects emotions for safety [1].",
                                         "When may an AI system infer emotions at work?")


def test_figures_from_the_question_or_a_link_are_not_the_answers_own():
    question = "On what date was Llama 3.2 released?"
    assert dc.misses_the_figure(
        "The policy is at https://www.llama.com/llama3_2/use-policy [1].", question)
    assert dc.misses_the_figure("Llama 3.2 was released recently [1].", question)
    assert dc.misses_the_figure("Write to LlamaUseReport2@meta.com [1].", question)
    assert not dc.misses_the_figure("Llama 3.2 was released on 25 September 2024 [1].",
                                         question)
    assert not dc.misses_the_figure("In 2024 [1].",
                                         "Which year was Regulation (EU) 2024/1689 signed?")


def test_question_names_skip_question_words_and_fold_possessives_and_plurals():
    assert ec.question_names("Who is the CEO of OpenAI?") == ["CEO", "OpenAI"]
    assert ec.question_names("When do the AI Act's rules apply?") == ["AI", "Act"]
    assert ec.question_names("How does the CEOs' statement read?") == ["CEO"]
    # A multi-hop preamble names things from another document; only the question proper counts.
    assert ec.question_names(
        "Zuckerberg and Ek praise open weights. Which obligations are waived?") == []


def test_a_name_no_passage_mentions_is_reported():
    texts = ["Meta Platforms CEO Mark Zuckerberg and Spotify CEO Daniel Ek joined forces."]
    assert ec.unmentioned_names("Who is the CEO of OpenAI?", texts) == ["OpenAI"]
    assert ec.unmentioned_names("Who is the CEO of Spotify?", texts) == []
    assert ec.unmentioned_names("What did the FIFA and UEFA say?", texts) == ["FIFA", "UEFA"]


def test_an_initialism_counts_as_mentioned_when_the_passages_spell_it_out():
    texts = ["The Open Source AI Definition, version 1.0, was written by the Open Source "
             "Initiative."]
    assert ec.unmentioned_names("What does the OSAID require?", texts) == []
    assert ec.unmentioned_names("Under the OSI definition, what is free?", texts) == []
    assert ec.unmentioned_names("What does the GDPR require?", texts) == ["GDPR"]


def test_names_match_across_hyphens_units_titles_and_plurals():
    act = ["Providers of general-purpose AI models shall draw up documentation. The cumulative "
           "amount of computation used for its training is greater than 10^25 floating point "
           "operations."]
    assert ec.unmentioned_names("What must GPAI providers document?", act) == []
    assert ec.unmentioned_names("What must GPAIs providers do?", act) == []
    assert ec.unmentioned_names("When is a model above 10^25 FLOPs?", act) == []
    ceo = ["Mark Zuckerberg, Meta's chief executive, and Daniel Ek of Spotify wrote it."]
    assert ec.unmentioned_names("What do the CEOs argue?", ceo) == []
    assert ec.unmentioned_names("What did the Llamas say?",
                                             ["Llama models are open."]) == []
    # Spelling a name differently is not the same as naming something absent.
    assert ec.unmentioned_names("What does the CFO say?", ceo) == ["CFO"]


def test_an_answer_that_only_copies_a_passage_heading_is_not_an_answer():
    headers = ["Llama 3.1 Community License Agreement — Section 1.b.ii",
               "Llama 3.1 Community License Agreement"]
    assert dc.only_names_a_source(
        "[3] Llama 3.1 Community License Agreement — Section 1.b.ii", headers)
    assert dc.only_names_a_source(
        "According to Llama 3.1 Community License Agreement [1].", headers)
    assert not dc.only_names_a_source(
        "Llama 3.1 Community License Agreement — Section 1.b.ii: the Acceptable Use Policy [3].",
        headers)
    # Naming the licence is an answer when the question asks which licence applies.
    assert not dc.only_names_a_source(
        "It is governed by the Llama 3.1 Community License Agreement [1].", headers)


def test_an_uncited_one_word_answer_cites_the_passage_that_contains_it():
    passages = ["Meta is based in Menlo Park.", "This Agreement is governed by the laws of the "
                "State of California."]
    [s] = check_sentences("California", passages)
    assert s.supported and s.cited == [2]
    [s] = check_sentences("Canberra.", passages)
    assert not s.supported and s.cited == []
    # A short answer the model cited keeps its marker; "Yes." has no word to check.
    [s] = check_sentences("California [1].", passages)
    assert s.cited == [1]
    [s] = check_sentences("Yes.", passages)
    assert s.supported and s.cited == []
    # List numbering cut off by the sentence splitter gets no marker.
    first = check_sentences("1. Meta is based in Menlo Park [1].", passages)[0]
    assert first.text == "1." and first.cited == []

