"""The one sentence splitter: where each kind of rule breaks, with exact pieces and offsets."""

from __future__ import annotations

import pytest

from assistant.sentences import Rule, spans, split

PLAIN = Rule()
CAPITAL = Rule(opens=r"[A-Z0-9“\"(]")


def test_pieces_are_what_re_split_gives_blank_and_empty_ones_included() -> None:
    assert split("One. Two!  Three? Four", PLAIN) == ["One.", "Two!", "Three?", "Four"]
    assert split("", PLAIN) == [""]
    assert split("Ends here. ", PLAIN) == ["Ends here.", ""]
    assert split("\nA line\n\n  indented", PLAIN) == ["", "A line", "  indented"]


def test_spans_are_offsets_and_the_break_lies_between_them() -> None:
    text = "Ek joined. He runs Spotify.\nNext"
    assert spans(text, PLAIN) == [(0, 10), (11, 27), (28, 32)]
    assert [text[a:b] for a, b in spans(text, PLAIN)] == split(text, PLAIN)


def test_a_run_of_end_marks_ends_one_sentence() -> None:
    assert split("Really?! Yes... And", PLAIN) == ["Really?!", "Yes...", "And"]


def test_a_line_break_always_ends_a_sentence() -> None:
    assert split("no end mark\nnext line", CAPITAL) == ["no end mark", "next line"]
    assert split("a:\n\n(b) item", Rule(ends=r"[.:]")) == ["a:", "(b) item"]


def test_opens_keeps_abbreviations_whole() -> None:
    text = "See Art. 53 of it, e.g. the duties. Then (a) this."
    assert split(text, Rule(opens="[A-Z]")) == ["See Art. 53 of it, e.g. the duties.",
                                                "Then (a) this."]
    assert split(text, CAPITAL) == ["See Art.", "53 of it, e.g. the duties.", "Then (a) this."]
    assert split(text, PLAIN) == ["See Art.", "53 of it, e.g.", "the duties.", "Then (a) this."]


def test_ends_choose_which_marks_end_a_sentence() -> None:
    text = "Providers shall keep records; Deployers shall inform: (a) users."
    assert split(text, CAPITAL) == [text]
    assert split(text, Rule(ends=r"[.;!?:]", opens=r"[A-Z(]")) == [
        "Providers shall keep records;", "Deployers shall inform:", "(a) users."]


def test_closers_stay_with_their_sentence() -> None:
    text = "He said “open models.” Zuckerberg agreed."
    assert split(text, CAPITAL) == [text]
    quoted = Rule(closers=r"[”\"’]?", opens=r"[A-Z]")
    assert split(text, quoted) == ["He said “open models.”", "Zuckerberg agreed."]


def test_dropping_the_ends_drops_the_mark_its_closers_and_a_final_mark() -> None:
    rule = Rule(closers=r"[*_]*", opens=r"[\"'“‘(\[*]*[A-Z]", keep_ends=False)
    assert split("**No.** The licence says so.", rule) == ["**No", "The licence says so", ""]
    assert spans("Yes.", rule) == [(0, 3), (4, 4)]
    assert split("Art. 53 applies.  ", rule) == ["Art. 53 applies", "  "]


@pytest.mark.parametrize("rule", [PLAIN, CAPITAL, Rule(keep_ends=False)])
def test_the_pieces_and_breaks_cover_the_text_in_order(rule: Rule) -> None:
    text = "A. b. C!\n\nD? “E.” F"
    cut = spans(text, rule)
    assert cut[0][0] == 0 and cut[-1][1] == len(text)
    assert all(a <= b <= c for (a, b), (c, _) in zip(cut, cut[1:], strict=False))
