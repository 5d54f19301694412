"""The polite fetcher, the I/O edge of web ingest: http(s) only, robots.txt, a per-host delay,
timeouts, a size cap, and the web cache as a fallback when a host cannot be reached."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from assistant.errors import FetchError
from assistant.ingest.urls import clean_url, normalise_url, origin_of
from assistant.ingest.web_cache import KEPT_HEADERS, FetchedPage, WebCache

log = logging.getLogger(__name__)

USER_AGENT = "article-assistant/0.1 (local, private RAG ingest; respects robots.txt)"
ROBOTS_AGENT = "article-assistant"
DEFAULT_TIMEOUT_S = 15.0
DEFAULT_MAX_BYTES = 10_000_000
DEFAULT_DELAY_S = 1.0
MAX_REDIRECTS = 10
REDIRECTS = {301, 302, 303, 307, 308}
ACCEPT = "text/html,application/xhtml+xml,application/pdf;q=0.9,text/plain;q=0.8,*/*;q=0.5"


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
        origin = origin_of(target)
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
        origin = origin_of(url)
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
            with self._turn(origin_of(current)):
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



def _short(e: BaseException) -> str:
    return (str(e) or type(e).__name__).splitlines()[0][:160]
