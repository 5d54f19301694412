"""The OpenAI-compatible API: request parsing, auth and the answer's text with exact values; then a
real `assistant serve` subprocess (the real index, SmolLM2 through llama.cpp) driven by the
official openai client, streaming included."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.answer.generate import AnswerOptions, AnswerResult, generate
from assistant.errors import ConfigError
from assistant.events import Piece, answer_events
from assistant.openai_api import (
    _END,
    ApiError,
    EngineRun,
    answer_text,
    parse_request,
    pieces,
)
from assistant.server_access import ApiAuth, check_api_serving
from tests.fakes import FakeChatModel
from tests.helpers import TEST_MODEL, free_port, wait_until_answers
from tests.test_generate import PASSAGES, PROMPTS

REPO = Path(__file__).resolve().parents[1]
QUESTION = "Which CEO joined Mark Zuckerberg in the joint statement on EU AI rules?"
CITATION_KEYS = {"n", "doc_id", "title", "url", "locator", "text", "supported"}


# -- pure parts ---------------------------------------------------------------------------------


def test_auth_takes_a_bearer_key_or_user_password() -> None:
    key = ApiAuth.parse("k3y")
    assert key is not None and not key.basic
    assert key.allows("Bearer k3y") and key.allows("bearer  k3y ")
    assert not key.allows("Bearer k3y2") and not key.allows(None) and not key.allows("k3y")
    assert not key.allows("Basic " + base64.b64encode(b"u:k3y").decode())
    pair = ApiAuth.parse("me:secret")
    assert pair is not None and pair.basic
    assert pair.allows("Bearer me:secret")
    assert pair.allows("Basic " + base64.b64encode(b"me:secret").decode())
    assert not pair.allows("Basic " + base64.b64encode(b"me:wrong").decode())
    assert not pair.allows("Basic not-base64!")
    assert ApiAuth.parse(None) is None and ApiAuth.parse("") is None
    for bad in ("two words", ":secret", "me:"):
        with pytest.raises(ConfigError, match="user:password"):
            ApiAuth.parse(bad)


def test_api_beyond_loopback_needs_auth() -> None:
    with pytest.raises(ConfigError, match="--auth") as err:
        check_api_serving("0.0.0.0", None)
    assert "ASSISTANT_SERVE_AUTH" in str(err.value)
    assert check_api_serving("127.0.0.1", None) is None
    assert check_api_serving("::1", None) is None
    assert check_api_serving("10.0.0.5", "k3y") == ApiAuth("k3y")


def test_request_becomes_question_and_history() -> None:
    model, ask = parse_request({
        "model": TEST_MODEL, "temperature": 0.2, "top_k": 3, "stream": True,
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Who joined Zuckerberg?"},
            {"role": "assistant", "content": "Daniel Ek [1].\n\nSources:\n- [1] Article http://x"},
            {"role": "user", "content": [{"type": "text", "text": "And his "},
                                         {"type": "text", "text": "company?"}]},
        ],
    })
    assert model == TEST_MODEL
    assert ask.question == "And his company?"
    # The system prompt is not used; the sources this server appended are not history.
    assert ask.history == [{"role": "user", "content": "Who joined Zuckerberg?"},
                           {"role": "assistant", "content": "Daniel Ek [1]."}]
    assert (ask.stream, ask.temperature, ask.top_k) == (True, 0.2, 3)
    assert parse_request({"messages": [{"role": "user", "content": "q"}]})[0] is None


@pytest.mark.parametrize("body, param, says", [
    ({"messages": []}, "messages", "non-empty list"),
    ({"messages": [{"role": "user", "content": "q"}], "n": 2}, "n", "'n' must be 1"),
    ({"messages": [{"role": "user", "content": "q"}], "tools": [{"type": "function"}]}, "tools",
     "not supported"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
     "messages", "last message must be the user's question"),
    ({"messages": [{"role": "tool", "content": "q"}]}, "messages[0].role", "user, assistant"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
     "messages[0].content", "'image_url' part"),
    ({"messages": [{"role": "user", "content": "q"}], "top_k": 2.5}, "top_k", "whole number"),
    ({"messages": [{"role": "user", "content": "q"}], "temperature": 3}, "temperature", "0 to 2"),
    ({"messages": [{"role": "user", "content": "q"}], "model": 7}, "model", "GET /v1/models"),
    ({"messages": [{"role": "user", "content": "q"}],
      "response_format": {"type": "json_object"}}, "response_format", "text"),
])
def test_bad_requests_say_what_is_wrong(body: dict[str, Any], param: str, says: str) -> None:
    with pytest.raises(ApiError) as err:
        parse_request(body)
    assert err.value.status == 400
    assert err.value.body()["error"]["param"] == param
    assert says in err.value.body()["error"]["message"]


def answer(reply: str) -> AnswerResult:
    *_, result = generate(FakeChatModel.scripted(reply), PROMPTS, "Who joined Zuckerberg?",
                          PASSAGES, AnswerOptions(), 0.6)
    assert isinstance(result, AnswerResult)
    return result


def test_answer_text_keeps_markers_and_ends_with_its_sources() -> None:
    result = answer("Spotify CEO Daniel Ek joined Mark Zuckerberg [1].")
    assert answer_text(result) == (
        "Spotify CEO Daniel Ek joined Mark Zuckerberg [1].\n\nSources:\n"
        "- [1] Title article — Section 1 http://x")
    declined = answer("The documents do not say.")
    assert declined.abstained
    assert answer_text(declined) == declined.answer
    assert pieces("a b  c\nd e", 2) == ["a b  ", "c\nd ", "e"]


def test_a_stopped_run_closes_the_engine_at_its_next_piece() -> None:
    """The client went away while the model writes: the engine stops there, and the model's lock
    is free for the next request."""
    model = FakeChatModel.scripted(" ".join(["word"] * 100))
    model.gate, model.pause_after = threading.Event(), 2

    async def scenario() -> tuple[list[Any], list[Any]]:
        run = EngineRun(answer_events(generate(model, PROMPTS, "Who joined Zuckerberg?", PASSAGES,
                                               AnswerOptions(max_tokens=200), 0.6)),
                        asyncio.get_running_loop())
        first = [await run.get(), await run.get()]
        run.stop()
        assert model.gate is not None
        model.gate.set()
        rest = []
        while (item := await run.get()) is not _END:
            rest.append(item)
        assert run.join(timeout=60)
        return first, rest

    first, rest = asyncio.run(scenario())
    assert first == [Piece("word "), Piece("word ")]
    assert rest == []  # no further piece, and no answer
    assert model.yielded == 3  # the piece it was writing when stopped, then closed
    assert not model.lock.locked()


# -- a real server ------------------------------------------------------------------------------


@contextmanager
def serving(data_dir: Path, log: Path, *args: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "ASSISTANT_ANSWER__MAX_ANSWER_TOKENS": "64",
           "ASSISTANT_RETRIEVAL__TOP_K": "3"}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "serve", "--data-dir", str(data_dir),
             "--model", TEST_MODEL, "--port", str(port), *args],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            assert wait_until_answers(f"{base}/v1/models", 300, proc), log.read_text()
            yield base
        finally:
            proc.terminate()
            proc.wait(60)


@pytest.fixture(scope="module")
def server(corpus_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(corpus_data_dir, tmp_path_factory.mktemp("serve") / "serve.log") as base:
        yield base


def client(base: str, key: str = "none") -> Any:
    from openai import OpenAI

    return OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=600)


def check_answer(text: str, extra: dict[str, Any]) -> None:
    """Whatever the model said: an abstention names its reason and cites nothing; an answer's
    text carries each citation's marker and ends with its sources."""
    record = extra["record"]
    assert extra["abstained"] == record["abstained"]
    assert text.startswith(record["answer"])
    if extra["abstained"]:
        assert extra["abstain_reason"] and extra["abstain_check"], extra
        assert extra["citations"] == []
        return
    assert extra["citations"], "an answer cites its passages"
    assert "\n\nSources:\n" in text
    for c in extra["citations"]:
        assert CITATION_KEYS <= c.keys()
        assert f"[{c['n']}]" in record["answer"]
        assert f"- [{c['n']}] {c['title']}" in text.split("\n\nSources:\n")[1]
    retrieved = {r["chunk_id"] for r in record["retrieved"]}
    assert {c["chunk_id"] for c in extra["citations"]} <= retrieved


