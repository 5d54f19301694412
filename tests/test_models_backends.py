"""The backends' boundary: client-library errors become the engine's types by their type and status,
and a call's settings reach that call only (the real SmolLM2 through llama.cpp)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import httpx
import ollama
import openai
import pytest

from assistant.errors import (
    BackendUnavailable,
    ModelNotInstalled,
    ModelNotOnServer,
    PromptTooLong,
    ServerNotAnswering,
)
from assistant.models import registry
from assistant.models.backends import LlamaCppModel, ollama_error, openai_error
from assistant.models.base import GenerationStats, ModelSpec
from assistant.offline import OFFLINE_ENV
from assistant.settings import load_settings
from tests.helpers import REPO, TEST_MODEL

OLLAMA = ModelSpec("ollama", "mistral")
OPENAI = ModelSpec("openai", "qwen", "http://127.0.0.1:8080/v1")
REQUEST = httpx.Request("POST", "http://127.0.0.1:8080/v1/chat/completions")


def _status(code: int, body: dict[str, object]) -> openai.APIStatusError:
    response = httpx.Response(code, request=REQUEST, json={"error": body})
    cls = {400: openai.BadRequestError, 404: openai.NotFoundError}.get(code, openai.APIStatusError)
    return cls(str(body.get("message", "")), response=response, body=body)


def test_ollama_errors_are_told_apart_by_type_and_status():
    host = "http://127.0.0.1:11434"
    refused = ollama_error(httpx.ConnectError("[Errno 111] refused"), host, OLLAMA)
    assert isinstance(refused, ServerNotAnswering) and "ollama serve" in str(refused)
    # What the client raises for a refused connection outside a stream.
    assert isinstance(ollama_error(ConnectionError("x"), host, OLLAMA), ServerNotAnswering)
    cut = ollama_error(httpx.RemoteProtocolError("incomplete chunked read"), host, OLLAMA)
    assert isinstance(cut, ServerNotAnswering)
    missing = ollama_error(ollama.ResponseError("model 'mistral' not found", 404), host, OLLAMA)
    assert isinstance(missing, ModelNotOnServer) and isinstance(missing, ModelNotInstalled)
    assert "ollama pull mistral" in str(missing)
    # A message that merely mentions "not found" is not a missing model: the status decides.
    other = ollama_error(ollama.ResponseError("file not found on disk", 500), host, OLLAMA)
    assert type(other) is BackendUnavailable and "file not found on disk" in str(other)
    assert ollama_error(KeyError("message"), host, OLLAMA) is None  # a bug surfaces as it is


def test_openai_errors_are_told_apart_by_type_and_code():
    url = OPENAI.base_url
    refused = openai_error(openai.APIConnectionError(request=REQUEST), url, OPENAI)
    assert isinstance(refused, ServerNotAnswering) and "start the server" in str(refused)
    assert isinstance(openai_error(openai.APITimeoutError(REQUEST), url, OPENAI),
                      ServerNotAnswering)
    missing = openai_error(_status(404, {"message": "The model `qwen` does not exist",
                                         "code": "model_not_found"}), url, OPENAI)
    assert isinstance(missing, ModelNotOnServer) and "/v1/models" in str(missing)
    wrong_url = openai_error(_status(404, {"message": "Not Found"}), url, OPENAI)
    assert type(wrong_url) is BackendUnavailable and "ends in /v1" in str(wrong_url)
    too_long = openai_error(_status(400, {"message": "This model's maximum context length is "
                                          "2048 tokens", "code": "context_length_exceeded"}),
                            url, OPENAI)
    assert isinstance(too_long, PromptTooLong) and too_long.exit_code == 2
    failed = openai_error(_status(500, {"message": "boom"}), url, OPENAI)
    assert type(failed) is BackendUnavailable and "HTTP 500" in str(failed)
    assert openai_error(ValueError("a bug"), url, OPENAI) is None


@pytest.mark.slow
def test_llamacpp_settings_belong_to_their_call(tmp_path):
    registry.unload_all()
    model = registry.get_model(TEST_MODEL, load_settings(data_dir=tmp_path))
    assert isinstance(model, LlamaCppModel)
    msgs = [{"role": "user", "content": "Name three colours."}]
    model.forget_prompt()
    before = model.complete(msgs, 24)
    # The bench's completion LLM shares the weights, with settings of its own.
    with model.as_completion_llm(3) as llm, model.lock:
        assert llm.complete("Say hello.").raw["usage"]["completion_tokens"] <= 3
        assert llm.complete("Say hello.", max_tokens=6).raw["usage"]["completion_tokens"] > 3
    assert model.llm.generate_defaults["max_tokens"] == 256  # untouched by the calls above
    model.forget_prompt()
    assert model.complete(msgs, 24) == before

    # Two threads asking with different caps: each gets its own (the model's lock queues them).
    got: dict[int, GenerationStats] = {}

    def ask(cap: int) -> None:
        stats = GenerationStats()
        "".join(model.stream(msgs, cap, 0.0, stats))
        got[cap] = stats

    threads = [threading.Thread(target=ask, args=(cap,)) for cap in (2, 12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got[2].completion_tokens <= 2 and got[2].cut_off
    assert 2 < got[12].completion_tokens <= 12
    registry.unload_all()


@pytest.mark.slow
def test_llamacpp_prompt_longer_than_the_window_is_a_typed_error(tmp_path):
    registry.unload_all()
    model = registry.get_model(TEST_MODEL, load_settings(data_dir=tmp_path, context_window=512))
    with pytest.raises(PromptTooLong, match="context window") as err:
        model.complete([{"role": "user", "content": "word " * 800}], 8)
    assert "ASSISTANT_CONTEXT_WINDOW" in str(err.value)
    registry.unload_all()


@pytest.mark.slow
def test_llamacpp_answers_without_llama_index_and_offers_it_prompted_alike(tmp_path):
    """A new `assistant ask` does not wait for llama-index's import (seconds on 2 cores): the
    llama.cpp path calls llama_cpp itself; the llama-index LLM is made when something asks for
    it, and prompts exactly as the direct path does."""
    code = (
        "import sys\n"
        "from assistant.models.registry import get_model\n"
        "from assistant.settings import load_settings\n"
        f"model = get_model({TEST_MODEL!r}, load_settings(data_dir={str(tmp_path)!r}))\n"
        "model.complete([{'role': 'user', 'content': 'Say hello.'}], 4)\n"
        "print(any(n.split('.')[0] == 'llama_index' for n in sys.modules))\n"
        "model.llm\n"
        "print(any(n.split('.')[0] == 'llama_index' for n in sys.modules))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, **OFFLINE_ENV, "PYTHONPATH": str(REPO)}, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["False", "True"]

    from llama_index.core.llms import ChatMessage

    registry.unload_all()
    model = registry.get_model(TEST_MODEL, load_settings(data_dir=tmp_path))
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
    assert model.llm.messages_to_prompt([ChatMessage(**m) for m in msgs]) == model.format(msgs)
    assert "<|im_start|>user\nHi?" in model.format(msgs)  # SmolLM2's own (ChatML) template
    registry.unload_all()
