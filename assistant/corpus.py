"""The corpus manifest: which documents exist, where their files are, and what they are."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from assistant.checksum import sha256_file
from assistant.errors import CorpusError

# How far a [[linked]] entry's URL was checked (see index/sources.toml).
LINK_STATUSES = ("verified", "slug-seen", "unverified")


@dataclass(frozen=True)
class Source:
    doc_id: str
    title: str
    path: Path | None
    format: str = "auto"
    publisher: str = ""
    url: str = ""
    date: str = ""
    license: str = ""
    sha256: str = ""
    # Online-only sources (news pieces that may not be redistributed) have no file.
    online_only: bool = False
    author: str = ""
    # A linked entry's URL status (LINK_STATUSES) and what the check found; "" for documents.
    verified: str = ""
    note: str = ""
    # The corpus's lead article: what "the article" in a question means (retrieve/units.py).
    lead: bool = False
    # Other names people give the document ("the AUP", "the licence"), for the same purpose.
    aliases: tuple[str, ...] = ()

    def metadata(self) -> dict[str, str]:
        meta = {
            "doc_id": self.doc_id,
            "title": self.title,
            "publisher": self.publisher,
            "url": self.url,
            "date": self.date,
            "license": self.license,
        }
        # Only when set, so documents without them keep the metadata they were indexed with.
        if self.lead:
            meta["lead"] = "true"
        if self.aliases:
            meta["aliases"] = "; ".join(self.aliases)
        return meta


@dataclass(frozen=True)
class Manifest:
    documents: list[Source]
    linked: list[Source] = field(default_factory=list)


def load_manifest(path: Path) -> Manifest:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise CorpusError(f"Corpus manifest {path} not found", "check corpus_manifest") from e
    base = path.parent
    docs = []
    for entry in data.get("document", []):
        missing = [k for k in ("doc_id", "title", "file") if k not in entry]
        if missing:
            raise CorpusError(f"Manifest {path}: an entry lacks {', '.join(missing)}")
        docs.append(
            Source(
                doc_id=entry["doc_id"],
                title=entry["title"],
                path=base / entry["file"],
                format=entry.get("format", "auto"),
                publisher=entry.get("publisher", ""),
                url=entry.get("url", ""),
                date=str(entry.get("date", "")),
                license=entry.get("license", ""),
                sha256=entry.get("sha256", ""),
                lead=bool(entry.get("lead", False)),
                aliases=tuple(str(a) for a in entry.get("aliases", [])),
            )
        )
    linked = [_linked(path, e) for e in data.get("linked", [])]
    ids = [d.doc_id for d in docs] + [d.doc_id for d in linked]
    if len(ids) != len(set(ids)):
        raise CorpusError(f"Manifest {path} repeats a doc_id")
    return Manifest(documents=docs, linked=linked)


def _linked(path: Path, entry: dict[str, object]) -> Source:
    missing = [k for k in ("doc_id", "title") if not entry.get(k)]
    if missing:
        raise CorpusError(f"Manifest {path}: a [[linked]] entry lacks {', '.join(missing)}")
    status = entry.get("verified", "unverified")
    if status not in LINK_STATUSES:
        raise CorpusError(
            f"Manifest {path}: [[linked]] {entry['doc_id']} has verified = {status!r}",
            f"use one of {', '.join(LINK_STATUSES)}",
        )
    return Source(
        doc_id=str(entry["doc_id"]), title=str(entry["title"]), path=None,
        publisher=str(entry.get("publisher", "")), url=str(entry.get("url", "")),
        date=str(entry.get("date", "")), online_only=True, author=str(entry.get("author", "")),
        verified=str(status), note=str(entry.get("note", "")),
    )


def verify_source(source: Source) -> None:
    """A shipped file that does not match its pinned sha256 was edited or corrupted."""
    if source.path is None or not source.sha256:
        return
    if not source.path.exists():
        raise CorpusError(f"Corpus file {source.path} is missing", "restore it with git checkout")
    actual = sha256_file(source.path)
    if actual != source.sha256:
        raise CorpusError(
            f"Corpus file {source.path} does not match its sha256 in the manifest",
            "restore it with `git checkout -- index/documents` or update the manifest",
        )
