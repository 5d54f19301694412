"""Model specs -> loaded chat models. Loaded models are kept warm and shared across requests."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import BackendUnavailable, ConfigError, ModelNotInstalled
from assistant.models import catalog
from assistant.models.backends import LlamaCppModel, OllamaModel, OpenAICompatModel
from assistant.models.base import ChatModel, ModelSpec, parse_spec
from assistant.settings import Settings

log = logging.getLogger(__name__)

Factory = Callable[[ModelSpec, Settings, bool], ChatModel]


def _llamacpp(spec: ModelSpec, settings: Settings, progress: bool) -> ChatModel:
    if spec.name.endswith(".gguf") or "/" in spec.name:
        path = Path(spec.name).expanduser()
        if not path.exists():
            raise ModelNotInstalled(f"No model file at {path}", "check the path to the .gguf file")
    else:
        # Raises with the pull command when the model is not installed.
        path = catalog.ensure_model(settings.models_dir, spec.name, progress=progress)
    return LlamaCppModel.load(spec, path, settings.context_window, settings.threads)


def _ollama(spec: ModelSpec, settings: Settings, progress: bool) -> ChatModel:
    return OllamaModel.connect(
        spec, settings.ollama_host, settings.context_window, settings.request_timeout_s
    )


def _openai(spec: ModelSpec, settings: Settings, progress: bool) -> ChatModel:
    return OpenAICompatModel.connect(
        spec, settings.openai_api_key, settings.context_window, settings.request_timeout_s
    )


FACTORIES: dict[str, Factory] = {"llamacpp": _llamacpp, "ollama": _ollama, "openai": _openai}

_loaded: dict[tuple[str, int], ChatModel] = {}
_load_lock = threading.Lock()


def get_model(spec_text: str, settings: Settings, progress: bool = True) -> ChatModel:
    spec = parse_spec(spec_text)
    if spec.backend not in FACTORIES:
        raise ConfigError(f"Unknown backend '{spec.backend}'", f"known: {', '.join(FACTORIES)}")
    key = (spec.text, settings.context_window)
    with _load_lock:
        if key not in _loaded:
            log.info("loading model %s", spec.text)
            _loaded[key] = FACTORIES[spec.backend](spec, settings, progress)
        return _loaded[key]


def unload_all() -> None:
    with _load_lock:
        _loaded.clear()


@dataclass(frozen=True)
class ModelChoice:
    spec: str
    installed: bool
    about: str
    # What the model takes on disk here: its GGUF, plus any copy of its packages in this
    # environment; 0 for models served elsewhere (Ollama, OpenAI-compatible servers).
    disk_bytes: int = 0
    # How to free the package copy, when the GGUF no longer needs it.
    cleanup: str = ""


def ollama_models(host: str, timeout: float = 2.0) -> list[str]:
    """Models pulled on the Ollama server (live); raises BackendUnavailable if it is down."""
    import ollama

    try:
        listing = ollama.Client(host=host, timeout=timeout).list()
    except Exception as e:
        raise BackendUnavailable(
            f"Ollama is not answering at {host}", "start it with `ollama serve` or set OLLAMA_HOST"
        ) from e
    return sorted(m.model for m in listing.models if m.model)


def available_models(settings: Settings, include_ollama: bool = True) -> list[ModelChoice]:
    choices = []
    for entry in catalog.CATALOG.values():
        installed = catalog.is_installed(settings.models_dir, entry)
        about = entry.about if installed else f"{entry.about} (not installed: {entry.pull_command})"
        choices.append(ModelChoice(
            f"llamacpp:{entry.name}", installed, about,
            disk_bytes=catalog.disk_use(settings.models_dir, entry).total_bytes,
            cleanup=catalog.leftover_hint(settings.models_dir, entry),
        ))
    if include_ollama:
        try:
            for name in ollama_models(settings.ollama_host):
                choices.append(
                    ModelChoice(f"ollama:{name}", True, f"Ollama at {settings.ollama_host}")
                )
        except BackendUnavailable:
            log.info("no Ollama server at %s", settings.ollama_host)
    for endpoint in settings.openai_endpoints:
        choices.append(ModelChoice(endpoint, True, "OpenAI-compatible endpoint"))
    return choices
