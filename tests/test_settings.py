import pytest

from assistant.errors import ConfigError
from assistant.models.base import parse_spec
from assistant.settings import load_settings


def test_precedence_defaults_file_env_flags(tmp_path, monkeypatch):
    cfg = tmp_path / "a.toml"
    cfg.write_text('top_k = 7\ncollection = "file"\nmodel = "ollama:from-file"\n')
    monkeypatch.setenv("ASSISTANT_COLLECTION", "env")
    monkeypatch.setenv("ASSISTANT_OPENAI_ENDPOINTS", "openai:http://a/v1#m1, openai:http://b/v1#m2")
    s = load_settings(cfg, model="llamacpp:smollm2-135m", data_dir=None)
    assert s.retrieval.top_k == 7  # file beats default
    assert s.collection == "env"  # env beats file
    assert s.model == "llamacpp:smollm2-135m"  # flag beats all
    assert s.openai_endpoints == ["openai:http://a/v1#m1", "openai:http://b/v1#m2"]


def test_all_bad_settings_are_reported_at_once(monkeypatch):
    monkeypatch.setenv("ASSISTANT_TOP_K", "0")
    with pytest.raises(ConfigError) as err:
        load_settings(chunk_tokens=999, chroma_url="localhost:8000")
    text = str(err.value)
    assert "top_k" in text and "chunk_tokens" in text and "chroma_url" in text


def test_chroma_host_env_is_honoured(monkeypatch):
    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", "8123")
    assert load_settings().resolved_chroma_url() == "http://127.0.0.1:8123"


def test_model_specs():
    assert parse_spec("llamacpp:qwen2.5-coder-0.5b").name == "qwen2.5-coder-0.5b"
    assert parse_spec("ollama:llama3.2:1b").name == "llama3.2:1b"
    spec = parse_spec("openai:http://127.0.0.1:8080/v1#local")
    assert (spec.backend, spec.base_url, spec.name) == (
        "openai",
        "http://127.0.0.1:8080/v1",
        "local",
    )
    for bad in ("gpt4", "llamacpp:", "openai:local", "vllm:x"):
        with pytest.raises(ConfigError, match="use llamacpp:|needs a base URL"):
            parse_spec(bad)


def test_sections_from_file_env_and_flags(tmp_path, monkeypatch):
    cfg = tmp_path / "a.toml"
    cfg.write_text('[retrieval]\ntop_k = 6\n[answer]\nsupport_threshold = 0.6\n')
    monkeypatch.setenv("ASSISTANT_ANSWER__DISABLED_CHECKS", "names_unmentioned, unsupported")
    monkeypatch.setenv("ASSISTANT_RETRIEVAL__BM25_WEIGHT", "2.5")
    s = load_settings(cfg, min_relevance=0.3)
    assert (s.retrieval.top_k, s.retrieval.bm25_weight) == (6, 2.5)
    assert s.answer.disabled_checks == ["names_unmentioned", "unsupported"]
    assert (s.answer.support_threshold, s.answer.min_relevance) == (0.6, 0.3)
    # The flat names from before the sections still reach their section.
    monkeypatch.setenv("ASSISTANT_MAX_ANSWER_TOKENS", "100")
    assert load_settings().answer.max_answer_tokens == 100
    # The nested name wins over the flat one.
    monkeypatch.setenv("ASSISTANT_ANSWER__MAX_ANSWER_TOKENS", "120")
    assert load_settings().answer.max_answer_tokens == 120


def test_an_unknown_answer_check_is_refused_with_the_valid_names():
    from assistant.answer import checks

    with pytest.raises(ConfigError, match="unsupportd") as err:
        checks.require_known(["unsupported", "unsupportd"])
    assert "names_unmentioned" in err.value.hint and "unsupported" in err.value.hint
    checks.require_known(["unsupported"])
