"""What the corpus holds and where it lives, in one place: the shipped manifest, the files a user
uploaded (`Settings.uploads_dir`) and the pages imported by URL (`Settings.web_cache_dir`). The
CLI, the UI, `assistant doctor` and recovery list, add, import, remove, re-index and rebuild
through this service, so each of them sees the same corpus."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.corpus import Source, load_manifest
from assistant.errors import AssistantError
from assistant.ingest.pipeline import IngestReport, ProgressFn, ingest, slug, sources_from_paths
from assistant.ingest.recover import RecoveryReport, rebuild_from
from assistant.ingest.urls import normalise_url
from assistant.settings import Settings
from assistant.store.chroma import DocRecord, Store, open_store
from assistant.store.lock import write_lock

if TYPE_CHECKING:
    from assistant.ingest.web import CrawlOptions, ImportedPage, WebIngestReport


@dataclass
class Sources:
    """The documents a re-index reads: shipped (manifest) and uploaded, with the files that
    cannot be read as documents."""

    shipped: list[Source] = field(default_factory=list)
    uploads: list[Source] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # A manifest that cannot be read: the reason (the uploads are still listed).
    manifest_error: AssistantError | None = None


@dataclass
class Removed:
    doc_id: str
    indexed: bool
    files: list[Path] = field(default_factory=list)
    # A shipped document comes back at the next re-index: the manifest still lists it.
    shipped: bool = False

    def summary(self) -> str:
        if not self.indexed and not self.files:
            return f"{self.doc_id} was not in the index."
        note = f"Removed {self.doc_id}." if self.indexed else f"{self.doc_id} was not indexed."
        if self.files:
            note += f" Deleted the {len(self.files)} file(s) kept for it (upload, web cache)."
        if self.shipped:
            note += " It is part of the shipped corpus, so a re-index brings it back."
        return note


class CorpusService:
    def __init__(self, settings: Settings, store: Store | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self._store = store
        # Told after every change, e.g. to drop a retriever's in-memory index at once.
        self.on_change = on_change or (lambda: None)

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.settings)
        return self._store

    def records(self) -> dict[str, DocRecord]:
        """The indexed documents by doc id."""
        return self.store.doc_records()

    def documents(self) -> list[DocRecord]:
        """The indexed documents, by title."""
        records = self.records().values()
        return sorted(records, key=lambda r: r.meta.get("title", r.doc_id).lower())

    def sources(self) -> Sources:
        out = Sources()
        try:
            out.shipped = list(load_manifest(self.settings.corpus_manifest).documents)
        except AssistantError as e:
            out.manifest_error = e
        if self.settings.uploads_dir.exists():
            out.uploads, out.skipped = sources_from_paths([self.settings.uploads_dir])
        return out

    def imported(self) -> list[ImportedPage]:
        """The pages imported by URL, as recorded when they were indexed."""
        from assistant.ingest.web import imported_pages

        return imported_pages(self.settings)

    def web_pages(self) -> list[str | Source]:
        """The imported pages the web cache holds, as a rebuild reads them again: a manifest
        linked piece with its doc id, a recorded import as it was (doc id, lead article), and a
        page imported before records were kept by its URL. A rebuild does not go online."""
        try:
            linked = {normalise_url(s.url): s for s in
                      load_manifest(self.settings.corpus_manifest).linked if s.url}
        except AssistantError:
            linked = {}
        recorded = {normalise_url(u): page for page in self.imported()
                    for u in page.urls}
        out: dict[tuple[str, str], str | Source] = {}
        for meta_path in sorted(self.settings.web_cache_dir.glob("??/*.json")):
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if int(meta.get("status", 0)) != 200 or not meta.get("url"):
                continue
            keys = [normalise_url(meta["url"]), normalise_url(meta.get("final_url") or meta["url"])]
            if seed := next((linked[k] for k in keys if k in linked), None):
                out.setdefault(("linked", seed.doc_id), seed)
            elif page := next((recorded[k] for k in keys if k in recorded), None):
                out.setdefault(("page", page.doc_id), page.seed())
            else:
                out.setdefault(("url", keys[0]), meta["url"])
        return list(out.values())

    def add_files(self, paths: Sequence[Path], on_progress: ProgressFn | None = None,
                  ) -> tuple[IngestReport, list[tuple[str, str]]]:
        """Copy files into the uploads folder (so a re-index reads them again) and index them;
        a file that cannot be a document is reported and not kept."""
        uploads = self.settings.uploads_dir
        uploads.mkdir(parents=True, exist_ok=True)
        kept = []
        for src in paths:
            # Ingest skips dot-files (right for folders: .git, .DS_Store), so an upload named
            # ".notes.md" would vanish from the report; the user picked it, so it keeps a plain
            # name.
            target = uploads / (Path(src).name.lstrip(".") or "upload")
            shutil.copyfile(src, target)
            kept.append(target)
        sources, skipped = sources_from_paths(kept)
        for path, _ in skipped:
            Path(path).unlink(missing_ok=True)
        report = IngestReport()
        if sources:
            report = ingest(self.settings, sources, progress=False, on_progress=on_progress)
        self.on_change()
        return report, skipped

    def import_urls(self, urls: Sequence[str], crawl: CrawlOptions,
                    on_progress: ProgressFn | None = None, progress: bool = False,
                    rebuild: bool = False) -> WebIngestReport:
        # The crawler's parsers load only when a page is imported.
        from assistant.ingest.web import ingest_urls

        report = ingest_urls(self.settings, urls, crawl, on_progress, progress=progress,
                             rebuild=rebuild)
        self.on_change()
        return report

    def remove(self, doc_id: str) -> Removed:
        """The document's index entry, its uploaded file and its web cache entries together,
        so nothing brings it back on a re-index or a rebuild."""
        from assistant.ingest.web import forget_page

        record = self.store.doc_records().get(doc_id)
        shipped = self._is_shipped(doc_id)
        with write_lock(self.settings, "remove"):
            indexed = self.store.remove_document(doc_id)
        files = [f for f in self._uploads() if slug(f.stem) == doc_id]
        for f in files:
            f.unlink()
        # A shipped document's URL is its source's, not a page this corpus imported.
        url = record.meta.get("url", "") if record and not shipped else ""
        files += forget_page(self.settings, doc_id, url)
        self.on_change()
        return Removed(doc_id, indexed, files, shipped=shipped)

    def _uploads(self) -> list[Path]:
        folder = self.settings.uploads_dir
        return sorted(f for f in folder.rglob("*") if f.is_file()) if folder.exists() else []

    def _is_shipped(self, doc_id: str) -> bool:
        try:
            manifest = load_manifest(self.settings.corpus_manifest)
        except AssistantError:
            return False
        return any(s.doc_id == doc_id for s in manifest.documents)

    def reindex(self, on_progress: ProgressFn | None = None, progress: bool = False,
                ) -> tuple[IngestReport, Sources]:
        """Index the shipped and uploaded documents again; only changed files are read. Imported
        pages stay as they are (a rebuild reads them again)."""
        sources = self.sources()
        report = ingest(self.settings, sources.shipped + sources.uploads, progress=progress,
                        on_progress=on_progress)
        self.on_change()
        return report, sources

    def rebuild(self, on_progress: ProgressFn | None = None,
                progress: bool = False) -> RecoveryReport:
        """Index everything anew: shipped documents, uploads and imported pages (read from the
        web cache, offline). A damaged store is moved aside first."""
        with write_lock(self.settings, "rebuild"):
            sources = self.sources()
            if sources.manifest_error:
                raise sources.manifest_error
            report = rebuild_from(self.settings, sources.shipped, sources.uploads,
                                  sources.skipped, self.web_pages(), progress, on_progress)
        self._store = None  # the rebuild replaced the store's files
        self.on_change()
        return report
