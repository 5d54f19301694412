from pathlib import Path

import pytest

from assistant.errors import IngestError
from assistant.ingest.loaders import (
    load_article_text,
    load_blocks,
    load_commonaccord,
    load_markdown,
    load_text,
)

DOCS = Path(__file__).resolve().parents[1] / "index" / "documents"


def test_article_drops_comment_box_and_keeps_headline_as_heading():
    blocks = load_article_text((DOCS / "etcentric-meta-spotify-statement.txt").read_bytes())
    texts = [b.text for b in blocks]
    assert blocks[0].heading == "Meta, Spotify Issue Statement Criticizing EU’s AI Regulations"
    assert texts[0].startswith("Meta Platforms CEO Mark Zuckerberg and Spotify CEO Daniel Ek")
    assert texts[-1].startswith("As for the participation of Spofity and Ek")
    assert not any("comment" in t.lower() for t in texts)


def test_license_sections_become_locators():
    blocks = load_text((DOCS / "llama-3.1-community-license.txt").read_bytes())
    by_locator = {b.locator: b for b in blocks}
    assert "700 million monthly active users" in by_locator["Section 2"].text
    assert by_locator["Section 2"].heading == "2. Additional Commercial Terms"
    assert "Built with Llama" in by_locator["Section 1.b.i"].text
    assert "State of California" in by_locator["Section 7"].text


def test_commonaccord_keys_and_placeholders_are_stripped():
    blocks = load_commonaccord((DOCS / "osi-osaid-1.0-rc1.commonaccord.md").read_bytes())
    text = "\n".join(b.text for b in blocks)
    assert "sec=" not in text and "Ti=" not in text and "{" not in text and "<a" not in text
    freedoms = [b for b in blocks if b.text.startswith("1. Use the system for any purpose")]
    assert freedoms and freedoms[0].locator == "What is Open Source AI"
    data_info = [b for b in blocks if "Data Information" in b.locator]
    assert data_info and "Preferred form to make modifications" in data_info[0].locator


def test_commonaccord_footnotes_say_what_they_annotate():
    blocks = load_commonaccord((DOCS / "osi-osaid-1.0-rc1.commonaccord.md").read_bytes())
    notes = {b.text.split(" (")[0]: b for b in blocks if b.locator == "Footnotes"}
    assert sorted(notes) == ["Footnote 1", "Footnote 2", "Footnote 3", "Footnote 4"]
    # Anchored in running text: the section and the words the anchor followed.
    assert notes["Footnote 1"].text == (
        "Footnote 1 (What is Open Source AI, “… that grant the freedoms”): "
        "These freedoms are derived from the Free Software Definition.")
    assert notes["Footnote 2"].text.startswith(
        "Footnote 2 (Parameters, “… available under OSI-approved terms”): The Open Source AI "
        "Definition does not take any stance")
    # Anchored in a heading ("AI system[3]"): the heading.
    assert notes["Footnote 3"].text.startswith("Footnote 3 (“AI system”): Recommendation of the "
                                                "Council on Artificial Intelligence")
    # The anchors themselves leave nothing behind in the text they marked.
    grant = next(b for b in blocks if b.text.startswith("An Open Source AI is an AI system"))
    assert grant.text.endswith("grant the freedoms to:")


def test_commonaccord_numbers_only_the_lists_its_layout_numbers():
    blocks = load_commonaccord((DOCS / "osi-osaid-1.0-rc1.commonaccord.md").read_bytes())
    texts = [b.text for b in blocks]
    # `ol` lists keep their numbers; paragraphs (`paras`) and `ol-none` items get none.
    assert "2. Study how the system works and inspect its components." in texts
    assert any(t.startswith("When we refer to a \"system,\"") for t in texts)
    assert any(t.startswith("These freedoms apply both") for t in texts)
    assert any(t.startswith("For example, this might include checkpoints") for t in texts)
    assert not any(t.startswith(("00.", "0.")) for t in texts)


def test_markdown_policy_items_keep_outline_numbers():
    blocks = load_markdown((DOCS / "llama-3.2-acceptable-use-policy.md").read_bytes())
    eu = [b for b in blocks if "European Union" in b.text]
    assert eu, "the EU multimodal restriction must be indexed"
    assert any(b.locator.startswith("Prohibited Uses") for b in blocks)
    assert not any("**" in b.text or "<span" in b.text for b in blocks)


def test_markdown_list_after_prose_is_not_numbered_as_the_first_list():
    blocks = load_markdown((DOCS / "llama-3.1-acceptable-use-policy.md").read_bytes())
    uses = sorted(b.locator for b in blocks if b.locator.startswith("Prohibited Uses "))
    assert uses == [f"Prohibited Uses {n}" for n in range(1, 5)]
    reporting = next(b for b in blocks if "facebook.com/whitehat/info" in b.text)
    assert reporting.locator == "Prohibited Uses"
    assert "- Reporting bugs and security concerns: facebook.com/whitehat/info" in reporting.text


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "is empty"),
        ("binary.txt", b"\x00\x01\x02PK\x03\x04" * 50, "looks binary"),
        ("latin1.txt", "café au lait".encode("latin-1"), "not valid UTF-8"),
        ("fake.pdf", b"this is not a pdf", "not a PDF"),
        ("notes.docx", b"PK\x03\x04", "unsupported file type"),
    ],
)
def test_bad_files_are_refused_with_the_reason(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(IngestError) as err:
        load_blocks(path)
    assert name in str(err.value) and reason in str(err.value)


def test_size_limit_is_named(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"word " * 300_000)
    with pytest.raises(IngestError, match=r"big.txt is 1.5 MB, over the 1 MB limit"):
        load_blocks(path, max_bytes=1_000_000)


def test_html_page_keeps_main_text_without_scripts(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>Test page</title><script>alert(1)</script></head><body>"
        "<nav>Home | About | Contact</nav><article><h1>Open weights</h1>"
        "<p>The model weights were released under a permissive license in August.</p>"
        "<p onclick='steal()'>A second paragraph explains the 700 million user clause.</p>"
        "</article><footer>Cookie settings</footer></body></html>",
        encoding="utf-8",
    )
    text = " ".join(b.text for b in load_blocks(page))
    assert "permissive license in August" in text and "700 million" in text
    assert "alert(1)" not in text and "steal()" not in text
