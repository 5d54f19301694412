"""Rebuild the store from what the data directory and the manifest hold: the shipped documents,
the uploaded files (`<data>/uploads`) and the pages in the web cache (re-read offline). A
damaged store is moved aside first (store.open_for_rebuild), so `assistant ingest --rebuild`
works whatever state the store is in."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from assistant.corpus import Source, load_manifest
from assistant.errors import AssistantError
from assistant.ingest.pipeline import IngestReport, ProgressFn, ingest, sources_from_paths
from assistant.ingest.urls import normalise_url
from assistant.settings import Settings
from assistant.store.chroma import open_store
from assistant.store.lock import write_lock
from assistant.store.recovery import doc_ids_in_files

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    index: IngestReport
    shipped: list[str] = field(default_factory=list)
    uploads: list[str] = field(default_factory=list)
    web: list[str] = field(default_factory=list)
    # Documents the old store held that nothing in the data directory could bring back.
    lost: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        lines = []
        if self.index.moved_aside:
            lines.append(f"The store was damaged ({self.index.damage}); it is kept at "
                         f"{self.index.moved_aside}")
        lines.append(f"Rebuilt from the data directory: {len(self.shipped)} shipped documents, "
                     f"{len(self.uploads)} uploads, {len(self.web)} web pages from the cache; "
                     f"{self.index.chunks} chunks written")
        if self.lost:
            lines.append(f"Not recovered (ingest their files again): {', '.join(self.lost)}")
        return "\n".join(lines)


def web_cache_pages(settings: Settings) -> list[str | Source]:
    """The URLs the web cache holds a good copy of; a manifest `[[linked]]` entry keeps its doc
    id and metadata."""
    root = settings.data_dir / "web-cache"
    try:
        linked = {normalise_url(s.url): s for s in load_manifest(settings.corpus_manifest).linked
                  if s.url}
    except AssistantError:
        linked = {}
    out: dict[str, str | Source] = {}
    for meta_path in sorted(root.glob("??/*.json")):
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if int(meta.get("status", 0)) != 200 or not meta.get("url"):
            continue
        key = normalise_url(meta["url"])
        out.setdefault(key, linked.get(key) or meta["url"])
    return list(out.values())


def rebuild(settings: Settings, progress: bool = True,
            on_progress: ProgressFn | None = None) -> RecoveryReport:
    from assistant.ingest.web import CrawlOptions, ingest_urls

    with write_lock(settings, "rebuild"):
        before = _indexed_before(settings)
        shipped = list(load_manifest(settings.corpus_manifest).documents)
        uploads_dir = settings.data_dir / "uploads"
        uploads, skipped = sources_from_paths([uploads_dir]) if uploads_dir.exists() else ([], [])
        report = RecoveryReport(ingest(settings, shipped + uploads, rebuild=True,
                                       progress=progress, on_progress=on_progress))
        report.skipped = skipped + report.index.failed
        failed = {name for name, _ in report.index.failed}
        report.shipped = [s.doc_id for s in shipped if s.path and s.path.name not in failed]
        report.uploads = [s.doc_id for s in uploads if s.path and s.path.name not in failed]
        pages = web_cache_pages(settings)
        if pages:
            web = ingest_urls(settings, pages, CrawlOptions(offline=True, delay_s=0),
                              progress=progress)
            report.web = [doc_id for doc_id, _ in web.kept]
            report.skipped += web.skipped
            if web.index:
                report.index.chunks += web.index.chunks
        now = set(open_store(settings).doc_records())
        report.lost = sorted(set(before or []) - now)
        return report


def _indexed_before(settings: Settings) -> list[str] | None:
    if settings.resolved_chroma_url():
        try:
            return list(open_store(settings, check=False).doc_records())
        except AssistantError:
            return None
    store_dir = settings.store_dir
    return doc_ids_in_files(store_dir) if (store_dir / "chroma.sqlite3").exists() else None
