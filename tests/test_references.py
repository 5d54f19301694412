"""Matching the provisions a question names to the locators of chunks: pure functions."""

from __future__ import annotations

import pytest

from assistant.retrieve.references import Ref, covers, parse_refs, span


def test_references_are_read_with_their_sub_levels() -> None:
    assert parse_refs("What does Article 53(2) of the AI Act exempt?") == [Ref("article", (53, 2))]
    assert parse_refs("Article 5(1)(c) and Recital 102") == [
        Ref("article", (5, 1, 3)), Ref("recital", (102,))]
    assert parse_refs("Annex XI, Section 1, point 2") == [Ref("annex", (11, 1, 2))]
    assert parse_refs("section 1.b.iv of the licence") == [Ref("section", (1, 2, 4))]
    assert parse_refs("Section 1(a).") == [Ref("section", (1, 1))]


@pytest.mark.parametrize("text", [
    "Which section of the license grants it?", "According to the article, who signed?",
    "the article calls it", "Recital 0",
])
def test_words_that_only_look_like_references_are_not(text: str) -> None:
    assert parse_refs(text) == []


@pytest.mark.parametrize(("locator", "question", "held"), [
    ("Article 53(2) – Article 53(3)", "Article 53(2)", True),
    ("Article 53(2) – Article 53(3)", "Article 53(3)", True),
    ("Article 53(2) – Article 53(3)", "Article 53", True),
    ("Article 53(2) – Article 53(3)", "Article 53(4)", False),
    ("Article 53(2) – Article 53(3)", "Article 5(2)", False),
    ("Article 53(2) – Article 53(3)", "Recital 53", False),
    ("Article 53", "Article 53(2)", True),
    ("Article 5(1)", "Article 5(1)(c)", True),
    ("Recital 102 – Recital 103", "Recital 102", True),
    ("Recital 102 – Recital 103", "Recital 104", False),
    ("Section 1.b.ii – Section 1.b.iv", "Section 1.b.iii", True),
    ("Section 1.b.ii – Section 1.b.iv", "Section 1(a)", False),
    ("Section 1 – Section 1.b.i", "Section 1(a)", True),
    ("Annex VII, point 3.2 – Annex VII, point 4", "Annex VII", True),
    ("Annex XI, Section 1, point 1 – Annex XI, Section 2", "Annex XI, Section 2", True),
    ("Annex XI, Section 1, point 1 – Annex XI, Section 2", "Annex XII", False),
])
def test_a_locator_holds_the_provisions_in_its_span(locator: str, question: str, held: bool
                                                    ) -> None:
    bounds = span(locator)
    assert bounds is not None
    assert covers(bounds, parse_refs(question)[0]) is held


def test_locators_without_a_provision_span_nothing() -> None:
    assert span("What is Open Source AI > Parameters") is None
    assert span("") is None
