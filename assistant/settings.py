"""One typed settings object, built once by the entry point and passed in.

Precedence: defaults < settings file (TOML) < ASSISTANT_* environment < CLI flags.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from assistant.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "article-assistant"


def _comma_list(v: Any) -> Any:
    # From the environment a comma-separated list reads more naturally than JSON.
    if isinstance(v, str):
        return [p.strip() for p in v.split(",") if p.strip()]
    return v


class RetrievalSettings(BaseModel):
    """Everything that decides which passages a question gets; the eval keys its frozen
    retrieval on a hash of this whole section."""

    model_config = ConfigDict(extra="forbid")

    top_k: int = Field(default=4, ge=1, le=20, description="Passages given to the model.")
    candidates: int = Field(
        default=50, ge=5, le=200, description="Candidates taken from each of BM25 and vectors."
    )
    hybrid: bool = Field(default=True, description="Fuse BM25 with vector search (else vectors).")
    fusion: Literal["rrf", "relative"] = Field(
        default="relative",
        description="How the rankings are fused: reciprocal rank ('rrf', by rank only) or "
        "relative score ('relative': each search's scores scaled to 0..1 and summed by weight, "
        "so a hit one search finds far ahead of the rest can win on its own).",
    )
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal rank fusion constant.")
    bm25_weight: float = Field(
        default=1.0, ge=0.0, description="Weight of BM25 against vectors in fusion."
    )
    reference_weight: float = Field(
        default=3.0, ge=0.0,
        description="Weight in fusion of the chunks whose locator holds a provision the question "
        "names (\"Article 53(2)\", \"Section 1.b.ii\"); 0 turns this off.",
    )
    followup_weight: float = Field(
        default=0.45, ge=0.0,
        description="Weight in fusion of a follow-up's own words, searched beside the earlier "
        "question + follow-up; 0 turns this off.",
    )
    max_per_doc: int = Field(
        default=4, ge=1, description="At most this many passages from one document in the top-k."
    )
    rewrite_followups: Literal["history", "llm", "off"] = Field(
        default="history",
        description="How follow-ups become a standalone search query: prepend the previous "
        "question ('history', instant), ask the model ('llm'), or not at all.",
    )


class AnswerSettings(BaseModel):
    """How an answer is generated and which named checks (assistant/answer/checks/) judge it."""

    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    max_answer_tokens: int = Field(
        default=224, ge=16, le=2048,
        description="Answer length cap; an answer that reaches it is flagged cut_off.",
    )
    prompt_budget_tokens: int = Field(
        default=800,
        ge=200,
        description="Most prompt tokens per answer; passages are trimmed by rank to fit.",
    )
    retry_declined: bool = Field(
        default=True,
        description="When the model declines although relevant passages were found, ask once "
        "more with a prompt that says the answer is there; the support check still applies.",
    )
    yes_no_evidence_first: bool = Field(
        default=True,
        description="A yes/no question's answer opens with the passage sentence that decides "
        "it, quoted and cited, and the model's words follow without their own Yes or No (small "
        "models' Yes/No was measured no better than chance); off, the model's answer as it is.",
    )
    quote_threshold: float = Field(
        default=1.0, ge=0.0,
        description="When the model declines twice although relevant passages were found, quote "
        "the passage sentence that best matches the question if its score (cosine similarity "
        "plus half the share of the question's words it holds) reaches this; 0 turns it off.",
    )
    overview_max_passages: int = Field(
        default=24, ge=2, le=200,
        description="Most passages an overview answer (a summary, a complete list) reads; a "
        "longer unit narrows to the section the question lands in (answer/overview.py).",
    )
    disabled_checks: list[str] = Field(
        default_factory=list,
        description="Answer checks turned off, by name (`assistant eval --without NAME` "
        "measures one); the names are listed in assistant/answer/checks/.",
    )
    min_relevance: float = Field(
        default=0.22,
        ge=-1.0,
        le=1.0,
        description="Check no_relevant_passages: abstain without asking the model when the best "
        "passage's cosine similarity to the question is below this.",
    )
    support_threshold: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="Check unsupported: share of a sentence's content words its passage must "
        "hold for the sentence to count as supported.",
    )

    injections: Literal["remove", "fence", "off"] = Field(
        default="remove",
        description="What the prompt does with a passage sentence that gives the assistant "
        "orders (assistant/ingest/injection.py): replace it with a note, fence it as quoted "
        "document text, or leave it (off; only to measure what the others are worth).",
    )

    _split_disabled = field_validator("disabled_checks", mode="before")(_comma_list)


# Where each pre-section flat name now lives.
_SECTION_OF = {
    **{name: "retrieval" for name in RetrievalSettings.model_fields},
    **{name: "answer" for name in AnswerSettings.model_fields},
}


def _nest_flat(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    flat = {k: v for k, v in data.items() if k in _SECTION_OF}
    if not flat:
        return data
    out = {k: v for k, v in data.items() if k not in flat}
    for name, value in flat.items():
        section = out.get(_SECTION_OF[name])
        section = section.model_dump() if isinstance(section, BaseModel) else dict(section or {})
        # A value given in the section itself wins over the flat name.
        section.setdefault(name, value)
        out[_SECTION_OF[name]] = section
    return out


def _legacy_env() -> dict[str, str]:
    """ASSISTANT_TOP_K and the like, from before the sections, read as their new homes."""
    return {
        name: os.environ[f"ASSISTANT_{name.upper()}"]
        for name in _SECTION_OF if f"ASSISTANT_{name.upper()}" in os.environ
    }


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", extra="forbid", enable_decoding=False,
        env_nested_delimiter="__",
    )

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where the vector store, assembled models and chat history live (outside git).",
    )
    corpus_manifest: Path = Field(
        default=REPO_ROOT / "index" / "sources.toml",
        description="The manifest of the shipped corpus (doc ids, metadata, files, sha256).",
    )
    prompts_dir: Path = Field(
        default=REPO_ROOT / "prompts", description="Folder of prompt templates, loaded by name."
    )
    collection: str = Field(default="default", description="Name of the corpus collection to use.")
    chroma_url: str | None = Field(
        default=None,
        description="Use a Chroma server (http://host:port) instead of the embedded store. "
        "CHROMA_HOST/CHROMA_PORT are honoured too.",
    )
    embedder: Literal["minilm"] = Field(
        default="minilm", description="Embedding model; the bundled all-MiniLM-L6-v2 runs offline."
    )
    chunk_tokens: int = Field(
        default=180,
        ge=32,
        le=250,
        description="Target chunk size in the embedder's word pieces; MiniLM reads at most 256.",
    )
    chunk_overlap_tokens: int = Field(
        default=30, ge=0, le=120, description="Word pieces repeated between neighbouring chunks."
    )
    model: str = Field(
        default="llamacpp:qwen2.5-coder-0.5b",
        description="Model spec: llamacpp:<catalog-name|path.gguf>, ollama:<model>, "
        "openai:<base-url>#<model>.",
    )
    ollama_host: str = Field(
        default_factory=lambda: os.environ.get("OLLAMA_HOST", "http://127.0.0.1:11434"),
        description="Ollama server address (OLLAMA_HOST).",
    )
    openai_api_key: str = Field(
        default_factory=lambda: os.environ.get("OPENAI_API_KEY", "not-needed"),
        description="API key sent to OpenAI-compatible servers (OPENAI_API_KEY); never logged.",
    )
    openai_endpoints: list[str] = Field(
        default_factory=list,
        description="OpenAI-compatible endpoints offered in the UI's model picker "
        "(each 'openai:<base-url>#<model>').",
    )
    context_window: int = Field(
        default=2048, ge=512, description="Context the model is loaded with (n_ctx / num_ctx)."
    )
    threads: int = Field(
        default_factory=lambda: max(1, os.cpu_count() or 1),
        description="CPU threads for llama.cpp.",
    )
    request_timeout_s: float = Field(
        default=120.0, gt=0, description="Timeout for remote model servers."
    )
    max_question_chars: int = Field(
        default=4000, ge=10, description="Longest question accepted, in characters."
    )
    max_file_mb: float = Field(default=25.0, gt=0, description="Largest file ingested, in MB.")
    retrieval: RetrievalSettings = Field(
        default_factory=lambda: RetrievalSettings(),
        description="How passages are found (ASSISTANT_RETRIEVAL__<FIELD>).",
    )
    answer: AnswerSettings = Field(
        default_factory=lambda: AnswerSettings(),
        description="How an answer is written and checked (ASSISTANT_ANSWER__<FIELD>).",
    )

    @model_validator(mode="before")
    @classmethod
    def _sectioned(cls, data: Any) -> Any:
        # Flat names from before the sections ("top_k", ASSISTANT_TOP_K) still work.
        return _nest_flat(data)

    _endpoints = field_validator("openai_endpoints", mode="before")(_comma_list)

    def __init__(self, _toml_file: Path | None = None, **values: Any) -> None:
        type(self)._toml_path = _toml_file
        super().__init__(**values)

    _toml_path: ClassVar[Path | None] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls._toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls._toml_path))
        return tuple(sources)

    @field_validator("chroma_url")
    @classmethod
    def _chroma_url(cls, v: str | None) -> str | None:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def uploads_dir(self) -> Path:
        """Files added through the UI, kept so a re-index or a rebuild reads them again (files
        named to `assistant ingest PATH` are read where they are)."""
        return self.data_dir / "uploads"

    @property
    def web_cache_dir(self) -> Path:
        """Pages fetched by URL import, so a rebuild re-reads them offline."""
        return self.data_dir / "web-cache"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def history_db(self) -> Path:
        return self.data_dir / "conversations.sqlite3"

    def resolved_chroma_url(self) -> str | None:
        if self.chroma_url:
            return self.chroma_url
        host = os.environ.get("CHROMA_HOST")
        if host:
            port = os.environ.get("CHROMA_PORT", "8000")
            return host if host.startswith("http") else f"http://{host}:{port}"
        return None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Defaults < TOML file < ASSISTANT_* env < overrides (CLI flags; None means 'not given')."""
    path = config_file or (
        Path(os.environ["ASSISTANT_CONFIG"]) if os.environ.get("ASSISTANT_CONFIG") else None
    )
    if path is not None:
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ConfigError(f"Settings file {path} not found", "check --config") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"Settings file {path} is not valid TOML: {e}") from e
    given = {k: v for k, v in overrides.items() if v is not None}
    for name, value in _legacy_env().items():
        section = _SECTION_OF[name]
        if f"ASSISTANT_{section.upper()}__{name.upper()}" not in os.environ:
            given.setdefault(name, value)
    given = _nest_flat(given)
    try:
        return Settings(_toml_file=path, **given)  # type: ignore[call-arg]
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        raise ConfigError(f"Invalid settings: {problems}", "fix the values named above") from e