slow = pytest.mark.slow


@slow
def test_models_lists_what_can_be_asked_for(server: str) -> None:
    ids = [m.id for m in client(server).models.list()]
    assert ids[0] == TEST_MODEL  # the configured default comes first
    assert len(ids) == len(set(ids))
    assert all(i.startswith(("llamacpp:", "ollama:", "openai:")) for i in ids)


@slow
def test_a_question_gets_a_cited_answer_or_an_abstention(server: str) -> None:
    done = client(server).chat.completions.create(
        model=TEST_MODEL, messages=[{"role": "user", "content": QUESTION}])
    assert done.object == "chat.completion" and done.model == TEST_MODEL
    (choice,) = done.choices
    assert choice.message.role == "assistant"
    assert choice.finish_reason in ("stop", "length")
    extra = done.model_extra or {}
    check_answer(choice.message.content or "", extra)
    assert done.usage is not None
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
    assert done.usage.completion_tokens == extra["record"]["completion_tokens"]
    assert "etcentric-meta-spotify-statement" in [r["doc_id"] for r in extra["record"]["retrieved"]]


@slow
def test_streaming_sends_the_checked_answer_then_its_citations(server: str) -> None:
    stream = client(server).chat.completions.create(
        model=TEST_MODEL, messages=[{"role": "user", "content": QUESTION}], stream=True)
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({c.id for c in chunks}) == 1 and chunks[0].model == TEST_MODEL
    *body, last = chunks
    assert all(c.choices[0].finish_reason is None for c in body)
    assert last.choices[0].finish_reason in ("stop", "length")
    assert last.usage is not None and last.usage.completion_tokens > 0
    text = "".join(c.choices[0].delta.content or "" for c in body)
    check_answer(text, last.model_extra or {})


