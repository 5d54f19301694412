"""The Corpus tab's handlers: list, upload (ingest), remove and re-index documents."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.chat import ChatService
from assistant.corpus import Source, load_manifest
from assistant.errors import AssistantError
from assistant.ingest.pipeline import IngestReport, ingest, slug, sources_from_paths
from assistant.settings import Settings
from assistant.store.lock import write_lock
from ui import corpus_html, escape

COLUMNS = ["doc_id", "title", "publisher", "date", "license", "chunks", "indexed"]


class CorpusHandlers:
    def __init__(self, settings: Settings, service: ChatService) -> None:
        self.settings = settings
        self.service = service

    @property
    def uploads_dir(self) -> Path:
        # Uploaded files are kept, so "Re-index" can read them again.
        return self.settings.data_dir / "uploads"

    def rows(self) -> list[list[Any]]:
        records = self.service.store.doc_records()
        return [
            [r.doc_id, r.meta.get("title", ""), r.meta.get("publisher", ""),
             r.meta.get("date", ""), r.meta.get("license", ""), r.chunks,
             corpus_html.when(r.indexed_at)]
            for r in sorted(records.values(), key=lambda r: r.meta.get("title", r.doc_id).lower())
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

    def _ingest(
        self, sources: list[Source], skipped: list[tuple[str, str]], rebuild: bool,
        progress: gr.Progress,
    ) -> str:
        report = IngestReport()
        if sources or rebuild:
            report = ingest(
                self.settings, sources, rebuild=rebuild, progress=False,
                on_progress=lambda f, msg: progress(f, desc=msg),
            )
        self.service.retriever.invalidate()
        failed = [*((Path(n).name, why) for n, why in skipped), *report.failed]
        if failed:
            gr.Warning(f"{len(failed)} file(s) could not be indexed - the reasons are listed")
        return corpus_html.render_ingest_report(
            report.added, report.updated, report.unchanged, failed, report.summary()
        )

    def upload(
        self, files: list[str] | None, progress: gr.Progress = gr.Progress()  # noqa: B008
    ) -> tuple[str, Any, Any]:
        if not files:
            gr.Warning("Choose one or more files first")
            return gr.skip(), gr.skip(), gr.skip()
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        kept = []
        for f in files:
            src = Path(f)
            # Ingest skips dot-files without a word (right for folders: .git, .DS_Store), so an
            # upload named ".notes.md" (or "..\x.md" once Gradio drops the backslashes) would
            # vanish from the report; the user picked this file, so keep it under a plain name.
            target = self.uploads_dir / (src.name.lstrip(".") or "upload")
            shutil.copyfile(src, target)
            kept.append(target)
        sources, skipped = sources_from_paths(kept)
        for path, _ in skipped:
            Path(path).unlink(missing_ok=True)
        html = self._ingest(sources, skipped, rebuild=False, progress=progress)
        return (html, *self.table())

    def remove(self, doc_id: str | None) -> tuple[str, Any, Any]:
        if not doc_id:
            gr.Warning("Pick a document to remove")
            return gr.skip(), gr.skip(), gr.skip()
        with write_lock(self.settings, "remove"):
            removed = self.service.store.remove_document(doc_id)
        for f in self.uploads_dir.glob("*") if self.uploads_dir.exists() else []:
            if slug(f.stem) == doc_id:
                f.unlink()
        self.service.retriever.invalidate()
        note = f"Removed {doc_id}." if removed else f"{doc_id} was not in the index."
        return (f"<div>{escape.esc(note)}</div>", *self.table())

    def reindex(
        self, rebuild: bool, progress: gr.Progress = gr.Progress()  # noqa: B008
    ) -> tuple[str, Any, Any]:
        """Index the shipped corpus and the uploaded files again; only changed files are read
        unless `rebuild` (which also drops documents added from elsewhere, e.g. by the CLI)."""
        try:
            sources = list(load_manifest(self.settings.corpus_manifest).documents)
        except AssistantError as e:
            gr.Warning(str(e))
            sources = []
        skipped: list[tuple[str, str]] = []
        if self.uploads_dir.exists():
            uploaded, skipped = sources_from_paths([self.uploads_dir])
            sources += uploaded
        html = self._ingest(sources, skipped, rebuild=bool(rebuild), progress=progress)
        return (html, *self.table())
