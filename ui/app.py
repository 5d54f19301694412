"""The Gradio front end: a thin shell over ChatService, the index and the eval runner.

`build_app` wires three tabs (Chat, Corpus, Evaluate) to the handlers in ui/chat.py,
ui/corpus.py and ui/evaluate.py; `launch` checks how it is served and starts it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import secrets
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from assistant.offline import apply_offline_env

apply_offline_env()  # before gradio and chromadb read it at import


@contextlib.contextmanager
def _without(module: str) -> Iterator[None]:
    """`module` taken for absent by what is imported inside, unless it was imported already."""
    hidden = module not in sys.modules
    if hidden:
        sys.modules[module] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if hidden and module in sys.modules and sys.modules[module] is None:
            del sys.modules[module]


# With the MCP SDK installed (for `assistant mcp`), Gradio imports it at its own import for
# `launch(mcp_server=True)`, which this UI does not use: 0.3-0.5 s of the UI's start. Hidden,
# Gradio takes it for absent, as it is built to.
with _without("mcp"):
    import gradio as gr  # noqa: E402

from assistant.chat import ChatService  # noqa: E402
from assistant.errors import AssistantError  # noqa: E402
from assistant.eval.questions import KINDS  # noqa: E402
from assistant.server_access import check_serving, is_loopback, parse_auth  # noqa: E402,F401
from assistant.settings import REPO_ROOT, Settings  # noqa: E402
from ui import a11y, corpus_url, sources_html  # noqa: E402
from ui.chat import STARTERS, ChatHandlers  # noqa: E402
from ui.corpus import COLUMNS, CorpusHandlers  # noqa: E402
from ui.evaluate import DEFAULT_QUESTIONS, EvalHandlers  # noqa: E402
from ui.history import ConversationStore  # noqa: E402
from ui.review import ReviewHandlers  # noqa: E402

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

# Several people can chat at once; generations still queue per model inside the engine (one
# llama.cpp context cannot run two), so more than a few concurrent chats only adds waiting.
CHAT_CONCURRENCY = 8
DEFAULT_CONCURRENCY = 4

CSS = """
/* Gradio 6.31 bundles only a 55-glyph subset as Source Sans Pro 600, so semibold text mixes
   fonts letter by letter ("A" from one, "rticle" from another). The full bold face it also
   ships stands in for 600 and 700; declared later, it wins over the theme's face. */
@font-face { font-family: "Source Sans Pro"; font-style: normal; font-weight: 600;
  src: url("static/fonts/SourceSansPro/SourceSansPro-Bold.woff2") format("woff2"); }
@font-face { font-family: "Source Sans Pro"; font-style: normal; font-weight: 700;
  src: url("static/fonts/SourceSansPro/SourceSansPro-Bold.woff2") format("woff2"); }
#sources { font-size: 0.92em; }
.sources-empty { color: var(--body-text-color-subdued); padding: 0.5em 0; }
.turn-sources { margin-bottom: 1.2em; }
.turn-sources h4 { margin: 0.2em 0 0.5em; font-size: 0.95em; font-weight: 700; }
#sources b, #sources strong { font-weight: 700; }
.turn-sources h4 .q { font-weight: normal; color: var(--body-text-color-subdued); }
details.src { border: 1px solid var(--border-color-primary); border-radius: 6px;
  padding: 0.35em 0.6em; margin: 0.4em 0; background: var(--background-fill-primary); }
details.src:target { outline: 2px solid var(--color-accent); outline-offset: 1px; }
details.src summary { cursor: pointer; }
.src-n { font-weight: 700; color: var(--color-accent); }
.src-title { font-weight: 700; }
.locator { font-size: 0.85em; padding: 0 0.4em; border-radius: 4px;
  background: var(--background-fill-secondary); border: 1px solid var(--border-color-primary); }
