from assistant.ingest.blocks import Block
from assistant.ingest.chunking import chunk_blocks, document_text


def words(text: str) -> int:
    return len(text.split())


def test_chunks_respect_the_budget_including_title_and_heading():
    blocks = [Block("Article 1", " ".join(f"w{i}." for i in range(100)), "Article 1 — Scope")]
    chunks = chunk_blocks("d", blocks, words, chunk_tokens=30, overlap_tokens=0, title="Doc")
    assert len(chunks) > 3
    for c in chunks:
        assert words(c.embed_text("Doc")) <= 30 + 2


def test_offsets_point_back_into_the_document_text():
    blocks = [Block("A", "First sentence here. Second sentence here."), Block("B", "Third one.")]
    text, _ = document_text(blocks)
    chunks = chunk_blocks("d", blocks, words, chunk_tokens=6, overlap_tokens=0)
    for c in chunks:
        assert text[c.start : c.end].replace("\n\n", " ").startswith(c.text.split(" ")[0])
    assert [c.text for c in chunks] == [
        "First sentence here.", "Second sentence here.", "Third one."]


def test_a_chunk_never_spans_two_headings_but_spans_locators_under_one():
    blocks = [
        Block("Article 5(1)", "Short one.", "Article 5"),
        Block("Article 5(2)", "Short two.", "Article 5"),
        Block("Article 6(1)", "Short three.", "Article 6"),
    ]
    chunks = chunk_blocks("d", blocks, words, chunk_tokens=50, overlap_tokens=0)
    assert [(c.locator, c.text) for c in chunks] == [
        ("Article 5(1) – Article 5(2)", "Short one. Short two."),
        ("Article 6(1)", "Short three."),
    ]


def test_neighbouring_chunks_overlap_by_trailing_sentences():
    blocks = [Block("", "One a. Two b. Three c. Four d. Five e. Six f.")]
    chunks = chunk_blocks("d", blocks, words, chunk_tokens=6, overlap_tokens=2)
    assert [c.text for c in chunks] == [
        "One a. Two b. Three c.", "Three c. Four d. Five e.", "Five e. Six f."]


def test_an_overlong_sentence_is_split_by_words():
    blocks = [Block("", " ".join(["x"] * 25))]
    chunks = chunk_blocks("d", blocks, words, chunk_tokens=10, overlap_tokens=0)
    assert all(words(c.text) <= 10 for c in chunks)
    assert sum(words(c.text) for c in chunks) == 25
