from pathlib import Path

import pytest

from assistant.chat import followed_question, history_query

HISTORY = [
    {"role": "user", "content": "Who is the CEO of OpenAI?"},
    {"role": "assistant", "content": "The documents do not say."},
]


def test_a_self_contained_second_question_is_not_a_follow_up():
    q = ("Which Meta company is the licensor for users located in the EEA or Switzerland under "
         "the Llama 3.1 license?")
    assert followed_question(q, HISTORY) == ""
    assert history_query(q, HISTORY) == q


def test_referring_and_short_questions_follow_the_last_one():
    for q in ("Where is it based?", "And who else?", "What must the first one include?",
              "Which of the latter applies here at all?"):
        assert followed_question(q, HISTORY) == "Who is the CEO of OpenAI?", q
        assert history_query(q, HISTORY) == f"Who is the CEO of OpenAI? {q}"


def test_without_history_nothing_is_followed():
    assert followed_question("Where is it based?", []) == ""


def test_prepare_gives_the_model_no_earlier_question_for_a_self_contained_one(tmp_path):
    from assistant.chat import ChatService
    from assistant.settings import Settings

    # prepare() reads only the settings; no store or model is needed to test it.
    service = ChatService.__new__(ChatService)
    service.settings = Settings(data_dir=tmp_path)
    fresh = service.prepare("Which Meta company licenses Llama 3.1 in the EEA?", HISTORY)
    assert (fresh.standalone, fresh.earlier) == (fresh.question, "")
    follow = service.prepare("Where is it based?", HISTORY)
    assert follow.earlier == "Who is the CEO of OpenAI?"
    assert follow.standalone == "Who is the CEO of OpenAI? Where is it based?"


def test_source_version_follows_the_code_it_hashes(tmp_path: Path) -> None:
    from assistant.code_version import source_version

    (tmp_path / "answer").mkdir()
    code = tmp_path / "answer" / "check.py"
    code.write_text("LIMIT = 1\n")
    before = source_version("answer/*.py", root=tmp_path)
    assert source_version("answer/*.py", root=tmp_path) == before
    code.write_text("LIMIT = 2\n")
    assert source_version("answer/*.py", root=tmp_path) != before
    assert source_version("retrieve/*.py", root=tmp_path) != before


def test_code_versions_are_remembered_by_the_bytes_of_the_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.code_version import source_version

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code = tmp_path / "src" / "stage.py"
    code.parent.mkdir()
    code.write_text("LIMIT = 1\n")
    first = source_version("*.py", root=code.parent)
    cache = tmp_path / "cache" / "article-assistant" / "code-versions.json"
    assert first in cache.read_text()
    assert source_version("*.py", root=code.parent) == first
    cache.write_text("{not json")  # a damaged cache is worked around
    assert source_version("*.py", root=code.parent) == first
    code.write_text("LIMIT = 2\n")  # same size, same second: the bytes tell them apart
    assert source_version("*.py", root=code.parent) != first


def test_a_docstring_comment_or_layout_edit_keeps_the_code_version(tmp_path: Path) -> None:
    """Cached work (indexed chunks, eval answers) is redone only when behaviour can change."""
    from assistant.code_version import source_version

    code = tmp_path / "stage.py"
    code.write_text('"""Old words."""\n\ndef f(x):\n    """Doc."""\n    return x + 1\n')
    before = source_version("*.py", root=tmp_path)
    code.write_text('"""New words,\nlonger."""\n# a comment\ndef f( x ):  # why\n'
                    '    """Other doc."""\n\n    return (x + 1)\n')
    assert source_version("*.py", root=tmp_path) == before
    # A function that is only a docstring still differs from one that returns something.
    code.write_text('def f(x):\n    """Doc."""\n')
    assert source_version("*.py", root=tmp_path) != before
    for changed in ("return x + 2", "return x - 1", "return f(x)"):
        code.write_text(f'"""Old words."""\n\ndef f(x):\n    """Doc."""\n    {changed}\n')
        assert source_version("*.py", root=tmp_path) != before, changed
    # A string that is not a docstring is behaviour.
    code.write_text('"""Old words."""\n\ndef f(x):\n    """Doc."""\n    "x"\n    return x + 1\n')
    assert source_version("*.py", root=tmp_path) != before


def test_a_follow_ups_own_words_are_searched_beside_the_question_it_follows(corpus_data_dir):
    """Searched only as "earlier question + follow-up", the earlier question's words (the fine
    for prohibited practices) drown what is asked now; the follow-up's own words bring up the
    paragraph on misleading information (Article 99(5), EUR 7 500 000)."""
    from assistant.chat import ChatService
    from assistant.settings import Settings

    history = [
        {"role": "user", "content": "What's the maximum fine for prohibited AI practices under "
                                    "the AI Act?"},
        {"role": "assistant", "content": "Up to EUR 35 000 000 [1]."},
    ]
    question = "What about supplying misleading information to the authorities?"

    def found(weight: float) -> list[str]:
        service = ChatService(Settings(data_dir=corpus_data_dir, followup_weight=weight))
        turn = service.prepare(question, history)
        assert turn.earlier == history[0]["content"]
        # Eight passages: under relative score fusion the paragraph is sixth for this wording.
        retrieval = service.search(turn, top_k=8)
        assert retrieval.query == turn.standalone
        return [p.text for p in retrieval.passages]

    assert any("7 500 000" in text for text in found(0.45))
    assert not any("7 500 000" in text for text in found(0.0))