.src-meta { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 0.25em 0; }
.src-flag { font-size: 0.85em; color: #b45309; }
blockquote.passage { white-space: pre-wrap; margin: 0.3em 0; padding: 0.3em 0.6em;
  border-left: 3px solid var(--border-color-primary); font-size: 0.95em; }
blockquote.passage mark { background: #fde68a; color: inherit; padding: 0 1px; }
details.others { margin-top: 0.6em; }
details.others > summary { cursor: pointer; color: var(--body-text-color-subdued);
  font-weight: normal; }
.closest { margin: 0.4em 0; color: var(--body-text-color-subdued); }
a.cite { text-decoration: none; font-weight: 700; font-size: 0.85em;
  padding: 0 1px; border-radius: 3px; color: var(--color-accent); }
a.cite:hover { background: var(--background-fill-secondary); text-decoration: underline; }
.unsupported { text-decoration: underline wavy #d97706; text-underline-offset: 3px; }
.flag { font-size: 0.75em; color: #b45309; border: 1px solid #f59e0b; border-radius: 4px;
  padding: 0 4px; white-space: nowrap; }
.abstain { border-left: 3px solid #60a5fa; padding: 0.2em 0.7em;
  background: var(--background-fill-secondary); border-radius: 4px; }
.abstain-title { font-weight: 700; }
.abstain-check { font-size: 0.8em; opacity: 0.75; }
.stamp { margin-top: 0.45em; font-size: 0.78em; color: var(--body-text-color-subdued); }
.answer.pending { color: var(--body-text-color-subdued); font-style: italic; }
.cursor { animation: blink 1s steps(2, start) infinite; }
@keyframes blink { to { visibility: hidden; } }
.app-head h1 { margin: 0; font-size: 1.4em; font-weight: 700; }
.app-head p { margin: 0.1em 0 0; color: var(--body-text-color-subdued); }
.ingest-report .failed { color: #b91c1c; }
.compare-cols { display: flex; gap: 0.8em; flex-wrap: wrap; }
.compare-col { flex: 1 1 14em; min-width: 0; border: 1px solid var(--border-color-primary);
  border-radius: 6px; padding: 0.4em 0.6em; }
.compare-col.is-marked { border-color: #16a34a; box-shadow: 0 0 0 1px #16a34a; }
.compare-model { font-weight: 700; font-size: 0.85em; margin-bottom: 0.3em; }
.marked { color: #15803d; font-weight: 700; }
.cited-by { font-size: 0.8em; color: var(--body-text-color-subdued); }
.answer ul.bullets { margin: 0.2em 0; padding-left: 1.3em; }
.answer ul.bullets li { margin: 0.15em 0; }
.stamp .about { font-weight: 700; }
#sources button.summarize-doc { font: inherit; font-size: 1em; font-weight: normal;
  line-height: 1.4; cursor: pointer; margin: 0; padding: 0 0.5em; min-height: 0; width: auto;
  border: 1px solid var(--border-color-primary); border-radius: 4px;
  background: var(--background-fill-secondary); color: var(--body-text-color);
  box-shadow: none; }
#sources button.summarize-doc:hover { border-color: var(--color-accent); }
#sources button.summarize-doc:focus-visible { outline: 2px solid var(--color-accent);
  outline-offset: 1px; }
"""

HEADER = (
    f"<style>{CSS}{a11y.CSS}</style>"
    '<div class="app-head"><h1>Article assistant</h1>'
    "<p>Answers from the indexed documents only, each citing the passages it comes from. "
    "Everything runs on this machine.</p></div>"
)


# The sources panel's "Summarize this document" buttons (sources_html.summarize_button) send
# their doc id to the server as the panel's click event; other clicks in the panel send nothing.
SOURCES_JS = """
if (!element.dataset.summarize) {
  element.dataset.summarize = '1';
  element.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest('button.summarize-doc');
    if (!button || !element.contains(button)) return;
    event.preventDefault();
    trigger('click', {doc: button.dataset.doc || ''});
  });
}
"""


def friendly(fn: F) -> F:
    """Engine errors become a message in the page; anything else is a bug and surfaces."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AssistantError as e:
            raise gr.Error(str(e)) from e

    return wrapper  # type: ignore[return-value]


def _browser_secret(settings: Settings) -> str:
    """A per-installation key for the localStorage state, so it survives a server restart."""
    path = settings.data_dir / "ui-secret"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(24))
        except FileExistsError:
            pass  # another server process wrote it first
    return path.read_text().strip()


def pick_example(evt: gr.SelectData) -> str:
    value = evt.value
    return str(value.get("text", "")) if isinstance(value, dict) else str(value)


def build_app(
    settings: Settings, service: ChatService | None = None, runs_dir: Path | None = None
) -> gr.Blocks:
    service = service or ChatService(settings)
    store = ConversationStore(settings.history_db)
    chat = ChatHandlers(settings, service, store)
    corpus = CorpusHandlers(settings, service)
    evals = EvalHandlers(settings, runs_dir or REPO_ROOT / "eval" / "runs")
    review = ReviewHandlers(chat)
    models = chat.model_choices()
    installed = [spec for label, spec in models if "(not installed)" not in label]

    with gr.Blocks(title="Article assistant", analytics_enabled=False, fill_width=True) as demo:
        gr.HTML(HEADER)
        state = gr.State(None)
        browser = gr.BrowserState(
            {"client": "", "conv": ""}, storage_key="article-assistant",
            secret=_browser_secret(settings),
        )
        with gr.Tabs() as tabs:
            with gr.Tab("Chat", id="chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1, min_width=200, elem_id="chat-side"):
                        new_btn = gr.Button("New chat", variant="secondary", elem_id="new-chat")
                        conversations = gr.Radio(
                            label="Conversations", choices=[], elem_id="conversations"
                        )
                        export_btn = gr.DownloadButton(
                            "Export as Markdown", interactive=False, size="sm", elem_id="export"
                        )
                        delete_btn = gr.Button("Delete conversation", size="sm")
                    with gr.Column(scale=4, min_width=360, elem_id="chat-main"):
                        with gr.Row():
                            model_dd = gr.Dropdown(
                                choices=models, value=settings.model, label="Model",
                                allow_custom_value=True, scale=5, elem_id="model",
                                info="Applies to the next message. Also: ollama:<model>, "
                                "openai:<base-url>#<model>, llamacpp:/path/model.gguf",
                            )
                            refresh_models = gr.Button("↻", scale=0, min_width=40, size="sm",
                                                       elem_id="refresh-models")
                            install_btn = gr.Button(
                                "Install model", visible=False, scale=1, variant="primary"
                            )
                        compare_dd = gr.Dropdown(
                            choices=installed, value=[], multiselect=True, max_choices=2,
                            label="Compare with", elem_id="compare", allow_custom_value=True,
                            info="Up to two more models answer the same question from the "
                            "same passages, one after the other. Empty: one answer.",
                        )
                        model_note = gr.HTML("", visible=False, elem_id="model-note")
                        chatbot = gr.Chatbot(
                            label="Conversation", elem_id="chat", height=500,
                            examples=[{"text": q} for q in STARTERS],
                            placeholder="Ask about the article and the documents behind it. "
                            "Answers cite passages: click a marker such as [1] to see it.",
                            # The Chatbot's copy buttons would copy the message's HTML;
                            # "Export as Markdown" gives the text instead.
                            latex_delimiters=[], buttons=[],
                            feedback_options=("Like", "Dislike"), sanitize_html=True,
                        )
                        with gr.Row(elem_id="ask-row"):
                            question = gr.Textbox(
                                label="Question", show_label=False,
                                placeholder="Ask a question about the documents…",
                                scale=6, lines=1, max_lines=6, autofocus=True, elem_id="question",
                            )
                            send_btn = gr.Button("Send", variant="primary", scale=1,
                                                 elem_id="send", min_width=80)
                            stop_btn = gr.Button("Stop", variant="stop", scale=1,
                                                 elem_id="stop", min_width=80)
                        with gr.Accordion("Correct it · mark the right model", open=False,
                                          elem_id="review") as review_box:
                            gr.Markdown(
                                "The thumbs under an answer rate it (a thumbs-down opens its "
                                "correction here). Here you can mark which model "
                                "of a comparison was right, and turn an answer into an eval "
                                "question with the right answer (saved to your questions, "
                                "`mine` in the Evaluate tab).")
                            # Its choices are the open conversation's answers, set per session.
                            review_turn = gr.Dropdown(label="Answer", choices=[],
                                                      allow_custom_value=True,
                                                      elem_id="review-turn")
                            mark = gr.Radio(label="Which answer is right?", visible=False,
                                            elem_id="mark")
                            correction = gr.Textbox(
                                label="The right answer", lines=2, elem_id="correction",
                                placeholder="Type what the documents say…")
                            not_said = gr.Checkbox(label="The documents do not say",
                                                   elem_id="not-said")
                            must = gr.Textbox(
                                label="Words a right answer must include", elem_id="must",
                                info="Proposed from your answer. Commas separate words it must "
                                "all have; | separates alternatives (Daniel Ek | Ek, Spotify).")
                            review_sources = gr.CheckboxGroup(
                                label="Documents that hold the answer", elem_id="review-sources")
                            save_q = gr.Button("Save as an eval question", elem_id="save-q")
                            review_status = gr.HTML("", elem_id="review-status")
                        with gr.Accordion("Settings", open=False):
                            top_k = gr.Slider(
                                1, 20, value=settings.retrieval.top_k, step=1,
                                label="Passages retrieved (top-k)",
                                info=f"Passages enter the prompt by rank until its "
                                f"{settings.answer.prompt_budget_tokens}-token budget is spent; "
                                "the sources panel marks any left out.")
                            scope_dd = gr.Dropdown(
                                choices=[], value=[], multiselect=True, elem_id="scope",
                                label="Search only these documents (none: all)",
                                info="Or all of one publisher's. Applies to the next message.")
                            temperature = gr.Slider(0.0, 2.0, value=settings.answer.temperature,
                                                    step=0.05, label="Temperature")
                            hybrid = gr.Checkbox(value=settings.retrieval.hybrid,
                                                 label="Hybrid search (BM25 + vectors)")
                            show_retrieved = gr.Checkbox(
                                value=True, label="Show retrieved passages that were not cited"
                            )
                        with gr.Accordion("Answer details (JSON)", open=False):
                            details = gr.JSON(label="Last answer")
                    with gr.Column(scale=3, min_width=320, elem_id="chat-sources"):
                        gr.Markdown("#### Sources")
                        sources = gr.HTML(
                            sources_html.render_sources([]), elem_id="sources", max_height=760,
                            js_on_load=SOURCES_JS,
                        )

            with gr.Tab("Corpus", id="corpus"):
                docs_table = gr.Dataframe(
                    headers=COLUMNS, interactive=False, wrap=True, label="Indexed documents",
                    elem_id="documents",
                    column_widths=["17%", "25%", "17%", "9%", "18%", "6%", "8%"],
                )
                with gr.Row():
                    with gr.Column():
                        upload = gr.File(
                            label="Add documents (text, Markdown, HTML, PDF)",
                            file_count="multiple", type="filepath",
                        )
                        add_btn = gr.Button("Add to index", variant="primary")
                    with gr.Column():
                        remove_dd = gr.Dropdown(label="Document", choices=[],
                                                elem_id="corpus-remove",
                                                info="Or click its row in the list.")
                        summarize_btn = gr.Button("Summarize in the chat",
                                                  elem_id="corpus-summarize-btn")
                        remove_btn = gr.Button("Remove document", variant="stop",
                                               elem_id="corpus-remove-btn")
                    with gr.Column():
                        rebuild = gr.Checkbox(
                            label="Rebuild from scratch (shipped, uploaded and imported pages "
                            "again; drops files added with the CLI)", value=False,
                        )
                        reindex_btn = gr.Button("Re-index")
                        refresh_docs = gr.Button("Refresh list", size="sm")
                corpus_report = gr.HTML("", render=False, elem_id="corpus-report")
                corpus_url.build(settings, service, corpus, corpus_report, docs_table, remove_dd)
                corpus_report.render()

            with gr.Tab("Evaluate", id="evaluate"):
                with gr.Row():
                    eval_models = gr.CheckboxGroup(
                        choices=installed, value=[settings.model] if settings.model in installed
                        else [], label="Models",
                    )
                    with gr.Column():
                        questions_path = gr.Textbox(value=DEFAULT_QUESTIONS, label="Question file")
                        limit = gr.Number(value=10, precision=0, minimum=0,
                                          label="Questions (0 = all)")
                    with gr.Column():
                        kinds = gr.CheckboxGroup(KINDS, label="Kinds (none = all)")
                        run_name = gr.Textbox(label="Run name (default: time stamp)")
                        fresh = gr.Checkbox(False, label="Answer again (ignore saved results)")
                        baseline = gr.Dropdown(
                            label="Compare with an earlier run (question by question)",
                            choices=[("(none)", "")], value="", allow_custom_value=True,
                        )
                with gr.Row():
                    saved_note = gr.HTML(review.saved_note(), elem_id="saved-questions")
                    use_saved = gr.Button("Use my saved questions", size="sm", scale=0,
                                          min_width=200)
                run_btn = gr.Button("Run evaluation", variant="primary")
                with gr.Row():
                    past_runs = gr.Dropdown(
                        label="Past runs (eval/runs/) and committed reports (eval/reports/)",
                        choices=[], scale=4)
                    refresh_runs = gr.Button("↻", scale=0, min_width=40, elem_id="refresh-runs")
                eval_status = gr.HTML("")
                eval_table = gr.Dataframe(interactive=False, label="Summary", wrap=True,
                                          visible=False)
                with gr.Row():
                    accuracy_img = gr.Image(label="Accuracy", type="filepath", interactive=False,
                                            visible=False)
                    latency_img = gr.Image(label="Latency", type="filepath", interactive=False,
                                           visible=False)
                report_file = gr.DownloadButton("Download report.html", visible=False)
                report_view = gr.HTML("")

        # -- chat wiring ------------------------------------------------------------------------
        view = [chatbot, sources, state, browser, conversations, export_btn, details]
        ask_inputs = [question, model_dd, top_k, temperature, hybrid, show_retrieved, compare_dd,
                      state, scope_dd]
        ask_outputs = [chatbot, sources, question, state, browser, conversations, export_btn,
                       details]
        ask_opts: dict[str, Any] = {
            "concurrency_limit": CHAT_CONCURRENCY, "concurrency_id": "chat",
            "show_progress_on": [chatbot], "show_progress": "minimal",
        }
        review_out = [review_turn, mark, correction, not_said, must, review_sources,
                      review_status]
        quiet: dict[str, Any] = {"api_visibility": "undocumented"}
        gr.on([send_btn.click, question.submit], chat.ask, ask_inputs, ask_outputs,
              api_name="ask", **ask_opts
              ).then(review.refresh, state, review_out, **quiet)
        chatbot.example_select(
            pick_example, None, question, api_visibility="undocumented", queue=False
        ).then(chat.ask, ask_inputs, ask_outputs, api_name="ask_example",
               api_visibility="undocumented", **ask_opts
               ).then(review.refresh, state, review_out, **quiet)
        stop_btn.click(chat.stop, None, None, api_name="stop", concurrency_limit=None)
        new_btn.click(chat.new_chat, [state, show_retrieved], view, api_name="new_chat"
                      ).then(review.refresh, state, review_out, **quiet)
        chatbot.clear(chat.new_chat, [state, show_retrieved], view, api_name="clear_chat",
                      api_visibility="undocumented"
                      ).then(review.refresh, state, review_out, **quiet)
        conversations.input(chat.open_conversation, [conversations, state, show_retrieved], view,
                            api_name="open_conversation"
                            ).then(review.refresh, state, review_out, **quiet)
        delete_btn.click(chat.delete_conversation, [state, show_retrieved], view,
                         api_name="delete_conversation"
                         ).then(review.refresh, state, review_out, **quiet)
        # -- Summarize: a document's summary asked in the chat, scoped to it -------------------
        # The first step fills the question box and the scope picker and opens the Chat tab;
        # the question is then asked like any other (streamed, stoppable, saved).
        summarize_out = [question, scope_dd, tabs]
        for trigger, step, inputs, name in (
            (summarize_btn.click, chat.summarize, [remove_dd], "summarize_document"),
            # The sources panel's buttons, through its js_on_load (SOURCES_JS).
            (sources.click, chat.summarize_clicked, None, "summarize_from_sources"),
        ):
            trigger(step, inputs, summarize_out, api_name=name, queue=False,
                    api_visibility="public" if inputs else "undocumented"
                    ).success(chat.ask, ask_inputs, ask_outputs, api_name=f"ask_{name}",
                              api_visibility="undocumented", **ask_opts
                              ).then(review.refresh, state, review_out, **quiet)
        # -- review: ratings, marks, corrections saved as eval questions -------------------------
        chatbot.like(review.like, [state, show_retrieved],
                     [chatbot, export_btn, review_box, *review_out[:-1], review_status],
                     api_name="rate")
        review_turn.input(review.select, [review_turn, state], review_out[1:],
                          api_name="review_answer")
        mark.input(review.mark, [mark, review_turn, state, show_retrieved],
                   [chatbot, export_btn, review_status], api_name="mark_right")
        correction.blur(review.propose, [correction, review_turn, state], [must, not_said],
                        api_name="propose_must_include")
        save_q.click(review.save,
                     [review_turn, correction, not_said, must, review_sources, state],
                     [review_status, saved_note], api_name="save_question")
        use_saved.click(lambda: "mine", None, questions_path, queue=False,
                        api_visibility="undocumented")
        show_retrieved.change(chat.sources, [state, show_retrieved], sources,
                              api_name="render_sources")
        model_dd.change(chat.select_model, model_dd, [install_btn, model_note],
                        api_name="select_model")
        refresh_models.click(chat.refresh_models, None, model_dd, api_name="list_models")
        install_btn.click(friendly(chat.install_model), model_dd,
                          [model_dd, install_btn, model_note], api_name="install_model",
                          concurrency_limit=1, concurrency_id="install")
        demo.load(chat.restore, [browser, show_retrieved], view, api_name="restore"
                  ).then(review.refresh, state, review_out, **quiet)
        demo.load(None, js=a11y.script())
        gr.on([demo.load, docs_table.change], friendly(chat.scope_choices), scope_dd, scope_dd,
              api_name="scope_choices", api_visibility="undocumented", queue=False)
        demo.unload(chat.forget_session)

        # -- corpus wiring ----------------------------------------------------------------------
        corpus_out = [corpus_report, docs_table, remove_dd]
        gr.on([demo.load, refresh_docs.click], friendly(corpus.table), None,
              [docs_table, remove_dd], api_name="list_documents")
        docs_table.select(corpus.pick_row, None, remove_dd, queue=False, **quiet)
        corpus_opts: dict[str, Any] = {"concurrency_limit": 1, "concurrency_id": "corpus"}
        add_btn.click(friendly(corpus.upload), upload, corpus_out, api_name="upload_documents",
                      **corpus_opts)
        remove_btn.click(friendly(corpus.remove), remove_dd, corpus_out,
                         api_name="remove_document", **corpus_opts)
        reindex_btn.click(friendly(corpus.reindex), rebuild, corpus_out, api_name="reindex",
                          **corpus_opts)

        # -- eval wiring ------------------------------------------------------------------------
        eval_out = [eval_status, eval_table, accuracy_img, latency_img, report_file, report_view]
        gr.on([demo.load, refresh_runs.click], evals.runs, None, past_runs,
              api_name="list_eval_runs")
        gr.on([demo.load, refresh_runs.click], evals.baselines, None, baseline,
              api_name="list_eval_baselines", api_visibility="undocumented")
        past_runs.input(evals.open_run, past_runs, eval_out, api_name="open_eval_run")
        run_btn.click(friendly(evals.run),
                      [eval_models, questions_path, limit, kinds, run_name, fresh, baseline],
                      [*eval_out, past_runs, baseline], api_name="run_eval", concurrency_limit=1,
                      concurrency_id="eval")

    demo.queue(default_concurrency_limit=DEFAULT_CONCURRENCY, max_size=64)
    return demo



def launch(
    settings: Settings, host: str = "127.0.0.1", port: int = 7860, auth: str | None = None
) -> None:
    credentials = check_serving(host, auth)
    # The page is served first; the store, the embedder and the default model are opened on a
    # thread once it is up (a damaged store is reported there and by the first question). On 2
    # cores, opening them before or beside the server's start only delays the page.
    service = ChatService(settings, open_now=False)
    demo = build_app(settings, service)
    shown = f"[{host}]" if ":" in host else host
    print(f"Article assistant on http://{shown}:{port} (Ctrl-C to stop)", file=sys.stderr)
    demo.launch(
        server_name=host, server_port=port, auth=credentials, share=False, show_error=True,
        auth_message="Article assistant" if credentials else None, quiet=True,
        prevent_thread_lock=True,
    )
    threading.Thread(target=service.warm, daemon=True, name="warm-model").start()
    demo.block_thread()
