"""Web ingest: URLs (and the pages their article bodies link to) -> main text -> the index.

Each kept page's main text is written to the web cache as a small clean HTML file and indexed
through the ordinary pipeline (`ingest.pipeline.ingest`), so web pages and files behave the
same once stored. The same page reached by two URLs, and near-identical syndicated copies, are
stored once.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from tqdm import tqdm

from assistant.atomic_write import write_atomic
from assistant.corpus import Source, load_manifest
from assistant.errors import AssistantError, FetchError, IngestError
from assistant.ingest.extract import Article, decode_html, extract_article
from assistant.ingest.fetcher import (
    DEFAULT_DELAY_S,
    DEFAULT_MAX_BYTES,
    DEFAULT_TIMEOUT_S,
    Fetcher,
)
from assistant.ingest.loaders import LOADERS, detect_format
from assistant.ingest.near_duplicates import NEAR_DUPLICATE, jaccard, shingles
from assistant.ingest.pipeline import IngestReport, ingest
from assistant.ingest.urls import clean_url, normalise_url, site_of
from assistant.ingest.web_cache import FetchedPage, WebCache
from assistant.settings import Settings
from assistant.store.chroma import open_store

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]

# A canonical link shared by two pages whose texts are this different is a site misconfiguration
# (every page pointing at one URL), not two spellings of one page.
CANONICAL_MIN_SIMILARITY = 0.5
# A short connect timeout for manifest links: an offline machine must not stall on each one.
LINKED_CONNECT_TIMEOUT_S = 5.0

HTML_TYPES = {"text/html", "application/xhtml+xml", ""}
OTHER_TYPES = {"application/pdf": ("pdf", ".pdf"), "text/plain": ("text", ".txt"),
               "text/markdown": ("markdown", ".md"), "text/x-markdown": ("markdown", ".md")}


@dataclass(frozen=True)
class CrawlOptions:
    """How far and how politely a web ingest goes: the CLI's --follow-links, --depth,
    --same-site, --max-pages, --offline and --delay, plus the fetcher's limits."""

    follow_links: bool = False
    depth: int = 1  # hops from a start URL, when follow_links
    same_site: bool = False
    max_pages: int = 20  # pages fetched in all; the start URLs always go first
    offline: bool = False  # only the web cache answers
    delay_s: float = DEFAULT_DELAY_S
    timeout_s: float = DEFAULT_TIMEOUT_S
    connect_timeout_s: float | None = None  # None: timeout_s
    max_bytes: int = DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class WebSource(Source):
    def metadata(self) -> dict[str, str]:
        # A manifest link's URL status travels with the page, so a reader can weigh it.
        linked = {"verified": self.verified} if self.verified else {}
        return {**super().metadata(), "author": self.author, **linked}


# What happened to one URL, as the CLI prints it and the UI lists it.
KEPT, DUPLICATE, SKIPPED, NOT_FOLLOWED, NOT_FETCHED = (
    "kept", "duplicate", "skipped", "not followed", "not fetched")


@dataclass(frozen=True)
class Outcome:
    url: str
    status: str  # one of KEPT, DUPLICATE, SKIPPED, NOT_FOLLOWED, NOT_FETCHED
    detail: str = ""  # the doc id (kept, duplicate) or the reason

    def line(self) -> str:
        return {
            KEPT: f"kept {self.url} as {self.detail}",
            DUPLICATE: f"duplicate {self.url}: stored once as {self.detail}",
            SKIPPED: f"skipped {self.url}: {self.detail}",
            NOT_FOLLOWED: f"not followed {self.url}: page cap reached (raise --max-pages)",
            NOT_FETCHED: f"not fetched {self.url}: {self.detail}",
        }[self.status]


