"""Questions about a whole unit: which unit a question names, whether it asks for an overview,
the items of a list, and attributed claims that disagree. Pure logic, exact."""

from assistant.answer import overview, two_sided
from assistant.answer.list_items import items, opening
from assistant.retrieve.references import parse_refs
from assistant.retrieve.units import Unit, named_docs, resolve

METAS = {
    "news": {"title": "Meta, Spotify Issue Statement", "lead": "true"},
    "licence": {"title": "Llama 3.1 Community License Agreement",
                "aliases": "the licence; the Llama licence"},
    "aup31": {"title": "Llama 3.1 Acceptable Use Policy", "aliases": "the AUP; use policy"},
    "aup32": {"title": "Llama 3.2 Acceptable Use Policy", "aliases": "the AUP; use policy"},
    "act": {"title": "Regulation (EU) 2024/1689 (Artificial Intelligence Act)",
            "aliases": "the AI Act; the Act"},
}


def _resolve(question: str, scope: tuple[str, ...] = ()) -> Unit | None:
    def holding(ref):
        return {"act"} if ref.kind == "article" else {"licence"} if ref.kind == "section" else set()

    return resolve(question, METAS, {"news": 1.0}, holding,
                   lambda doc, ref: "Article 5 — Prohibited AI practices", scope)


def test_the_article_is_the_lead_document_and_never_a_provision():
    unit = _resolve("Summarize the article in three bullet points.")
    assert unit is not None and unit.docs == ("news",) and unit.how == "the article"
    assert unit.label.startswith("the article: ")
    found = _resolve("What does Article 5 prohibit?")
    assert found is not None and found.docs == ("act",) and found.provision == "Article 5"
    assert found.label == "Article 5 — Prohibited AI practices · " + METAS["act"]["title"]


def test_a_one_word_title_names_its_document_only_as_its_own_phrase() -> None:
    """An upload called "market" is "the market", not the word ending "the Brenac covered
    market" (another market, in another document)."""
    metas = {"market": {"title": "market"}, "zoo": {"title": "zoo"}}
    assert named_docs("When does the zoo open?", metas) == ["zoo"]
    assert named_docs("What does the market sell?", metas) == ["market"]
    assert named_docs("When does the Brenac covered market open on Saturdays?", metas) == []


def test_a_document_is_named_by_title_or_alias_in_either_spelling_and_version():
    assert named_docs("Give me an overview of the license.", METAS) == ["licence"]
    assert named_docs("What does the AUP forbid?", METAS) == ["aup31", "aup32"]
    assert named_docs("What does the Llama 3.2 AUP forbid?", METAS) == ["aup32"]
    # "the licence" of Llama 3.2 is not the Llama 3.1 licence.
    assert named_docs("Who gets no rights under the licence for Llama 3.2?", METAS) == []
    assert _resolve("Who is Daniel Ek?") is None


def test_a_chosen_scope_is_the_unit_narrowed_to_a_provision_it_holds():
    unit = _resolve("Summarize it.", scope=("licence",))
    assert unit is not None and (unit.docs, unit.how) == (("licence",), "scope")
    assert _resolve("Summarize Section 4.", scope=("licence",)).refs == tuple(  # type: ignore[union-attr]
        parse_refs("Section 4"))


def test_overview_questions_are_told_from_lookups():
    for q in ("Summarize the article.", "What are the main points of the licence?",
              "tl;dr of the piece", "Give me an overview of Article 50.",
              "What does the licence say?", "What is the article about?",
              "What are the penalties under the AI Act?", "Break down section 1 for me."):
        assert overview.mode(q) == "summary", q
    for q in ("What does Article 5 prohibit?", "Which areas does Annex III list as high-risk?",
              "What uses does the Llama 3.2 AUP forbid?",
              "What am I not allowed to do with Llama under its use policy?"):
        assert overview.mode(q) == "list", q
    for q in ("What does the article say about Spotify?", "Who co-signed the statement?",
              "Explain why Meta withheld its models.",
              "The OSAID asks for data information. Under the AI Act, what must providers "
              "publish about training content, and is it a summary?"):
        assert overview.mode(q) is None, q
    assert overview.requested_count("Summarize the article in three bullet points.") == 3
    assert overview.requested_count("Summarize the article.") == 0


ARTICLE_5 = [
    "The following AI practices shall be prohibited: (a) the use of an AI system that deploys "
    "subliminal techniques; (b) the use of an AI system that exploits vulnerabilities;",
    "(c) the use of AI systems for social scoring; (d) the use of real-time remote biometric "
    "identification unless strictly necessary for one of the following objectives: (i) the "
    "targeted search for victims; (ii) the prevention of a threat; (iii) the localisation of a "
    "suspect. The Commission shall publish guidelines. (a) A new paragraph's list.",
]


def test_a_list_spread_over_passages_is_read_whole_and_only_at_its_top_level():
    found = items(ARTICLE_5)
    assert [i.label for i in found] == ["(a)", "(b)", "(c)", "(d)"]
    assert [i.n for i in found] == [1, 1, 2, 2]
    assert found[0].text == "the use of an AI system that deploys subliminal techniques"
    # (d)'s sub-items (i)-(iii) stay inside it, cut at the colon that opens them.
    assert found[3].text.endswith("for one of the following objectives…")
    assert opening(ARTICLE_5) == "The following AI practices shall be prohibited:"


def test_numbered_policy_items_keep_their_top_level():
    text = ("You agree you will not use Llama to: 1. Violate the law, including to: 1.1. Engage "
            "in illegal activity 1.2. Harass people 2. Engage in activities that risk harm "
            "3. Deceive others")
    assert [(i.label, i.text) for i in items([text])] == [
        ("1.", "Violate the law, including to…"), ("2.", "Engage in activities that risk harm"),
        ("3.", "Deceive others")]


def test_a_list_question_about_some_items_is_a_lookup():
    found = items(ARTICLE_5)
    assert overview.picks_some("Which kinds of social scoring are banned?", ARTICLE_5, found)
    assert not overview.picks_some("Which AI practices are banned outright?", ARTICLE_5, found)


def test_attributed_claims_that_disagree_are_both_given():
    passages = [
        "Zuckerberg asserts that “Meta open-sources many of its AI technologies, including its "
        "Llama large language models.” Spotify agrees.",
        "“Many companies claim their AI models are open source without really being open at "
        "all, such as Meta’s Llama 3.1,” ZDNet writes.",
    ]
    found = two_sided.positions("Is Llama 3.1 open source?", passages)
    assert [(c.n, c.disputes) for c in found] == [(1, False), (2, True)]
    text = two_sided.render(found)
    assert text.splitlines()[0] == two_sided.HEADING
    assert text.splitlines()[2].endswith("ZDNet writes [2]")
    # One side only, or claims that are about something else: no two-sided answer.
    assert two_sided.positions("Is Llama 3.1 open source?", passages[:1]) == []
    assert two_sided.positions("Is Spotify profitable?", passages) == []


def test_a_list_item_drops_the_opening_it_shares_with_its_siblings():
    from assistant.answer.overview import without_shared_opening

    a = "the placing on the market of an AI system that deploys subliminal or manipulative means"
    b = "the placing on the market of an AI system that exploits vulnerabilities"
    c = "the use of biometric categorisation systems that categorise persons"
    assert without_shared_opening(a, [b, c]) == "deploys subliminal or manipulative means"
    # Nothing shared with any sibling, or too little left: the item as it is.
    assert without_shared_opening(c, [a, b]) == c
    assert without_shared_opening(a, [a + " too"]) == a
