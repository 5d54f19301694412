"""Fetching web pages politely, and the pure helpers around it.

URL normalisation, near-duplicate detection and body-only link extraction are pure functions.
`Fetcher` is the I/O edge: http(s) only, robots.txt, a per-host delay, timeouts, a size cap, and a
local cache (body + headers + fetch time, keyed by normalised URL) that makes a re-ingest work
offline and a corpus rebuildable exactly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import httpx

from assistant.errors import IngestError

log = logging.getLogger(__name__)

USER_AGENT = "article-assistant/0.1 (local, private RAG ingest; respects robots.txt)"
ROBOTS_AGENT = "article-assistant"
DEFAULT_TIMEOUT_S = 15.0
DEFAULT_MAX_BYTES = 10_000_000
DEFAULT_DELAY_S = 1.0
MAX_REDIRECTS = 10
REDIRECTS = {301, 302, 303, 307, 308}
ACCEPT = "text/html,application/xhtml+xml,application/pdf;q=0.9,text/plain;q=0.8,*/*;q=0.5"
NEAR_DUPLICATE = 0.9

SCHEMES = ("http", "https")
TRACKING_PARAMS = {
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid",
    "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok",
}
# Links to these are not documents; following them would only add noise to the failure list.
IGNORED_LINK_SCHEMES = ("mailto:", "tel:", "javascript:", "data:", "sms:", "#")
# Headers worth keeping in the cache: what revalidation and format detection need, no cookies.
KEPT_HEADERS = {
    "content-type", "content-length", "etag", "last-modified", "date", "content-language",
    "location", "cache-control",
}


class FetchError(IngestError):
    """A URL that could not be fetched; `connection` marks network-level failures (offline)."""

    def __init__(self, message: str, hint: str = "", connection: bool = False) -> None:
        super().__init__(message, hint)
        self.connection = connection


# -- pure helpers -----------------------------------------------------------------------------


def _split_http(url: str) -> Any:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise FetchError(
            f"not an http(s) URL (scheme '{scheme or 'none'}')",
            "only http:// and https:// pages can be fetched; give files as paths instead",
        )
    if not parts.hostname:
        raise FetchError(f"URL has no host: {url[:200]}", "give a full URL like https://host/path")
    return parts


def clean_url(url: str) -> str:
    """The URL to request: lower-case scheme and host, no default port, no fragment, no
    tracking parameters. Path and the remaining query are kept as given, since servers may
    treat `/a` and `/a/` differently."""
    parts = _split_http(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError as e:
        raise FetchError(f"URL has a bad port: {url[:200]}", "check the URL") from e
    default_port = {"http": 80, "https": 443}[scheme]
    netloc = host if port is None or port == default_port else f"{host}:{port}"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not (k.lower().startswith("utm_") or k.lower() in TRACKING_PARAMS)
    ]
    path = re.sub(r"%[0-9a-fA-F]{2}", lambda m: m.group(0).upper(), parts.path or "/")
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def normalise_url(url: str) -> str:
    """The identity of a page: `clean_url` plus no trailing slash and sorted query parameters,
    so the same page reached by two spellings has one key."""
    parts = urlsplit(clean_url(url))
    path = parts.path.rstrip("/") or "/"
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def site_of(url: str) -> str:
    """Host without `www.` and port: `--same-site` compares these."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def shingles(text: str, k: int = 5) -> frozenset[str]:
    """Word k-shingles; a text shorter than k words is one shingle."""
    w = words(text)
    if len(w) < k:
        return frozenset([" ".join(w)]) if w else frozenset()
    return frozenset(" ".join(w[i : i + k]) for i in range(len(w) - k + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _keep_link(href: str) -> bool:
    h = href.strip().lower()
    return bool(h) and not h.startswith(IGNORED_LINK_SCHEMES)


def _unique(links: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for link in links:
        if link not in seen:
            seen.add(link)
            out.append(link)
    return out


@dataclass(frozen=True)
class Article:
    title: str
    author: str
    sitename: str
    date: str
    canonical: str
    # (tag, text) in reading order: h1..h6, p, li, blockquote, pre, tr (cells joined by " | ").
    blocks: list[tuple[str, str]]
    links: list[str]

    @property
    def text(self) -> str:
        return "\n\n".join(t for _, t in self.blocks)


def decode_html(body: bytes, content_type: str = "") -> str:
    """Bytes -> str: the header's charset, else a <meta charset>, else UTF-8, else cp1252."""
    candidates = []
    if m := re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.IGNORECASE):
        candidates.append(m.group(1))
    if mb := re.search(rb"<meta[^>]+charset=[\"']?([\w.:-]+)", body[:4096], re.IGNORECASE):
        candidates.append(mb.group(1).decode("ascii", "ignore"))
    for enc in [*candidates, "utf-8"]:
        try:
            return body.decode(enc)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("cp1252", errors="replace")


def _canonical(soup: Any, base_url: str) -> str:
    for tag in soup.find_all("link", href=True):
        rel = tag.get("rel") or []
        rels = rel if isinstance(rel, list) else str(rel).split()
        if "canonical" in [r.lower() for r in rels]:
            return urljoin(base_url, str(tag["href"]).strip())
    og = soup.find("meta", attrs={"property": "og:url"}, content=True)
    return urljoin(base_url, str(og["content"]).strip()) if og else ""


def _xml_blocks(main: Any) -> list[tuple[str, str]]:
    def text_of(el: Any) -> str:
        return re.sub(r"\s+", " ", "".join(el.itertext())).strip()

    blocks: list[tuple[str, str]] = []
    for el in main:
        tag = el.tag
        if tag == "head":
            rend = str(el.get("rend") or "h2")
            blocks.append((rend if re.fullmatch(r"h[1-6]", rend) else "h2", text_of(el)))
        elif tag == "list":
            blocks += [("li", text_of(item)) for item in el.iter("item")]
        elif tag == "table":
            for row in el.iter("row"):
                cells = [text_of(c) for c in row.iter("cell")]
                blocks.append(("tr", " | ".join(c for c in cells if c)))
        elif tag == "quote":
            blocks.append(("blockquote", text_of(el)))
        elif tag == "code":
            blocks.append(("pre", text_of(el)))
        elif tag != "graphic":
            blocks.append(("p", text_of(el)))
    return [(t, x) for t, x in blocks if x]


def _without_furniture(root: Any) -> Any:
    for tag in root.find_all(["nav", "header", "footer", "aside", "form", "script", "style",
                              "noscript", "button"]):
        tag.decompose()
    return root


def _main_element(soup: Any) -> Any:
    """The page's <article> or <main> without its menus, asides and forms (None if it has
    neither: then the whole <body> is no guide to what the article links to)."""
    root = soup.find("article") or soup.find("main") or soup.find(attrs={"role": "main"})
    return _without_furniture(root) if root is not None else None


def _soup_blocks(root: Any) -> list[tuple[str, str]]:
    tags = ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "blockquote", "pre"]
    blocks = []
    for el in root.find_all(tags):
        if el.find(tags):
            continue  # the innermost element carries the text; avoid repeating it
        if text := re.sub(r"\s+", " ", el.get_text(" ")).strip():
            blocks.append((str(el.name), text))
    if not blocks and (text := re.sub(r"\s+", " ", root.get_text(" ")).strip()):
        blocks = [("p", text)]
    return blocks


def extract_article(html: str, url: str) -> Article:
    """Main text, metadata and body links of a page. trafilatura drops navigation, ads, cookie
    banners and comment boxes; links come from what it kept, so menus and footers give none."""
    import trafilatura
    from bs4 import BeautifulSoup
    from lxml import etree

    soup = BeautifulSoup(html, "lxml")
    meta = trafilatura.extract_metadata(html, default_url=url)
    base_tag = soup.find("base", href=True)
    base = urljoin(url, str(base_tag["href"]).strip()) if base_tag else url
    canonical = _canonical(soup, url)
    title = (meta.title if meta and meta.title else "") or ""
    if not title and soup.title and soup.title.string:
        title = soup.title.string.strip()
    blocks: list[tuple[str, str]] = []
    links: list[str] = []
    # No url= here: trafilatura would resolve relative links against the site root, not the page.
    xml = trafilatura.extract(
        html, output_format="xml", include_links=True, include_comments=False,
        include_tables=True, include_images=False, with_metadata=False,
    )
    try:
        main = etree.fromstring(xml.encode("utf-8")).find("main") if xml else None
    except etree.XMLSyntaxError:
        main = None
    if main is not None:
        blocks = _xml_blocks(main)
        links = [str(r.get("target") or "") for r in main.iter("ref")]
    if not blocks or not links:
        # trafilatura's last-resort extraction flattens links away; the <article> keeps them.
        root = _main_element(soup)
        if root is not None and not links:
            links = [str(a["href"]) for a in root.find_all("a", href=True)]
        if not blocks:
            blocks = _soup_blocks(root if root is not None
                                  else _without_furniture(soup.body or soup))
    return Article(
        title=title,
        author=(meta.author if meta and meta.author else "") or "",
        sitename=(meta.sitename if meta and meta.sitename else "") or "",
        date=(meta.date if meta and meta.date else "") or "",
        canonical=canonical,
        blocks=blocks,
        links=_unique([urljoin(base, h.strip()) for h in links if _keep_link(h)]),
    )


def body_links(html: str, url: str) -> list[str]:
    """Absolute links from the article's main text only (not menus, footers or comments)."""
    return extract_article(html, url).links


# -- fetching ---------------------------------------------------------------------------------


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
        _write_atomic(body_path, page.body)
        _write_atomic(meta_path, json.dumps(meta, indent=1).encode("utf-8"))


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _resolves(host: str, timeout_s: float) -> bool:
    """getaddrinfo ignores httpx's timeouts and can stall for many seconds when DNS is
    unreachable; resolve in a daemon thread and give up after `timeout_s`."""
    result: list[bool] = []

    def run() -> None:
        try:
            socket.getaddrinfo(host, None)
            result.append(True)
        except OSError:
            result.append(False)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout_s)
    return bool(result and result[0])