@dataclass
class WebIngestReport:
    kept: list[tuple[str, str]] = field(default_factory=list)  # (doc_id, url)
    from_cache: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (url, doc_id kept)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)
    not_followed: list[str] = field(default_factory=list)
    # Manifest links listed without a known URL: never fetched (label, why).
    not_fetched: list[tuple[str, str]] = field(default_factory=list)
    index: IngestReport | None = None
    seconds: float = 0.0

    def outcomes(self) -> list[Outcome]:
        """Every URL's fate in one list: kept, duplicate, skipped (and why), not followed, not
        fetched. A kept page the index then could not read counts as skipped."""
        unread = dict(self.index.failed) if self.index else {}
        out = [Outcome(url, KEPT, doc_id) for doc_id, url in self.kept
               if not any(doc_id == Path(name).stem for name in unread)]
        out += [Outcome(url, DUPLICATE, doc_id) for url, doc_id in self.duplicates]
        out += [Outcome(url, SKIPPED, why) for url, why in self.skipped]
        out += [Outcome(url, NOT_FOLLOWED) for url in self.not_followed]
        out += [Outcome(label, NOT_FETCHED, why) for label, why in self.not_fetched]
        return out

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return [*self.failed, *(self.index.failed if self.index else [])]

    def summary(self) -> str:
        parts = [f"{len(self.kept)} pages kept"
                 + (f" ({len(self.from_cache)} from the web cache)" if self.from_cache else "")]
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} duplicates")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        if self.not_followed:
            parts.append(f"{len(self.not_followed)} links not followed (page cap)")
        if self.not_fetched:
            parts.append(f"{len(self.not_fetched)} listed without a known URL (not fetched)")
        line = ", ".join(parts) + f" in {self.seconds:.1f} s"
        return f"{line}\n{self.index.summary()}" if self.index else line


@dataclass
class _Kept:
    doc_id: str
    url: str
    shingles: frozenset[str]
    # The addresses the page was fetched under (the web cache keys), and whether it led a crawl.
    fetched: tuple[str, ...] = ()
    lead: bool = False


@dataclass
class _Task:
    url: str
    depth: int
    root: str  # the site of the start URL this link was found from
    seed: Source | None = None

    @property
    def label(self) -> str:
        return f"{self.seed.doc_id} ({self.url})" if self.seed else self.url


def url_doc_id(url: str) -> str:
    """A stable doc id from host + path (+ query): readable, and hashed when too long."""
    parts = urlsplit(normalise_url(url))
    host = parts.netloc[4:] if parts.netloc.startswith("www.") else parts.netloc
    path = re.sub(r"\.(html?|php|aspx?)$", "", parts.path, flags=re.IGNORECASE)
    base = re.sub(r"[^a-z0-9]+", "-", f"{host}{path} {parts.query}".lower()).strip("-")
    if len(base) <= 80:
        return base or "page"
    return f"{base[:71].rstrip('-')}-{hashlib.sha1(url.encode()).hexdigest()[:8]}"


def render_article(article: Article, title: str, url: str, author: str, publisher: str,
                   date: str) -> str:
    """The main text as a small, clean HTML page: what gets indexed (and what `load_html`
    reads back unchanged, since nothing in it is boilerplate)."""
    esc = html.escape
    head = ['<meta charset="utf-8">', f"<title>{esc(title)}</title>"]
    if url:
        head.append(f'<link rel="canonical" href="{esc(url)}">')
    if author:
        head.append(f'<meta name="author" content="{esc(author)}">')
    if publisher:
        head.append(f'<meta property="og:site_name" content="{esc(publisher)}">')
    if date:
        head.append(f'<meta name="date" content="{esc(date)}">')
    body: list[str] = []
    in_list = False
    for tag, text in article.blocks:
        if tag == "li" and not in_list:
            body.append("<ul>")
        elif tag != "li" and in_list:
            body.append("</ul>")
        in_list = tag == "li"
        tag = "p" if tag == "tr" else tag
        body.append(f"<{tag}>{esc(text)}</{tag}>")
    if in_list:
        body.append("</ul>")
    return ("<!DOCTYPE html>\n<html>\n<head>\n" + "\n".join(head) + "\n</head>\n<body>\n"
            "<article>\n" + "\n".join(body) + "\n</article>\n</body>\n</html>\n")


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)


def _stored_shingles(settings: Settings, extracted: Path) -> dict[str, frozenset[str]]:
    """Texts of web pages already in this collection, so a syndicated copy ingested in a later
    run is recognised too."""
    from bs4 import BeautifulSoup

    try:
        records = open_store(settings).doc_records()
    except AssistantError as e:
        log.debug("no stored pages to compare with: %s", e)
        return {}
    out = {}
    for doc_id in records:
        path = extracted / f"{doc_id}.html"
        if path.exists():
            soup = BeautifulSoup(path.read_bytes(), "lxml")
            out[doc_id] = shingles((soup.body or soup).get_text(" "))
    return out


