"""The ingest pipeline: sources -> blocks -> chunks -> vectors -> store, skipping what has not
changed. Its last step writes into the store, so this is the one ingest module that imports it."""

from __future__ import annotations

import functools
import logging
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from assistant.code_version import source_version
from assistant.corpus import Source, load_manifest, sha256_file, verify_source
from assistant.embeddings import Embedder, get_embedder
from assistant.errors import CorpusError, IngestError
from assistant.ingest.chunking import chunk_blocks
from assistant.ingest.injection import kinds
from assistant.ingest.loaders import EXTENSIONS, load_blocks
from assistant.settings import Settings
from assistant.store.chroma import Store, open_store
from assistant.store.lock import write_lock
from assistant.store.recovery import open_for_rebuild

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    swept: int = 0
    # Passages given new vectors because the store was built with another embedder.
    reembedded: int = 0
    seconds: float = 0.0
    # A rebuild that found the store damaged: where the damaged folder went, and why.
    moved_aside: str = ""
    damage: str = ""

    def summary(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.unchanged)} unchanged",
        ]
        if self.failed:
            parts.append(f"{len(self.failed)} skipped")
        if self.reembedded:
            parts.append(f"{self.reembedded} passages re-embedded for the new embedder")
        done = f"{', '.join(parts)}; {self.chunks} chunks written in {self.seconds:.1f} s"
        if self.moved_aside:
            done = f"the store was damaged; kept aside at {self.moved_aside}. {done}"
        return done


# The orchestration modules are left out of the ingest code version: a change to how documents are
# scheduled or crawled does not change the chunks a document is cut into.
ORCHESTRATION = ("ingest/pipeline.py", "ingest/web.py", "ingest/recover.py",
                 "ingest/corpus_service.py", "ingest/web_cache.py")


def _same_meta(stored: dict[str, str], meta: dict[str, str]) -> bool:
    """The stored document says what its source says now (a manifest's title, lead or aliases
    may change without its file)."""
    return all(str(stored.get(k, "")) == v for k, v in meta.items())


def ingest_code_version() -> str:
    """A hash of the code that loads, extracts and chunks documents: every module under ingest/
    but the orchestration (the same files `ingest/*.py` covered before the pipeline moved in),
    and the sentence splitter the chunks are cut with."""
    return source_version("ingest/*.py", "sentences.py", exclude=ORCHESTRATION)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "document"


def sources_from_paths(paths: list[Path]) -> tuple[list[Source], list[tuple[str, str]]]:
    """Files and folders (recursively) -> Sources; unsupported files are reported, not fatal."""
    sources: list[Source] = []
    skipped: list[tuple[str, str]] = []
    for p in paths:
        if not p.exists():
            skipped.append((str(p), "does not exist"))
            continue
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            if f.name.startswith("."):
                continue
            if f.suffix.lower() not in EXTENSIONS:
                skipped.append((str(f), f"unsupported type '{f.suffix or '(none)'}'"))
                continue
            title = f.stem.replace("_", " ").replace("-", " ").strip() or f.name
            sources.append(Source(doc_id=slug(f.stem), title=title, path=f.resolve()))
    return sources, skipped


def reembed(store: Store, embedder: Embedder, progress: bool = True) -> int:
    """A store built with another embedder (and the same chunking) gets new vectors for its
    passages in place: every document stays, web pages included, without fetching or cutting
    anything again. Interrupted, it starts over on the next ingest (the old stamp stays)."""
    old = store.embedder_changed()
    if not old:
        return 0
    store.sweep_orphans()
    items = store.embed_texts()
    log.warning("The store '%s' was built with embedder %s; re-embedding its %d passages with "
                "%s (once; documents are kept)", store.name, old, len(items), embedder.identity)
    step = 256
    bar = tqdm(total=len(items), desc="re-embedding", unit="passage", disable=not progress,
               file=sys.stderr)
    for start in range(0, len(items), step):
        batch = items[start : start + step]
        store.replace_vectors([i for i, _ in batch], embedder.embed([t for _, t in batch]))
        bar.update(len(batch))
    bar.close()
    store.stamp_identity()
    return len(items)


def ingest(
    settings: Settings,
    sources: list[Source] | None = None,
    rebuild: bool = False,
    progress: bool = True,
    on_progress: ProgressFn | None = None,
) -> IngestReport:
    """Index `sources` (default: the shipped corpus). Unchanged documents are skipped; a document
    that fails to load is reported and the rest of the batch still goes in. One ingest at a
    time: another one running refuses this with IngestBusy (store.write_lock)."""
    with write_lock(settings, "ingest"):
        return _ingest(settings, sources, rebuild, progress, on_progress)


def _ingest(
    settings: Settings,
    sources: list[Source] | None,
    rebuild: bool,
    progress: bool,
    on_progress: ProgressFn | None,
) -> IngestReport:
    started = time.perf_counter()
    embedder = get_embedder(settings.embedder)
    report = IngestReport()
    if rebuild:
        store, moved, report.damage = open_for_rebuild(settings, embedder)
        report.moved_aside = str(moved or "")
    else:
        # A store built with another embedder is re-embedded in place, once, before the check.
        store = open_store(settings, embedder, check=False)
        report.reembedded = reembed(store, embedder, progress)
        store.check_identity()
    report.swept = store.sweep_orphans()
    if sources is None:
        sources = load_manifest(settings.corpus_manifest).documents
    records = store.doc_records()
    # A document is cut again when its file or the code that loads and chunks it changed.
    ingest_code = ingest_code_version()
    max_bytes = int(settings.max_file_mb * 1_000_000)
    bar = tqdm(sources, desc="indexing", unit="doc", disable=not progress, file=sys.stderr)
    for i, source in enumerate(bar):
        name = source.path.name if source.path else source.doc_id
        bar.set_postfix_str(name[:30])
        if on_progress:
            on_progress(i / max(1, len(sources)), f"indexing {name}")
        try:
            assert source.path is not None
            verify_source(source)
            sha = source.sha256 or sha256_file(source.path)
            existing = records.get(source.doc_id)
            if (existing and existing.sha256 == sha and existing.ingest == ingest_code
                    and _same_meta(existing.meta, source.metadata())):
                report.unchanged.append(source.doc_id)
                continue
            blocks = load_blocks(source.path, source.format, max_bytes=max_bytes)
            chunks = chunk_blocks(
                # The chunker counts most sentences twice or more (9,214 counts of 5,066 texts
                # in the shipped corpus); a count depends on the text alone.
                source.doc_id, blocks, functools.cache(embedder.count_tokens),
                settings.chunk_tokens, settings.chunk_overlap_tokens, title=source.title,
            )
            texts = [c.embed_text(source.title) for c in chunks]
            vectors = embedder.embed(texts)
            store.put_document(
                source.doc_id, sha, source.metadata(), chunks, texts, vectors, ingest_code,
                flags=[kinds(c.text) for c in chunks],
            )
            (report.updated if existing else report.added).append(source.doc_id)
            report.chunks += len(chunks)
        except (IngestError, CorpusError) as e:
            reason = e.message + (f" ({e.hint})" if e.hint else "")
            log.warning("skipped %s: %s", name, reason)
            report.failed.append((name, reason))
    store.stamp_identity()
    # The lexical index was written document by document; its merges that waited run now.
    store.lexical.compact()
    report.seconds = time.perf_counter() - started
    if on_progress:
        on_progress(1.0, report.summary())
    return report