@slow
def test_earlier_turns_are_the_follow_up_history(server: str) -> None:
    first = "Who joined Zuckerberg in the statement?"
    # Without "model" (the openai client always sends one): the server's default answers.
    done = httpx.post(f"{server}/v1/chat/completions", timeout=600, json={"messages": [
        {"role": "user", "content": first},
        {"role": "assistant", "content": "Daniel Ek [1].\n\nSources:\n- [1] Article http://x"},
        {"role": "user", "content": "And his company?"},
    ]})
    assert done.status_code == 200, done.text
    assert done.json()["model"] == TEST_MODEL
    record = done.json()["record"]
    assert record["question"] == "And his company?"
    assert record["standalone_query"] == f"{first} And his company?"


@slow
def test_bad_requests_get_openai_errors(server: str) -> None:
    import openai

    c = client(server)
    with pytest.raises(openai.BadRequestError) as err:
        c.chat.completions.create(model=TEST_MODEL, messages=[{"role": "user", "content": "  "}])
    assert err.value.status_code == 400
    assert err.value.body["message"].startswith("The question is empty - type a question")
    assert err.value.body["code"] == "bad_question"
    with pytest.raises(openai.BadRequestError, match="the limit is 4,000"):
        c.chat.completions.create(model=TEST_MODEL,
                                  messages=[{"role": "user", "content": "why " * 2000}])
    with pytest.raises(openai.BadRequestError, match="'n' must be 1"):
        c.chat.completions.create(model=TEST_MODEL, n=2,
                                  messages=[{"role": "user", "content": QUESTION}])
    for model in ("llamacpp:no-such-model", "llamacpp:/etc/hosts", "gpt-4o"):
        with pytest.raises(openai.NotFoundError) as missing:
            c.chat.completions.create(model=model, messages=[{"role": "user", "content": "q"}])
        assert missing.value.body["code"] == "model_not_found"
        assert TEST_MODEL in missing.value.body["message"]
    raw = httpx.post(f"{server}/v1/chat/completions", content=b"{not json", timeout=60)
    assert raw.status_code == 400
    assert set(raw.json()["error"]) == {"message", "type", "param", "code"}
    assert "not valid JSON" in raw.json()["error"]["message"]
    nowhere = httpx.get(f"{server}/v1/embeddings", timeout=60)
    assert nowhere.status_code == 404 and "POST /v1/chat/completions" in nowhere.text


@slow
def test_a_stream_dropped_midway_does_not_hold_up_the_next_request(server: str) -> None:
    body = {"model": TEST_MODEL, "stream": True,
            "messages": [{"role": "user", "content": "What did Zuckerberg and Ek criticize?"}]}
    with httpx.stream("POST", f"{server}/v1/chat/completions", json=body, timeout=600) as r:
        assert r.status_code == 200
        first = next(r.iter_lines())
        assert json.loads(first.removeprefix("data: "))["choices"][0]["delta"]["role"] == (
            "assistant")
    # Gone while the model writes; the next question is answered all the same.
    done = client(server).chat.completions.create(
        model=TEST_MODEL, messages=[{"role": "user", "content": QUESTION}])
    check_answer(done.choices[0].message.content or "", done.model_extra or {})


@slow
def test_auth_is_required_when_set(corpus_data_dir: Path, tmp_path: Path) -> None:
    import openai

    with serving(corpus_data_dir, tmp_path / "serve.log", "--auth", "me:secret") as base:
        assert [m.id for m in client(base, "me:secret").models.list()][0] == TEST_MODEL
        with pytest.raises(openai.AuthenticationError) as err:
            client(base, "me:wrong").models.list()
        assert err.value.body["code"] == "invalid_api_key"
        with pytest.raises(openai.AuthenticationError):
            client(base, "me:wrong").chat.completions.create(
                model=TEST_MODEL, messages=[{"role": "user", "content": QUESTION}])
        assert httpx.get(f"{base}/v1/models", auth=("me", "secret"), timeout=60).status_code == 200
        anonymous = httpx.get(f"{base}/v1/models", timeout=60)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Basic")


@slow
def test_serving_beyond_loopback_without_auth_is_refused_at_start(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "serve", "--data-dir", str(tmp_path),
         "--host", "0.0.0.0", "--port", str(free_port())],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert run.returncode == 2
    assert "Refusing to serve the API on 0.0.0.0" in run.stderr
    assert "--auth" in run.stderr and "Traceback" not in run.stderr