class _Crawl:
    def __init__(self, settings: Settings, fetcher: Fetcher, report: WebIngestReport,
                 options: CrawlOptions, existing: dict[str, frozenset[str]]) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.report = report
        self.options = options
        self.existing = existing
        self.extracted = settings.web_cache_dir / "extracted"
        self.seen: dict[str, str] = {}  # normalised URL -> the URL first fetched for it
        self.by_key: dict[str, _Kept] = {}  # normalised URL (fetched, final, canonical) -> page
        self.kept: list[_Kept] = []
        self.sources: list[Source] = []
        self.fetched = 0

    def visit(self, task: _Task, enqueue: Callable[[_Task], None]) -> None:
        report = self.report
        try:
            key = normalise_url(task.url)
        except FetchError as e:
            report.failed.append((task.label, str(e)))
            return
        if key in self.seen or key in self.by_key:
            first = self.seen.get(key, "")
            if key in self.by_key and task.url.split("#")[0] != first.split("#")[0]:
                report.duplicates.append((task.url, self.by_key[key].doc_id))
            return
        self.seen[key] = task.url
        if task.depth > 0 and self.options.same_site and site_of(key) != task.root:
            report.failed.append((task.label, f"off-site (--same-site keeps to {task.root})"))
            return
        if task.depth > 0 and self.fetched >= self.options.max_pages:
            report.not_followed.append(task.url)
            return
        self.fetched += 1
        try:
            page = self.fetcher.fetch(task.url)
            self._keep(task, page, enqueue)
        except IngestError as e:
            report.failed.append((task.label, str(e)))

    def _keep(self, task: _Task, page: FetchedPage, enqueue: Callable[[_Task], None]) -> None:
        final_key = normalise_url(page.final_url)
        if final_key in self.by_key:
            self.report.duplicates.append((task.url, self.by_key[final_key].doc_id))
            return
        self.seen.setdefault(final_key, page.final_url)
        if task.depth > 0 and self.options.same_site and site_of(final_key) != task.root:
            raise IngestError(f"redirected off-site to {page.final_url}",
                              "drop --same-site to follow it")
        fmt, suffix, article = self._extract(page)
        seed = task.seed
        # A page keeps its own title and metadata: a manifest's URL may be a guess that lands on
        # another page (a home page, a tag page), which must not pass for the piece. The
        # manifest's values fill only what the page does not say.
        title = article.title or (seed.title if seed else "")
        article = _without_title(article, article.title)
        if not article.text.strip():
            raise IngestError("no main text found on the page", "save it and ingest the file")
        sh = shingles(article.text)
        canonical = self._trusted_canonical(article.canonical, page.final_url, sh)
        canon_key = normalise_url(canonical)
        if dup := self.by_key.get(canon_key):
            self.report.duplicates.append((task.url, dup.doc_id))
            return
        doc_id = seed.doc_id if seed else url_doc_id(canonical)
        if any(k.doc_id == doc_id for k in self.kept):  # two URLs that slug alike
            doc_id = f"{doc_id[:71]}-{hashlib.sha1(canon_key.encode()).hexdigest()[:8]}"
        for other in self.kept:
            if jaccard(sh, other.shingles) >= NEAR_DUPLICATE:
                self.report.duplicates.append((task.url, other.doc_id))
                return
        for other_id, other_sh in self.existing.items():
            if other_id != doc_id and jaccard(sh, other_sh) >= NEAR_DUPLICATE:
                self.report.duplicates.append((task.url, f"{other_id} (already indexed)"))
                return
        title = title or canonical
        publisher = (_named_site(article.sitename, page.final_url)
                     or (seed.publisher if seed else "") or site_of(canonical))
        date = article.date or (seed.date if seed else "")
        author = article.author or (seed.author if seed else "")
        url = canonical
        path = self.extracted / f"{doc_id}{suffix}"
        if fmt == "html":
            rendered = render_article(article, title, url, author, publisher, date)
            _write_if_changed(path, rendered.encode("utf-8"))
        else:
            _write_if_changed(path, page.body)
        # A start URL is the lead article of its own crawl: "the article" of questions (a
        # rebuild's seed says whether the page led its crawl).
        lead = (task.depth == 0 and seed is None) or bool(seed and seed.lead)
        self.sources.append(WebSource(
            doc_id=doc_id, title=title, path=path, format=fmt, publisher=publisher, url=url,
            date=date, license="", author=author, verified=seed.verified if seed else "",
            lead=lead,
        ))
        kept = _Kept(doc_id, url, sh, (task.url, page.final_url), lead)
        self.kept.append(kept)
        for k in {normalise_url(task.url), final_key, canon_key}:
            self.by_key[k] = kept
        self.report.kept.append((doc_id, url))
        if page.from_cache:
            self.report.from_cache.append(task.url)
        if self.options.follow_links and task.depth < self.options.depth:
            for link in article.links:
                enqueue(_Task(link, task.depth + 1, task.root))

    def _extract(self, page: FetchedPage) -> tuple[str, str, Article]:
        ctype = page.content_type
        if ctype in HTML_TYPES:
            if ctype == "" and b"<" not in page.body[:1024]:
                raise IngestError("no content type and not HTML", "save it and ingest the file")
            article = extract_article(decode_html(page.body, page.headers.get(
                "content-type", "")), page.final_url)
            # EUR-Lex pages have a structure-aware loader (article/paragraph locators).
            if detect_format(Path("page.html"), page.body) == "eurlex-html":
                blocks = [("p", b.text) for b in LOADERS["eurlex-html"](page.body)]
                return "eurlex-html", ".html", _with_blocks(article, blocks)
            return "html", ".html", article
        if ctype in OTHER_TYPES:
            fmt, suffix = OTHER_TYPES[ctype]
            blocks = [("p", b.text) for b in LOADERS[fmt](page.body)]
            name = urlsplit(page.final_url).path.rsplit("/", 1)[-1]
            title = re.sub(r"[-_]+", " ", name.rsplit(".", 1)[0]).strip()
            return fmt, suffix, Article(title, "", "", "", "", blocks, [])
        raise IngestError(f"unsupported content type {ctype}",
                          "pages must be HTML, PDF or plain text")

    def _trusted_canonical(self, canonical: str, final_url: str, sh: frozenset[str]) -> str:
        try:
            canon = clean_url(canonical) if canonical else ""
        except FetchError:
            return final_url
        if not canon:
            return final_url
        # Many sites point every page's canonical at their home page; that is no identity.
        if urlsplit(canon).path in ("", "/") and urlsplit(final_url).path not in ("", "/"):
            return final_url
        other = self.by_key.get(normalise_url(canon))
        if other and jaccard(sh, other.shingles) < CANONICAL_MIN_SIMILARITY:
            return final_url
        return canon


