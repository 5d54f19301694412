"""`assistant doctor`: the store checked against the manifest and the data directory. Every
indexed document's chunks present (the count its entry records, with vectors), the embedder
and chunking stamp the settings expect, every shipped and uploaded document indexed, nothing
left over; a damaged store is named with the command that recovers it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.corpus import sha256_file
from assistant.errors import AssistantError, StoreDamaged
from assistant.ingest.corpus_service import CorpusService
from assistant.ingest.pipeline import ingest_code_version
from assistant.settings import Settings
from assistant.store.chroma import open_store
from assistant.store.damage import REBUILD_HINT


@dataclass
class Finding:
    # "error" (answers are wrong or missing), "warning" (a later ingest fixes it) or "note"
    level: str
    what: str
    fix: str = ""


@dataclass
class DoctorReport:
    where: str
    documents: int = 0
    chunks: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.level == "error" for f in self.findings)

    def add(self, level: str, what: str, fix: str = "") -> None:
        self.findings.append(Finding(level, what, fix))

    def lines(self) -> list[str]:
        head = (f"store {self.where}: {self.documents} documents, {self.chunks} chunks - "
                + ("ok" if self.ok else "BROKEN"))
        return [head, *(f"{f.level}: {f.what}" + (f" - {f.fix}" if f.fix else "")
                        for f in self.findings)]

    def to_json(self) -> dict[str, Any]:
        return {"store": self.where, "ok": self.ok, "documents": self.documents,
                "chunks": self.chunks, "findings": [f.__dict__ for f in self.findings]}


PAGE = 20_000
# Measured by `assistant bench --scale-chunks` (eval/reports/bench-scale-2026-12-07.json): a new
# process's RSS after its first retrieval grows about 2 KB a passage (1M: 2.3 GB, 100k: 0.49 GB),
# nearly all Chroma's vector graph, which an embedded store loads into each process that answers.
GRAPH_BYTES_PER_PASSAGE = 2000
LARGE = 250_000


def large_embedded_store(passages: int, local: bool, settings: Settings) -> Finding | None:
    """A note for an embedded store so large that each answering process holding its own
    vector graph costs real memory and start time: a Chroma server holds one for all."""
    if not local or passages < LARGE:
        return None
    gb = passages * GRAPH_BYTES_PER_PASSAGE / 1e9
    return Finding("note", f"{passages:,} passages in an embedded store: each process that "
                   f"answers (the UI, `assistant serve`, every `assistant ask`) loads their "
                   f"vector graph, about {gb:.1f} GB, before its first answer",
                   f"serve the store once with `chroma run --path {settings.store_dir}` and set "
                   "ASSISTANT_CHROMA_URL to it")


def check(settings: Settings) -> DoctorReport:
    report = DoctorReport(settings.resolved_chroma_url() or str(settings.store_dir))
    try:
        store = open_store(settings, check=False)
    except StoreDamaged as e:
        report.add("error", e.message, REBUILD_HINT)
        return report
    except AssistantError as e:
        report.add("error", e.message, e.hint)
        return report
    try:
        _check_store(settings, store, report)
    except StoreDamaged as e:
        report.add("error", e.message, REBUILD_HINT)
    return report


def _check_store(settings: Settings, store: Any, report: DoctorReport) -> None:
    records = store.doc_records()
    report.documents = len(records)
    built = store.built_with()
    if store.count() and built is None:
        report.add("error", "the store has no embedder stamp", "run `assistant ingest --rebuild`")
    elif built is not None and built != store.identity:
        report.add("error", f"built with {built}, the settings want {store.identity}",
                   "run `assistant ingest --rebuild` (or restore the old settings)")
    per_version: dict[tuple[str, str], int] = {}
    no_vector = 0
    # A page at a time: a million passages' vectors are 1.5 GB.
    for start in range(0, store.count(), PAGE):
        got = store._call(lambda s=start: store.chunks.get(
            include=["metadatas", "embeddings"], limit=PAGE, offset=s))
        vectors = got.get("embeddings")
        for i, meta in enumerate(got["metadatas"] or []):
            key = (str((meta or {}).get("doc_id")), str((meta or {}).get("version")))
            per_version[key] = per_version.get(key, 0) + 1
            if vectors is None or vectors[i] is None or len(vectors[i]) == 0:
                no_vector += 1
    report.chunks = sum(per_version.get((r.doc_id, r.version), 0) for r in records.values())
    if note := large_embedded_store(report.chunks, store.local, settings):
        report.findings.append(note)
    rerun = "run `assistant ingest --rebuild`"
    for r in sorted(records.values(), key=lambda r: r.doc_id):
        have = per_version.get((r.doc_id, r.version), 0)
        if have < r.chunks:
            report.add("error", f"{r.doc_id}: {r.chunks - have} of its {r.chunks} chunks are "
                       "missing", rerun)
        elif have > r.chunks:
            report.add("warning", f"{r.doc_id}: {have} chunks stored, its entry says {r.chunks}",
                       rerun)
    if no_vector:
        report.add("error", f"{no_vector} chunks have no vector", rerun)
    current = {(r.doc_id, r.version) for r in records.values()}
    orphans = sum(n for key, n in per_version.items() if key not in current)
    if orphans:
        report.add("warning", f"{orphans} chunks belong to no document (left by an interrupted "
                   "ingest)", "the next `assistant ingest` sweeps them")
    code = ingest_code_version()
    corpus = CorpusService(settings, store)
    sources = corpus.sources()
    if e := sources.manifest_error:
        report.add("warning", f"cannot read the manifest: {e.message}", e.hint)
    for source, kind in [*((s, "shipped") for s in sources.shipped),
                         *((s, "uploaded") for s in sources.uploads)]:
        r = records.get(source.doc_id)
        if r is None:
            report.add("error", f"{source.doc_id} ({kind}) is not indexed",
                       "run `assistant ingest`" if kind == "shipped" else rerun)
            continue
        if source.path and source.path.exists():
            sha = source.sha256 or sha256_file(source.path)
            if sha != r.sha256:
                report.add("warning", f"{source.doc_id}: the file changed since it was indexed",
                           "run `assistant ingest`")
        if r.ingest and r.ingest != code:
            report.add("warning", f"{source.doc_id} was cut by older ingest code",
                       "run `assistant ingest`")
    for page in corpus.imported():
        if page.doc_id not in records:
            report.add("warning", f"{page.doc_id} (imported from {page.urls[0]}) is not indexed",
                       "run `assistant ingest --rebuild` to read it again from the web cache")
