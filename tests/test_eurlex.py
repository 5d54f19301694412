from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.ingest.blocks import Block
from assistant.ingest.eurlex import parse_eurlex_html

# The shipped copy in the repository (index/documents/), the file the corpus indexes.
ACT_HTML = Path(__file__).resolve().parents[1] / "index" / "documents" / "eu-ai-act-2024-1689.html"


@pytest.fixture(scope="module")
def blocks() -> list[Block]:
    return parse_eurlex_html(ACT_HTML.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def by_locator(blocks: list[Block]) -> dict[str, Block]:
    return {block.locator: block for block in blocks}


def test_reading_order(blocks: list[Block]) -> None:
    kinds = [re.sub(r"[\s(,].*", "", b.locator) for b in blocks]
    collapsed = [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k]
    assert collapsed == ["Preamble", "Recital", "Article", "Final", "Annex"]


def test_locators_are_unique(blocks: list[Block]) -> None:
    locators = [b.locator for b in blocks]
    assert len(locators) == len(set(locators))


def test_all_recitals_in_order(blocks: list[Block]) -> None:
    recitals = [b.locator for b in blocks if b.locator.startswith("Recital ")]
    assert recitals == [f"Recital {n}" for n in range(1, 181)]


def test_every_article_present_in_order(blocks: list[Block]) -> None:
    numbers = [
        int(m.group(1))
        for b in blocks
        if (m := re.fullmatch(r"Article (\d+)(?:\(\d+\))?", b.locator))
    ]
    assert sorted(set(numbers)) == list(range(1, 114))
    assert numbers == sorted(numbers)


def test_preamble(by_locator: dict[str, Block]) -> None:
    text = by_locator["Preamble"].text
    assert text.startswith(
        "REGULATION (EU) 2024/1689 OF THE EUROPEAN PARLIAMENT AND OF THE COUNCIL"
    )
    assert "laying down harmonised rules on artificial intelligence" in text
    assert "Having regard to the Treaty on the Functioning of the European Union" in text
    # Footnote references are dropped without leaving " ," behind.
    assert "Having regard to the opinion of the European Central Bank," in text.splitlines()


def test_recital_text_without_number(by_locator: dict[str, Block]) -> None:
    text = by_locator["Recital 102"].text
    assert text.startswith(
        "Software and data, including models, released under a free and open-source"
    )
    assert by_locator["Recital 1"].text.startswith("The purpose of this Regulation is to improve")


def test_article_53(by_locator: dict[str, Block]) -> None:
    heading = "Article 53 — Obligations for providers of general-purpose AI models"
    first, second = by_locator["Article 53(1)"], by_locator["Article 53(2)"]
    assert first.heading == second.heading == heading
    lines = first.text.splitlines()
    assert lines[0] == "Providers of general-purpose AI models shall:"
    assert [line[:4] for line in lines[1:]] == ["(a) ", "(b) ", "(i) ", "(ii)", "(c) ", "(d) "]
    # The lead-in of point (b) that the markdown conversion loses.
    assert lines[2].startswith(
        "(b) draw up, keep up-to-date and make available information and documentation to "
        "providers of AI systems who intend to integrate the general-purpose AI model"
    )
    assert "free and open-source licence" in second.text
    assert "systemic risk" in second.text
    assert second.text.startswith("The obligations set out in paragraph 1, points (a) and (b)")


def test_superscript_exponent(by_locator: dict[str, Block]) -> None:
    text = by_locator["Article 51(2)"].text
    assert "floating point operations is greater than 10^25." in text


def test_article_2_12_open_source_exemption(by_locator: dict[str, Block]) -> None:
    text = by_locator["Article 2(12)"].text
    assert text.startswith(
        "This Regulation does not apply to AI systems released under free and open"
    )
    assert by_locator["Article 2(12)"].heading == "Article 2 — Scope"


def test_article_3_definitions_split(by_locator: dict[str, Block]) -> None:
    assert by_locator["Article 3"].text == (
        "For the purposes of this Regulation, the following definitions apply:"
    )
    assert by_locator["Article 3(1)"].text.startswith("‘AI system’ means a machine-based system")
    assert by_locator["Article 3(1)"].heading == "Article 3 — Definitions"
    assert by_locator["Article 3(63)"].text.startswith("‘general-purpose AI model’ means")
    assert "Article 3(68)" in by_locator
    assert "Article 3(69)" not in by_locator
    widespread = by_locator["Article 3(61)"].text.splitlines()
    assert widespread[0].startswith("‘widespread infringement’ means")
    assert [line.split(" ")[0] for line in widespread[1:]] == ["(a)", "(i)", "(ii)", "(iii)", "(b)"]
    assert widespread[1].startswith("(a) has harmed or is likely to harm the collective interests")


def test_unnumbered_article_is_one_block(by_locator: dict[str, Block]) -> None:
    block = by_locator["Article 113"]
    assert block.heading == "Article 113 — Entry into force and application"
    assert "It shall apply from 2 August 2026." in block.text
    assert "(a) Chapters I and II shall apply from 2 February 2025;" in block.text.splitlines()
    assert not any(loc.startswith("Article 113(") for loc in by_locator)


def test_title_typo_cleaned(by_locator: dict[str, Block]) -> None:
    assert by_locator["Article 1(1)"].heading == "Article 1 — Subject matter"


def test_annexes(blocks: list[Block], by_locator: dict[str, Block]) -> None:
    annexes = {m.group(1) for b in blocks if (m := re.match(r"Annex ([IVX]+)\b", b.locator))}
    assert annexes == set("I II III IV V VI VII VIII IX X XI XII XIII".split())
    xiii = by_locator["Annex XIII"]
    assert xiii.heading.startswith(
        "Annex XIII — Criteria for the designation of general-purpose AI models with systemic risk"
    )
    assert "(c) the amount of computation used for training the model" in xiii.text
    assert by_locator["Annex III, point 1"].text.startswith("1. Biometrics")
    assert by_locator["Annex XI, Section 1, point 2"].text.startswith("2. A detailed description")
    assert "Annex XI, Section 2" in by_locator
    assert by_locator["Annex VII, point 3.1"].text.startswith(
        "3. Quality management system\n3.1. The application of the provider shall include:"
    )


def test_final_provisions(by_locator: dict[str, Block]) -> None:
    assert "Done at Brussels, 13 June 2024." in by_locator["Final provisions"].text


def test_no_markup_chrome_or_footnotes(blocks: list[Block]) -> None:
    for block in blocks:
        assert block.text, block.locator
        for bad in ("<", ">", "\xa0", "\x00", "  ", "\n\n", "generateTOC", "ISSN", "L series"):
            assert bad not in block.text, (block.locator, bad)
        assert block.text == block.text.strip()
        # The page's own ELI line is chrome; Article 110 quotes the act's ELI inside a sentence.
        assert not any(line.startswith("ELI:") for line in block.text.splitlines())
    # Footnote texts (OJ references) are not part of any block.
    assert not any("OJ C 517, 22.12.2021" in b.text for b in blocks)


SNIPPET = """<?xml version="1.0" encoding="UTF-8"?><html><head>
<script src="/x.js"></script></head><body>
<div class="eli-container">
<div class="eli-subdivision" id="art_7">
  <p class="oj-ti-art">Article 7</p>
  <div class="eli-title" id="art_7.tit_1"><p class="oj-sti-art">Test   <span>title</span></p></div>
  <div id="007.001">
    <p class="oj-normal">1.&#160;&#160;&#160;Models trained
       with more than 10<span class="oj-super">25</span> FLOP or 2<sup>10</sup> steps
       <a href="#ntr9-X">(<span class="oj-super oj-note-tag">9</span>)</a>, shall:</p>
    <table><col/><col/><tbody><tr>
      <td><p class="oj-normal">(a)</p></td>
      <td><p class="oj-normal">do one thing, namely:</p>
        <table><tbody><tr><td><p class="oj-normal">(i)</p></td>
          <td><p class="oj-normal">first   sub-point;</p></td></tr></tbody></table>
        <table><tbody><tr><td><p class="oj-normal">(ii)</p></td>
          <td><p class="oj-normal">second sub-point;</p></td></tr></tbody></table>
      </td></tr></tbody></table>
    <table><tbody><tr><td><p class="oj-normal">(b)</p></td>
      <td><p class="oj-normal">do another.</p></td></tr></tbody></table>
    <p class="oj-normal">A second subparagraph.</p>
  </div>
  <div id="007.002"><p class="oj-normal">2.   Short.</p></div>
</div>
</div>
<p class="oj-note"><a href="#ntc9-X">(<span class="oj-super">9</span>)</a> OJ L 1.</p>
<script>var x = 1;</script>
</body></html>"""


def test_snippet_points_and_superscripts() -> None:
    blocks = parse_eurlex_html(SNIPPET)
    assert blocks == [
        Block(
            "Article 7(1)",
            "Models trained with more than 10^25 FLOP or 2^10 steps, shall:\n"
            "(a) do one thing, namely:\n"
            "(i) first sub-point;\n"
            "(ii) second sub-point;\n"
            "(b) do another.\n"
            "A second subparagraph.",
            "Article 7 — Test title",
        ),
        Block("Article 7(2)", "Short.", "Article 7 — Test title"),
    ]