def _named_site(sitename: str, url: str) -> str:
    """The site's name as the page states it; "" when it is only the host name (trafilatura
    falls back to that), which says nothing a manifest's publisher should give way to."""
    host = urlsplit(url).netloc.lower()
    bare = sitename.strip().lower()
    return "" if bare in (host, host.removeprefix("www."), host.split(":")[0]) else sitename


def _without_title(article: Article, title: str) -> Article:
    """The headline travels as the title (and with every chunk); as the first line of the text it
    would only be repeated."""
    blocks = article.blocks
    if blocks and blocks[0][0] == "h1" and blocks[0][1].casefold() == title.casefold():
        return _with_blocks(article, blocks[1:])
    return article


def _with_blocks(article: Article, blocks: list[tuple[str, str]]) -> Article:
    return Article(article.title, article.author, article.sitename, article.date,
                   article.canonical, blocks, article.links)


def ingest_urls(
    settings: Settings,
    urls: Sequence[str | Source],
    crawl: CrawlOptions | None = None,
    on_progress: ProgressFn | None = None,
    *,
    rebuild: bool = False,
    progress: bool = True,
) -> WebIngestReport:
    """Fetch `urls` (a Source gives its doc id and metadata, as manifest links do), follow
    their body links `crawl.depth` hops when `crawl.follow_links`, and index every distinct page
    into `settings.collection`. `crawl.max_pages` caps the pages fetched in all; the start URLs
    always go first. Failures are reported per URL and the rest of the batch still goes in."""
    crawl = crawl or CrawlOptions()
    started = time.perf_counter()
    report = WebIngestReport()
    cache = WebCache(settings.web_cache_dir)
    existing = {} if rebuild else _stored_shingles(settings, settings.web_cache_dir / "extracted")
    fetcher = Fetcher(cache, delay_s=crawl.delay_s, timeout_s=crawl.timeout_s,
                      connect_timeout_s=crawl.connect_timeout_s, max_bytes=crawl.max_bytes,
                      offline=crawl.offline)
    crawler = _Crawl(settings, fetcher, report, crawl, existing)
    queue: deque[_Task] = deque()
    for u in urls:
        url = u.url if isinstance(u, Source) else u
        queue.append(_Task(url, 0, site_of(url), u if isinstance(u, Source) else None))
    bar = tqdm(total=len(queue), desc="fetching", unit="page", disable=not progress,
               file=sys.stderr)

    def enqueue(task: _Task) -> None:
        queue.append(task)
        bar.total = (bar.total or 0) + 1
        bar.refresh()

    with fetcher:
        done = 0
        while queue:
            task = queue.popleft()
            bar.set_postfix_str(task.url[-40:])
            if on_progress:
                on_progress(0.5 * done / max(1, done + len(queue) + 1), f"fetching {task.url}")
            crawler.visit(task, enqueue)
            done += 1
            bar.update(1)
    bar.close()
    for url, reason in report.failed:
        log.info("skipped %s: %s", url, reason)
    if crawler.sources:
        def index_progress(frac: float, message: str) -> None:
            if on_progress:
                on_progress(0.5 + 0.5 * frac, message)

        report.index = ingest(settings, crawler.sources, rebuild=rebuild, progress=progress,
                              on_progress=index_progress)
        failed = {Path(name).stem for name, _ in report.index.failed}
        record_pages(settings, [k for k in crawler.kept if k.doc_id not in failed],
                     report.duplicates)
    report.seconds = time.perf_counter() - started
    if on_progress:
        on_progress(1.0, report.summary())
    return report


