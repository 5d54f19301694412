"""The Ollama backend against a stub that speaks Ollama's HTTP API, and against a real server
when OLLAMA_HOST answers."""

from __future__ import annotations

import os
import urllib.request

import pytest

from assistant.errors import BackendUnavailable, ModelNotInstalled
from assistant.models import registry
from assistant.models.base import GenerationStats
from assistant.settings import load_settings
from tests.helpers import free_port
from tests.stubs.ollama_stub import OllamaStub

MESSAGES = [{"role": "system", "content": "Answer."}, {"role": "user", "content": "Who?"}]


@pytest.fixture(autouse=True)
def _fresh_registry():
    registry.unload_all()
    yield
    registry.unload_all()


def test_streams_and_always_sends_num_ctx(tmp_path):
    with OllamaStub(["llama3.2:1b"]) as stub:
        settings = load_settings(data_dir=tmp_path, ollama_host=stub.url, context_window=3072)
        model = registry.get_model("ollama:llama3.2:1b", settings)
        stats = GenerationStats()
        text = "".join(model.stream(MESSAGES, max_tokens=50, temperature=0.0, stats=stats))
        assert text == "Daniel Ek joined him [1]."
        sent = stub.requests[-1]["body"]
        assert sent["options"]["num_ctx"] == 3072
        assert sent["options"]["num_predict"] == 50
        assert sent["messages"][1] == {"role": "user", "content": "Who?"}
        assert stats.prompt_tokens == 321 and stats.exact_prompt_tokens
        assert not stats.cut_off


def test_an_answer_stopped_by_num_predict_is_flagged_cut_off(tmp_path):
    with OllamaStub(["llama3.2:1b"]) as stub:
        settings = load_settings(data_dir=tmp_path, ollama_host=stub.url)
        model = registry.get_model("ollama:llama3.2:1b", settings)
        stats = GenerationStats()
        text = "".join(model.stream(MESSAGES, max_tokens=2, temperature=0.0, stats=stats))
        assert text == "Daniel Ek" and stats.cut_off


def test_lists_pulled_models(tmp_path):
    with OllamaStub(["llama3.2:1b", "qwen2.5:0.5b"]) as stub:
        settings = load_settings(data_dir=tmp_path, ollama_host=stub.url)
        specs = [c.spec for c in registry.available_models(settings)]
        assert "ollama:llama3.2:1b" in specs and "ollama:qwen2.5:0.5b" in specs


def test_model_not_pulled_names_the_pull_command(tmp_path):
    with OllamaStub(["llama3.2:1b"]) as stub:
        settings = load_settings(data_dir=tmp_path, ollama_host=stub.url)
        model = registry.get_model("ollama:mistral", settings)
        with pytest.raises(ModelNotInstalled, match="ollama pull mistral"):
            "".join(model.stream(MESSAGES, 20, 0.0))


def test_server_not_running_says_how_to_start_it(tmp_path):
    settings = load_settings(data_dir=tmp_path, ollama_host=f"http://127.0.0.1:{free_port()}",
                             request_timeout_s=5)
    model = registry.get_model("ollama:llama3.2:1b", settings)
    with pytest.raises(BackendUnavailable) as err:
        "".join(model.stream(MESSAGES, 20, 0.0))
    assert "not answering" in str(err.value) and "ollama serve" in str(err.value)
    # Listing models with the server down is not an error: Ollama models are just absent.
    assert not [c for c in registry.available_models(settings) if c.spec.startswith("ollama:")]


def test_server_going_away_mid_answer_is_a_clear_error(tmp_path):
    with OllamaStub(["llama3.2:1b"], reply="one two three four five six") as stub:
        stub.die_after_chunks = 2
        settings = load_settings(data_dir=tmp_path, ollama_host=stub.url)
        model = registry.get_model("ollama:llama3.2:1b", settings)
        got: list[str] = []
        with pytest.raises(BackendUnavailable):
            for piece in model.stream(MESSAGES, 20, 0.0):
                got.append(piece)
        assert "".join(got) == "one two"


def _real_ollama() -> str | None:
    host = os.environ.get("OLLAMA_HOST")
    if not host:
        return None
    url = host if host.startswith("http") else f"http://{host}"
    try:
        with urllib.request.urlopen(f"{url}/api/tags", timeout=2):
            return url
    except OSError:
        return None


@pytest.mark.ollama
def test_real_ollama_server_when_one_answers(tmp_path):
    url = _real_ollama()
    if url is None:
        pytest.skip("no Ollama server answers at OLLAMA_HOST")
    settings = load_settings(data_dir=tmp_path, ollama_host=url)
    # Whatever the server has pulled: a model it lacks is named with the command that pulls it,
    # and (when it has any) its first model answers.
    missing = registry.get_model("ollama:assistant-test-no-such-model", settings)
    with pytest.raises(ModelNotInstalled, match="ollama pull assistant-test-no-such-model"):
        "".join(missing.stream([{"role": "user", "content": "Say OK."}], 8, 0.0))
    for name in registry.ollama_models(url)[:1]:
        model = registry.get_model(f"ollama:{name}", settings)
        text = "".join(model.stream([{"role": "user", "content": "Say OK."}], 8, 0.0))
        assert text.strip()