@dataclass
class Fetcher:
    """Fetches http(s) pages one at a time: robots.txt first (missing = allowed), checked again
    for each redirect hop; at most one request per host every `delay_s`; `timeout_s` per
    connect/read (and 4x that for a whole body); bodies over `max_bytes` refused. With
    `offline`, or once `offline_after` hosts have failed to connect and none has answered, only
    the cache answers; a host that cannot be reached falls back to the cache too."""

    cache: WebCache | None
    delay_s: float = DEFAULT_DELAY_S
    timeout_s: float = DEFAULT_TIMEOUT_S
    connect_timeout_s: float | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    offline: bool = False
    offline_after: int | None = 2
    user_agent: str = USER_AGENT
    _client: httpx.Client | None = field(default=None, init=False, repr=False)
    _robots: dict[str, RobotFileParser] = field(default_factory=dict, init=False, repr=False)
    _last: dict[str, float] = field(default_factory=dict, init=False, repr=False)
    _dns: dict[str, bool] = field(default_factory=dict, init=False, repr=False)
    _unreachable: set[str] = field(default_factory=set, init=False, repr=False)
    _reached: bool = field(default=False, init=False, repr=False)

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            connect = self.connect_timeout_s or self.timeout_s
            self._client = httpx.Client(
                timeout=httpx.Timeout(self.timeout_s, connect=connect),
                headers={"User-Agent": self.user_agent, "Accept": ACCEPT},
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def assumed_offline(self) -> bool:
        # Only while nothing has answered: dead links on an online machine must not stop a crawl.
        n = self.offline_after
        return self.offline or (n is not None and not self._reached and len(self._unreachable) >= n)

    def fetch(self, url: str) -> FetchedPage:
        target = clean_url(url)
        cached = self.cache.get(target) if self.cache else None
        if self.assumed_offline:
            if cached:
                return cached
            if self.offline:
                why, hint = "offline", "run the ingest again without --offline to fetch it"
            else:
                why = f"offline? ({len(self._unreachable)} hosts unreachable, none answered)"
                hint = "not tried; check the network and run the ingest again"
            raise FetchError(f"{why}; not in the web cache", hint, connection=True)
        origin = _origin(target)
        try:
            page = self._get(target, cached)
        except (httpx.ConnectError, httpx.ConnectTimeout, _DNSFailure) as e:
            self._unreachable.add(origin)
            return self._fallback(target, cached, f"cannot connect to {origin} ({_short(e)})")
        except httpx.TimeoutException as e:
            return self._fallback(target, cached, f"timed out after {self.timeout_s:g} s "
                                  f"({type(e).__name__})", connection=False)
        except httpx.TransportError as e:
            return self._fallback(target, cached, f"network error: {_short(e)}", connection=False)
        except httpx.HTTPError as e:
            raise FetchError(f"cannot read the response ({_short(e)})", "try again later") from e
        self._reached = True
        return page

    def _fallback(
        self, url: str, cached: FetchedPage | None, reason: str, connection: bool = True
    ) -> FetchedPage:
        if cached:
            log.info("%s: %s; using the cached copy from %s", url, reason,
                     time.strftime("%Y-%m-%d %H:%M", time.localtime(cached.fetched_at)))
            return cached
        hint = ("offline or the host is down; pages fetched before are re-ingested from the cache"
                if connection else "try again later, or raise the timeout")
        raise FetchError(reason, hint, connection=connection)

    def _check(self, url: str) -> None:
        """DNS (bounded in time), then robots.txt, before any request for `url`."""
        host = urlsplit(url).hostname or ""
        if host not in self._dns:
            self._dns[host] = _resolves(host, self.connect_timeout_s or self.timeout_s)
        if not self._dns[host]:
            raise _DNSFailure(f"cannot resolve host name {host}")
        if not self._robots_allow(url):
            raise FetchError(
                "robots.txt disallows fetching it",
                "the site asks crawlers to stay out; save the page and ingest the file",
            )

    @contextmanager
    def _turn(self, origin: str) -> Iterator[None]:
        """Wait until `delay_s` has passed since the last request to `origin` finished."""
        last = self._last.get(origin)
        if last is not None and self.delay_s > 0:
            pause = self.delay_s - (time.monotonic() - last)
            if pause > 0:
                time.sleep(pause)
        try:
            yield
        finally:
            self._last[origin] = time.monotonic()

    def _robots_allow(self, url: str) -> bool:
        origin = _origin(url)
        rp = self._robots.get(origin)
        if rp is None:
            rp = RobotFileParser(f"{origin}/robots.txt")
            try:
                with self._turn(origin):
                    status, _, body, _ = self._stream(
                        f"{origin}/robots.txt", 512_000, follow_redirects=True)
            except FetchError:
                status, body = 404, b""  # an unreadable robots.txt (too big) restricts nothing
            # RFC 9309: 4xx means no rules; 5xx means the site cannot say, so stay out for now.
            if status >= 500:
                rp.parse(["User-agent: *", "Disallow: /"])
            elif status >= 400:
                rp.parse([])
            else:
                rp.parse(body.decode("utf-8", errors="replace").splitlines())
            self._robots[origin] = rp
        return rp.can_fetch(ROBOTS_AGENT, url)

    def _stream(
        self, url: str, limit: int, headers: dict[str, str] | None = None,
        follow_redirects: bool = False,
    ) -> tuple[int, str, bytes, dict[str, str]]:
        deadline = time.monotonic() + 4 * self.timeout_s
        with self.client.stream("GET", url, headers=headers or {},
                                follow_redirects=follow_redirects) as r:
            declared = r.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise FetchError(
                    f"too big: {int(declared) / 1e6:.1f} MB, over the {limit / 1e6:g} MB limit",
                    "save the file and ingest it as a path",
                )
            chunks, size = [], 0
            for chunk in r.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise FetchError(
                        f"too big: over the {limit / 1e6:g} MB limit (stopped reading)",
                        "save the file and ingest it as a path",
                    )
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the whole body took too long")
                chunks.append(chunk)
            kept = {k.lower(): v for k, v in r.headers.items() if k.lower() in KEPT_HEADERS}
            return r.status_code, str(r.url), b"".join(chunks), kept

    def _get(self, url: str, cached: FetchedPage | None) -> FetchedPage:
        validators: dict[str, str] = {}
        if cached:
            if etag := cached.headers.get("etag"):
                validators["If-None-Match"] = etag
            if modified := cached.headers.get("last-modified"):
                validators["If-Modified-Since"] = modified
        current = url
        # Redirects are followed by hand so each hop is checked (scheme, robots.txt, delay).
        for _ in range(MAX_REDIRECTS + 1):
            self._check(current)
            # The cached validators came from the final response, so they go to that URL only.
            same = cached and normalise_url(cached.final_url) == normalise_url(current)
            with self._turn(_origin(current)):
                status, _, body, headers = self._stream(
                    current, self.max_bytes, validators if same else None)
            location = headers.get("location", "")
            if status not in REDIRECTS or not location:
                break
            try:
                current = clean_url(urljoin(current, location))
            except FetchError as e:
                raise FetchError(f"redirected to a non-http(s) URL ({location[:100]})",
                                 "only http(s) pages can be fetched") from e
        else:
            raise FetchError(f"more than {MAX_REDIRECTS} redirects", "open it in a browser")
        if status == 304 and cached:
            log.info("%s not modified; using the cached copy", url)
            return cached
        if status >= 400:
            phrase = httpx.codes.get_reason_phrase(status)
            raise FetchError(f"HTTP {status} {phrase}".strip(),
                             "check the URL" if status in (404, 410) else "try again later")
        page = FetchedPage(url, current, status, headers, body, time.time())
        if self.cache:
            self.cache.put(url, page)
            if normalise_url(current) != normalise_url(url):
                self.cache.put(current, page)  # the redirect target answers offline too
        return page


class _DNSFailure(Exception):
    pass


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _short(e: BaseException) -> str:
    return (str(e) or type(e).__name__).splitlines()[0][:160]
