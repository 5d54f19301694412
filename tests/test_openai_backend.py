"""The openai: backend against a real OpenAI-compatible server: llama-cpp-python's own server
serving the bundled SmolLM2 GGUF on loopback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from assistant.errors import BackendUnavailable
from assistant.models import catalog, registry
from assistant.models.base import GenerationStats
from assistant.settings import load_settings
from tests.helpers import free_port, wait_until_answers

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    models_dir = tmp_path_factory.mktemp("models")
    gguf = catalog.ensure_model(models_dir, "smollm2-135m", progress=False)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--model_alias", "smollm2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/v1"
    if not wait_until_answers(f"{base}/models", 90, proc, every_s=0.5):
        proc.kill()
        pytest.fail("llama_cpp.server did not start within 90 s")
    yield base
    proc.terminate()
    proc.wait(timeout=20)


def test_streams_an_answer_from_a_real_server(server, tmp_path):
    registry.unload_all()
    settings = load_settings(data_dir=tmp_path)
    model = registry.get_model(f"openai:{server}#smollm2", settings)
    pieces = list(model.stream([{"role": "user", "content": "Say hello."}], 16, 0.0))
    assert len(pieces) >= 2, "the answer arrives in several streamed pieces"
    assert "".join(pieces).strip()


def test_an_answer_stopped_at_max_tokens_is_flagged_cut_off(server, tmp_path):
    registry.unload_all()
    settings = load_settings(data_dir=tmp_path)
    model = registry.get_model(f"openai:{server}#smollm2", settings)
    cut, whole = GenerationStats(), GenerationStats()
    list(model.stream([{"role": "user", "content": "Count from one to fifty."}], 4, 0.0, cut))
    list(model.stream([{"role": "user", "content": "What is 2+2? Answer with the number only."}],
                      32, 0.0, whole))
    assert cut.cut_off and not whole.cut_off


def test_unreachable_server_is_a_clear_error(tmp_path):
    registry.unload_all()
    settings = load_settings(data_dir=tmp_path, request_timeout_s=5)
    model = registry.get_model(f"openai:http://127.0.0.1:{free_port()}/v1#x", settings)
    with pytest.raises(BackendUnavailable, match="not answering"):
        list(model.stream([{"role": "user", "content": "hi"}], 8, 0.0))
