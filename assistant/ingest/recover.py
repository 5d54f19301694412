"""Rebuild the store from what the corpus holds (the shipped documents, the uploaded files and
the pages in the web cache, re-read offline; listed by ingest/corpus_service.py). A damaged store
is moved aside first (store.open_for_rebuild), so `assistant ingest --rebuild` works whatever
state the store is in, and the documents nothing could bring back are named."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from assistant.corpus import Source
from assistant.errors import AssistantError
from assistant.ingest.pipeline import IngestReport, ProgressFn, ingest
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


def rebuild_from(settings: Settings, shipped: list[Source], uploads: list[Source],
                 skipped: list[tuple[str, str]], pages: list[str | Source], progress: bool = True,
                 on_progress: ProgressFn | None = None) -> RecoveryReport:
    """Index `shipped` and `uploads` anew (the store moved aside first when damaged), then the
    web `pages` from the cache, offline; what the corpus holds is the corpus service's to say
    (ingest/corpus_service.py)."""
    from assistant.ingest.web import CrawlOptions, ingest_urls

    with write_lock(settings, "rebuild"):
        before = _indexed_before(settings)
        report = RecoveryReport(ingest(settings, shipped + uploads, rebuild=True,
                                       progress=progress, on_progress=on_progress))
        report.skipped = skipped + report.index.failed
        failed = {name for name, _ in report.index.failed}
        report.shipped = [s.doc_id for s in shipped if s.path and s.path.name not in failed]
        report.uploads = [s.doc_id for s in uploads if s.path and s.path.name not in failed]
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
