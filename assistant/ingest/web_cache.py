"""The web cache: fetched pages on disk, keyed by normalised URL, so a re-ingest works offline
and a corpus is rebuildable exactly."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from assistant.atomic_write import write_atomic
from assistant.ingest.urls import normalise_url

log = logging.getLogger(__name__)

# Headers worth keeping in the cache: what revalidation and format detection need, no cookies.
KEPT_HEADERS = {
    "content-type", "content-length", "etag", "last-modified", "date", "content-language",
    "location", "cache-control",
}


@dataclass(frozen=True)
class FetchedPage:
    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: float
    from_cache: bool = False

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def cache_key(url: str) -> str:
    return hashlib.sha256(normalise_url(url).encode("utf-8")).hexdigest()


class WebCache:
    """Fetched pages on disk: `<key>.body` holds the bytes, `<key>.json` the URL, status,
    headers and fetch time. Writes go through a temporary file so a killed run leaves no half
    entry."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _paths(self, url: str) -> tuple[Path, Path]:
        key = cache_key(url)
        folder = self.root / key[:2]
        return folder / f"{key}.json", folder / f"{key}.body"

    def get(self, url: str) -> FetchedPage | None:
        meta_path, body_path = self._paths(url)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            body = body_path.read_bytes()
        except (OSError, ValueError):
            return None
        if hashlib.sha256(body).hexdigest() != meta.get("sha256"):
            log.warning("web cache entry for %s is corrupt; ignoring it", url)
            return None
        return FetchedPage(
            url=meta["url"], final_url=meta["final_url"], status=int(meta["status"]),
            headers=dict(meta["headers"]), body=body, fetched_at=float(meta["fetched_at"]),
            from_cache=True,
        )

    def put(self, url: str, page: FetchedPage) -> None:
        meta_path, body_path = self._paths(url)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "url": page.url,
            "normalised_url": normalise_url(url),
            "final_url": page.final_url,
            "status": page.status,
            "headers": page.headers,
            "fetched_at": page.fetched_at,
            "fetched": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(page.fetched_at)),
            "size": len(page.body),
            "sha256": hashlib.sha256(page.body).hexdigest(),
        }
        write_atomic(body_path, page.body)
        write_atomic(meta_path, json.dumps(meta, indent=1).encode("utf-8"))

    def remove_where(self, keys: set[str]) -> list[Path]:
        """Delete the entries fetched from, or redirected to, any of the normalised URLs `keys`;
        the deleted files are returned."""
        gone = []
        for meta_path in sorted(self.root.glob("??/*.json")):
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            urls = {meta.get("normalised_url"), meta.get("url"), meta.get("final_url")}
            if not any(u and normalise_url(u) in keys for u in urls):
                continue
            for path in (meta_path, meta_path.with_suffix(".body")):
                if path.exists():
                    path.unlink()
                    gone.append(path)
        return gone
