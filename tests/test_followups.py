from pathlib import Path

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
    from assistant.chat import source_version

    (tmp_path / "answer").mkdir()
    code = tmp_path / "answer" / "check.py"
    code.write_text("LIMIT = 1\n")
    before = source_version("answer/*.py", root=tmp_path)
    assert source_version("answer/*.py", root=tmp_path) == before
    code.write_text("LIMIT = 2\n")
    assert source_version("answer/*.py", root=tmp_path) != before
    assert source_version("retrieve/*.py", root=tmp_path) != before
