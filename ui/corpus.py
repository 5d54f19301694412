"""The Corpus tab's handlers: list, upload (ingest), remove and re-index documents."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from assistant.chat import ChatService
from assistant.errors import AssistantError
from assistant.ingest.pipeline import IngestReport
from assistant.settings import Settings
from ui import corpus_html, escape

if TYPE_CHECKING:
    from assistant.ingest.corpus_service import CorpusService

COLUMNS = ["doc_id", "title", "publisher", "date", "license", "chunks", "indexed"]


class CorpusHandlers:
    def __init__(self, settings: Settings, service: ChatService) -> None:
        self.settings = settings
        self.service = service

    @property
    def corpus(self) -> CorpusService:
        # Asked for at use, not at build: the page is served before the store is opened.
        return self.service.corpus

    def rows(self) -> list[list[Any]]:
        return [
            [r.doc_id, r.meta.get("title", ""), r.meta.get("publisher", ""),
             r.meta.get("date", ""), r.meta.get("license", ""), r.chunks,
             corpus_html.when(r.indexed_at)]
            for r in self.corpus.documents()
        ]

    def table(self) -> tuple[Any, Any]:
        rows = self.rows()
        choices = [(f"{r[1] or r[0]} ({r[0]})", r[0]) for r in rows]
        return gr.Dataframe(value=rows, headers=COLUMNS), gr.Dropdown(choices=choices, value=None)

    @staticmethod
    def pick_row(evt: gr.SelectData) -> Any:
        """A click on a row of the document list picks that document for the actions beside
        it (Summarize, Remove)."""
        row = getattr(evt, "row_value", None) or []
        return gr.Dropdown(value=str(row[0])) if row and row[0] else gr.skip()

    @staticmethod
    def _report(report: IngestReport, skipped: list[tuple[str, str]], summary: str = "") -> str:
        failed = [*((Path(n).name, why) for n, why in skipped), *report.failed]
        if failed:
            gr.Warning(f"{len(failed)} file(s) could not be indexed - the reasons are listed")
        return corpus_html.render_ingest_report(
            report.added, report.updated, report.unchanged, failed, summary or report.summary()
        )

    def upload(
        self, files: list[str] | None, progress: gr.Progress = gr.Progress()  # noqa: B008
    ) -> tuple[str, Any, Any]:
        if not files:
            gr.Warning("Choose one or more files first")
            return gr.skip(), gr.skip(), gr.skip()
        report, skipped = self.corpus.add_files(
            [Path(f) for f in files], on_progress=lambda f, msg: progress(f, desc=msg))
        return (self._report(report, skipped), *self.table())

    def remove(self, doc_id: str | None) -> tuple[str, Any, Any]:
        if not doc_id:
            gr.Warning("Pick a document to remove")
            return gr.skip(), gr.skip(), gr.skip()
        removed = self.corpus.remove(doc_id)
        return (f"<div>{escape.esc(removed.summary())}</div>", *self.table())

    def reindex(
        self, rebuild: bool, progress: gr.Progress = gr.Progress()  # noqa: B008
    ) -> tuple[str, Any, Any]:
        """Index the shipped corpus and the uploaded files again (only changed files are read);
        `rebuild` indexes everything anew, the pages imported by URL too (from the web cache),
        and drops documents added from elsewhere (e.g. files named to the CLI)."""
        on_progress = lambda f, msg: progress(f, desc=msg)  # noqa: E731
        if rebuild:
            try:
                recovered = self.corpus.rebuild(on_progress=on_progress)
            except AssistantError as e:
                raise gr.Error(str(e)) from e
            html = self._report(recovered.index, recovered.skipped, recovered.summary())
        else:
            report, sources = self.corpus.reindex(on_progress=on_progress)
            if sources.manifest_error:
                gr.Warning(str(sources.manifest_error))
            html = self._report(report, sources.skipped)
        return (html, *self.table())