@dataclass(frozen=True)
class ImportedPage:
    """What a rebuild needs to index an imported page again as it was, and a removal to forget
    it: its doc id, the addresses its web cache entries are keyed by (those it was fetched
    under, then those found to hold the same page), its canonical URL, and whether it led its
    crawl. Kept as `<web cache>/pages/<doc id>.json`."""

    doc_id: str
    urls: tuple[str, ...]
    url: str = ""
    lead: bool = False

    def seed(self) -> Source:
        return Source(doc_id=self.doc_id, title="", path=None, url=self.urls[0],
                      online_only=True, lead=self.lead)


def _pages_dir(settings: Settings) -> Path:
    return settings.web_cache_dir / "pages"


def record_pages(settings: Settings, kept: list[_Kept],
                 duplicates: list[tuple[str, str]]) -> None:
    """Note each indexed page's addresses; a duplicate's address goes with the page it repeats,
    so a rebuild does not index a mirror in place of a page the user removed."""
    _pages_dir(settings).mkdir(parents=True, exist_ok=True)
    same: dict[str, list[str]] = {}
    for url, doc_id in duplicates:
        same.setdefault(doc_id, []).append(url)
    for k in kept:
        old = imported_page(settings, k.doc_id)
        urls = dict.fromkeys([*k.fetched, *same.get(k.doc_id, []), *(old.urls if old else ())])
        data = {"doc_id": k.doc_id, "urls": list(urls), "url": k.url,
                "lead": k.lead or bool(old and old.lead)}
        write_atomic(_pages_dir(settings) / f"{k.doc_id}.json",
                     json.dumps(data, indent=1).encode("utf-8"))


def imported_page(settings: Settings, doc_id: str) -> ImportedPage | None:
    try:
        data = json.loads((_pages_dir(settings) / f"{doc_id}.json").read_text(encoding="utf-8"))
        return ImportedPage(str(data["doc_id"]), tuple(data["urls"]), str(data.get("url", "")),
                            bool(data.get("lead")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def imported_pages(settings: Settings) -> list[ImportedPage]:
    pages = (imported_page(settings, p.stem) for p in sorted(_pages_dir(settings).glob("*.json")))
    return [p for p in pages if p and p.urls]


def forget_page(settings: Settings, doc_id: str, url: str = "") -> list[Path]:
    """Delete what the web cache holds of an imported page: its cache entries, its extracted
    text and its record (a page imported before records were kept is found by its URL). The
    deleted files are returned."""
    page = imported_page(settings, doc_id)
    keys = {normalise_url(u) for u in (page.urls if page else ()) if u}
    if url:
        keys.add(normalise_url(url))
    cache = WebCache(settings.web_cache_dir)
    gone = [] if not keys else cache.remove_where(keys)
    extracted = settings.web_cache_dir / "extracted"
    for path in [*extracted.glob(f"{doc_id}.*"), _pages_dir(settings) / f"{doc_id}.json"]:
        if path.exists():
            path.unlink()
            gone.append(path)
    return gone


def ingest_linked(
    settings: Settings,
    crawl: CrawlOptions | None = None,
    on_progress: ProgressFn | None = None,
    *,
    rebuild: bool = False,
    progress: bool = True,
) -> WebIngestReport:
    """The manifest's `[[linked]]` news pieces: fetched when online (or from the web cache),
    each reported in one line when it cannot be reached."""
    crawl = crawl or CrawlOptions()
    if crawl.connect_timeout_s is None:
        crawl = replace(crawl, connect_timeout_s=LINKED_CONNECT_TIMEOUT_S)
    linked = load_manifest(settings.corpus_manifest).linked
    report = ingest_urls(settings, [s for s in linked if s.url], crawl, on_progress,
                         rebuild=rebuild, progress=progress)
    report.not_fetched = [
        (s.doc_id, "no known URL: listed in the manifest only"
         + (f" ({s.note})" if s.note else "")) for s in linked if not s.url]
    return report
