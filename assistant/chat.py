"""The conversation service: validate the question, make follow-ups standalone, retrieve, answer.

CLI, UI, eval and bench all go through this one service.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from assistant.answer import overview
from assistant.answer.generate import AnswerOptions, AnswerResult, generate
from assistant.answer.summary_cache import BulletCache
from assistant.code_version import source_version
from assistant.embeddings import get_embedder
from assistant.errors import AssistantError, BadQuestion, ConfigError
from assistant.events import (
    Answered,
    Event,
    ModelStart,
    Piece,
    Progress,
    Searched,
    answer_events,
    drain,
    final,
)
from assistant.models.base import ChatModel, Message
from assistant.models.registry import get_model
from assistant.prompts import PromptLibrary
from assistant.retrieve.hybrid import HybridRetriever, Retrieval
from assistant.retrieve.units import Unit
from assistant.settings import Settings
from assistant.store.chroma import Store, open_store, store_identity

if TYPE_CHECKING:
    from assistant.ingest.corpus_service import CorpusService

log = logging.getLogger(__name__)


_REFERRING = re.compile(
    r"\b(it|its|it's|they|them|their|that|this|those|these|he|she|his|her|him|the other|"
    r"what about|how about|and the|same|there|then|also|why|such|the former|the latter|"
    r"the (first|second|third|last|other) one)\b",
    re.IGNORECASE,
)
# A question that opens like this continues the conversation ("And for deepfakes?", "So can I?").
_CONTINUING = re.compile(r"^\W*(and|but|or|so|also|plus|then|what about|how about)\b",
                         re.IGNORECASE)


def clean_question(text: str, max_chars: int) -> str:
    """Normalise a question or refuse it with a message that says what to do."""
    if text is None or not str(text).strip():
        raise BadQuestion("The question is empty", "type a question about the documents")
    text = unicodedata.normalize("NFKC", str(text))
    # Control characters (other than newlines and tabs) are noise from pasted text; drop them.
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise BadQuestion("The question has no readable characters", "type it again as text")
    if len(text) > max_chars:
        raise BadQuestion(
            f"The question is {len(text):,} characters long; the limit is {max_chars:,}",
            "ask a shorter question, or add the text as a document with `assistant ingest FILE`",
        )
    return text


def last_user_question(history: list[Message]) -> str:
    for m in reversed(history):
        if m.get("role") == "user" and m.get("content", "").strip():
            return m["content"].strip()
    return ""


def looks_like_followup(question: str) -> bool:
    return (bool(_REFERRING.search(question)) or bool(_CONTINUING.match(question))
            or len(question.split()) <= 5)


def followed_question(question: str, history: list[Message]) -> str:
    """The earlier question this one follows up, or "" when it stands on its own: a new,
    self-contained question is neither searched nor answered as a continuation."""
    earlier = last_user_question(history)
    return earlier if earlier and looks_like_followup(question) else ""


def history_query(question: str, history: list[Message]) -> str:
    """Cheap standalone query: a follow-up is searched together with the question it follows."""
    earlier = followed_question(question, history)
    return f"{earlier} {question}" if earlier else question


# A comparison answers with at most this many models (each one after the other).
MAX_COMPARE = 3


@dataclass
class Turn:
    question: str
    # The main search query, and the one searched beside it at `followup_weight` ("" for none).
    standalone: str
    # The earlier question the model is told this one follows ("" when it stands on its own).
    earlier: str
    focus: str = ""


class ChatService:
    def __init__(self, settings: Settings, open_now: bool = True) -> None:
        """`open_now=False` leaves the store closed until something needs it (`store`, `open`):
        the UI serves its page first and opens the store on a thread after (ui/app.py launch).
        Otherwise a damaged or mismatched store is refused here, before any question."""
        self.settings = settings
        self.embedder = get_embedder(settings.embedder)
        self._open_lock = threading.Lock()
        self._store: Store | None = None
        self._retriever: HybridRetriever | None = None
        if open_now:
            self.open()
        self.prompts = PromptLibrary(settings.prompts_dir)
        # Overview bullets already written, per model and passage (answer/summary_cache.py).
        self.bullets = BulletCache(settings.data_dir / "overviews" / "bullets.json")
        # Read once: the code does not change under a running service.
        self.code_versions = {
            # Follow-up handling lives here in chat.py, so it belongs to retrieval's version.
            "retrieval_code": source_version("retrieve/*.py", "chat.py"),
            # How a prompt reaches the model (chat template, stop words) shapes the answer too.
            "answer_code": source_version("answer/*.py", "answer/checks/*.py",
                                          "ingest/injection.py", "models/base.py",
                                          "models/backends.py", "sentences.py"),
        }
        self.options()  # an unknown check name fails here, before any question

    def open(self) -> HybridRetriever:
        """Open the store (checked against this embedder and chunking) and its retriever, once;
        threads that ask at the same time wait for the one opening."""
        with self._open_lock:
            if self._retriever is None:
                store = open_store(self.settings, self.embedder)
                self._retriever = HybridRetriever(store, self.embedder, self.settings)
                self._store = store
            return self._retriever

    @property
    def store(self) -> Store:
        self.open()
        assert self._store is not None
        return self._store

    @property
    def retriever(self) -> HybridRetriever:
        return self._retriever or self.open()

    @cached_property
    def corpus(self) -> CorpusService:
        """What the corpus holds (list, add, import, remove, re-index, rebuild), as the UI's
        Corpus tab changes it; a change drops the retriever's in-memory index at once. Loaded
        on first use: answering does not need the ingest code."""
        from assistant.ingest.corpus_service import CorpusService

        return CorpusService(self.settings, self.store, on_change=self.retriever.invalidate)

    def warm(self) -> None:
        """Open the store and load the embedder, the BM25 table and the default model before the
        first question (a server calls it on a thread at start). Not fatal: the first question
        reports it."""
        try:
            self.retrieve("warm up", top_k=1)
            self.model()
        except AssistantError as e:
            log.warning("could not warm up: %s", e)

    def model(self, spec: str | None = None) -> ChatModel:
        return get_model(spec or self.settings.model, self.settings)

    def stamp(self, model: str) -> dict[str, str]:
        ident = store_identity(self.settings, self.embedder)
        return {
            "model": model,
            "embedder": ident["embedder"],
            "chunking": ident["chunking"],
            "prompt_version": self.prompts.version("answer", "question", "retry", "overview",
                                                   "shorten"),
            **self.code_versions,
            # The hash the retriever searched, not a fresh store read on every answer.
            "corpus_hash": self.retriever.corpus_hash,
        }

    def prepare(
        self, question: str, history: list[Message] | None = None, model: ChatModel | None = None
    ) -> Turn:
        """Every turn with history is searched both ways: by its own words and together with the
        question before it. Which of the two leads depends on whether it reads as a follow-up
        (it refers back, opens with "And ...", or is short); the other is searched beside it at
        `followup_weight`, so a follow-up that was not recognised still finds what the
        conversation is about, and a fresh question is not drowned by the last one's words."""
        question = clean_question(question, self.settings.max_question_chars)
        history = history or []
        before = last_user_question(history)
        mode = self.settings.retrieval.rewrite_followups
        if not before or mode == "off":
            return Turn(question, question, "")
        together = f"{before} {question}"
        if not looks_like_followup(question):
            return Turn(question, question, "", focus=together)
        if mode == "llm" and model is not None:
            together = self._llm_rewrite(question, history, model)
        return Turn(question, together, before, focus=question)

    def _llm_rewrite(self, question: str, history: list[Message], model: ChatModel) -> str:
        lines = "\n".join(f"{m['role']}: {m['content'][:300]}" for m in history[-4:])
        prompt = self.prompts.get("rewrite").render(history=lines, question=question)
        text = model.complete([{"role": "user", "content": prompt}], max_tokens=48)
        text = text.strip().split("\n")[0].strip().strip('"')
        return text if 3 <= len(text) <= 300 else history_query(question, history)

    def scope(self, docs: Sequence[str] = (), publishers: Sequence[str] = ()) -> list[str]:
        """The doc ids a question is limited to: the documents named, plus every document of
        the publishers named; [] means the whole corpus. An unknown name is refused with the
        valid ones, since a typo would otherwise search nothing and abstain."""
        docs = [d.strip() for d in docs if d and d.strip()]
        publishers = [p.strip() for p in publishers if p and p.strip()]
        if not docs and not publishers:
            return []
        records = self.store.doc_records()
        unknown = [d for d in docs if d not in records]
        if unknown:
            raise BadQuestion(
                f"No document {', '.join(map(repr, unknown))} in the index",
                "valid doc ids: " + ", ".join(sorted(records)) if records
                else "the index is empty: add documents with `assistant ingest`",
            )
        by_publisher: dict[str, list[str]] = {}
        for r in records.values():
            by_publisher.setdefault(r.meta.get("publisher", "").casefold(), []).append(r.doc_id)
        scope = set(docs)
        for name in publishers:
            found = by_publisher.get(name.casefold())
            if not found:
                known = sorted({r.meta.get("publisher", "") for r in records.values()} - {""})
                raise BadQuestion(f"No document from the publisher {name!r} in the index",
                                  "publishers: " + "; ".join(known))
            scope.update(found)
        return sorted(scope)

    def retrieve(self, query: str, top_k: int | None = None, hybrid: bool | None = None,
                 focus: str = "", docs: Sequence[str] = ()) -> Retrieval:
        return self.retriever.retrieve(query, top_k=top_k, hybrid=hybrid, focus=focus, docs=docs)

    def unit(self, turn: Turn, docs: Sequence[str] = ()) -> Unit | None:
        """The document or provision the turn is about (retrieve/units.py): named by the
        question, or else by the question a follow-up continues; within `docs`, that scope."""
        unit = self.retriever.unit(turn.question, docs)
        if turn.earlier and (unit is None or unit.how == "scope"):
            unit = self.retriever.unit(turn.standalone, docs) or unit
        return unit

    def search(self, turn: Turn, top_k: int | None = None, hybrid: bool | None = None,
               docs: Sequence[str] = ()) -> Retrieval:
        """Retrieve for a prepared turn: its `focus` (a follow-up's own words, or the
        conversation before a fresh question) is searched beside it, within the unit the
        question names (or the `docs` chosen)."""
        unit = self.unit(turn, docs)
        found = self.retrieve(turn.standalone, top_k, hybrid, turn.focus,
                              unit.docs if unit else docs)
        found.unit = unit
        return found

    def options(self, **overrides: float | int | None) -> AnswerOptions:
        return AnswerOptions.from_settings(self.settings.answer, **overrides)

    def stream(
        self,
        question: str,
        history: list[Message] | None = None,
        model_spec: str | None = None,
        top_k: int | None = None,
        hybrid: bool | None = None,
        temperature: float | None = None,
        docs: Sequence[str] = (),
        publishers: Sequence[str] = (),
    ) -> Generator[Event, None, None]:
        """Yield Searched as soon as the search is done (a UI shows the passages while the model
        reads them), then the answer's Pieces as it streams, then Answered (assistant/events.py:
        a consumer follows them with a Progress). A caller
        that stops early must close() the generator: it holds the model's lock while it runs.
        `docs` and `publishers` limit the question to those documents (see `scope`)."""
        scope = self.scope(docs, publishers)
        model = self.model(model_spec)
        started = time.perf_counter()
        turn = self.prepare(question, history, model)
        found = self.search(turn, top_k=top_k, hybrid=hybrid, docs=scope)
        retrieve_ms = (time.perf_counter() - started) * 1000
        yield Searched(found)
        yield from self.answer(model, turn, found, retrieve_ms,
                               self.options(temperature=temperature))

    def compare(
        self,
        question: str,
        specs: list[str],
        history: list[Message] | None = None,
        top_k: int | None = None,
        hybrid: bool | None = None,
        temperature: float | None = None,
        docs: Sequence[str] = (),
        publishers: Sequence[str] = (),
    ) -> Generator[Event, None, None]:
        """Answer one question with several models from the same passages: the question is
        prepared and retrieved once, then each model answers in turn (never two generations at
        once). Yields Searched, then for each model a ModelStart, its Pieces as it streams and
        its Answered; Comparison.of(question, progress) is what they add up to. The CLI and the
        UI both come here. `docs` and `publishers` scope it as in `stream`."""
        specs = list(dict.fromkeys(s.strip() for s in specs if s and s.strip()))
        if not 2 <= len(specs) <= MAX_COMPARE:
            raise ConfigError(
                f"A comparison needs 2 to {MAX_COMPARE} different models; got {len(specs)}",
                "name each model once, e.g. --compare llamacpp:qwen2.5-coder-0.5b "
                "--compare llamacpp:qwen2.5-coder-1.5b",
            )
        scope = self.scope(docs, publishers)
        # Every model is loaded (and so checked installed) before the first one answers.
        models = [self.model(s) for s in specs]
        started = time.perf_counter()
        turn = self.prepare(question, history, models[0])
        found = self.search(turn, top_k=top_k, hybrid=hybrid, docs=scope)
        retrieve_ms = (time.perf_counter() - started) * 1000
        yield Searched(found)
        for i, model in enumerate(models):
            yield ModelStart(model.label, i)
            yield from self.answer(model, turn, found, retrieve_ms,
                                   self.options(temperature=temperature))

    def answer(self, model: ChatModel, turn: Turn, found: Retrieval, retrieve_ms: float,
               options: AnswerOptions) -> Generator[Piece | Answered, None, None]:
        """Answer a searched turn (the chat, a comparison and the eval all come here): a lookup
        answers from the passages found; a question about a whole unit it names (a summary, a
        complete list) from the unit's own passages (answer/overview.py)."""
        kind = overview.mode(turn.question) if found.unit else None
        started = time.perf_counter()
        planned = self._plan(turn, found, kind, options) if kind else None
        # Reading the unit's passages is part of retrieval's time, as the answer's timings say.
        retrieve_ms += (time.perf_counter() - started) * 1000
        if planned and not planned.lookup and found.unit and kind:
            writer = overview.Writer(model, self.prompts, options, self.embedder, self.bullets)
            answering = overview.answer(writer, turn.question, found.unit, planned, kind,
                                        found.passages, retrieve_ms)
        else:
            answering = generate(
                model, self.prompts, turn.question, found.passages, options,
                found.best_similarity, retrieve_ms=retrieve_ms, earlier_question=turn.earlier,
                embedder=self.embedder,
            )

        def finish(result: AnswerResult) -> None:
            # The answer stage knows the passages; what was searched, and how, is known here.
            result.standalone_query = turn.standalone
            result.scope = found.scope
            result.stamp = self.stamp(model.label)
            if found.unit and not result.unit:
                result.unit = found.unit.to_json()

        yield from answer_events(answering, finish)

    def _plan(self, turn: Turn, found: Retrieval, kind: overview.Mode, options: AnswerOptions
              ) -> overview.Plan:
        """The unit's passages an overview answer reads (answer/overview.py)."""
        assert found.unit is not None
        passages = self.retriever.unit_passages(found.unit, turn.standalone)
        best = found.passages[0].chunk_id if found.passages else ""
        return overview.plan(turn.question, found.unit, passages, best, kind,
                             options.overview_max_passages, self.retriever.doc_meta(),
                             self.embedder)

    def ask(self, question: str, history: list[Message] | None = None,
            model_spec: str | None = None, **kw: Any) -> AnswerResult:
        return final(self.stream(question, history, model_spec, **kw))

    def compare_all(self, question: str, specs: list[str], history: list[Message] | None = None,
                    **kw: Any) -> Comparison:
        return Comparison.of(question, drain(self.compare(question, specs, history, **kw)))


@dataclass
class Comparison:
    """Several models' answers to one question from the same retrieved passages."""

    question: str
    standalone_query: str
    results: list[AnswerResult]
    total_ms: float = 0.0

    @classmethod
    def of(cls, question: str, progress: Progress) -> Comparison:
        """What a comparison's stream (ChatService.compare) added up to, so far."""
        return cls(question, progress.query, list(progress.results), progress.elapsed_ms())

    def to_json(self) -> dict[str, Any]:
        """One record per model (each the answer's one record), and the shared retrieval."""
        first = self.results[0] if self.results else None
        return {
            "question": self.question,
            "standalone_query": self.standalone_query,
            "models": [r.model for r in self.results],
            "answers": [r.to_json() for r in self.results],
            "retrieve_ms": first.timings.get("retrieve_ms", 0.0) if first else 0.0,
            "total_ms": self.total_ms,
        }
