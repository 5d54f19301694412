"""Fetching: pure helpers (normalisation, near-duplicates, body-only links) with exact values, and
the Fetcher against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import time

import pytest

from assistant.errors import FetchError
from assistant.ingest import fetcher as fetcher_module
from assistant.ingest.extract import body_links, extract_article
from assistant.ingest.fetcher import Fetcher
from assistant.ingest.near_duplicates import jaccard, shingles
from assistant.ingest.urls import clean_url, normalise_url, site_of
from assistant.ingest.web_cache import WebCache
from tests.helpers import SITE, free_port, serve

# -- normalisation ----------------------------------------------------------------------------


def test_normalise_drops_tracking_fragment_trailing_slash_and_default_port():
    assert normalise_url(
        "HTTPS://Example.COM:443/News/Story/?utm_source=x&b=2&fbclid=abc&a=1&gclid=z#comments"
    ) == "https://example.com/News/Story?a=1&b=2"
    assert normalise_url("http://example.com") == "http://example.com/"
    assert normalise_url("http://example.com/") == "http://example.com/"
    assert normalise_url("http://example.com:8080/a/") == "http://example.com:8080/a"
    assert normalise_url("http://example.com/a%2fb") == "http://example.com/a%2Fb"
    assert normalise_url("http://example.com/a?utm_medium=email") == "http://example.com/a"


def test_two_spellings_of_one_page_share_a_key():
    a = "https://www.example.com/story?id=7&utm_campaign=summer"
    b = "https://www.example.com/story/?id=7#section-2"
    assert normalise_url(a) == normalise_url(b)


def test_clean_url_keeps_the_path_as_given():
    # The request goes to the page as linked, minus tracking and fragment.
    assert clean_url("http://Example.com/dir/?utm_source=a&q=1#top") == "http://example.com/dir/?q=1"


def test_non_http_urls_are_refused_with_a_message():
    for url in ("ftp://example.com/file.txt", "file:///etc/passwd", "mailto:a@example.com",
                "javascript:alert(1)", "/relative/path.html"):
        with pytest.raises(FetchError, match="http"):
            normalise_url(url)
    with pytest.raises(FetchError, match="not an http"):
        Fetcher(None, delay_s=0).fetch("file:///etc/passwd")


def test_site_ignores_www_and_port():
    assert site_of("https://www.Example.com:8443/a") == "example.com"
    assert site_of("http://offsite.invalid/x") == "offsite.invalid"


# -- near duplicates --------------------------------------------------------------------------


def _text(name: str) -> str:
    page = SITE / name
    return extract_article(page.read_text(encoding="utf-8"), "http://127.0.0.1/" + name).text


def test_shingles_and_jaccard_exact_values():
    assert shingles("One two three four five six") == {"one two three four five",
                                                        "two three four five six"}
    assert shingles("Too short") == {"too short"}
    assert shingles("") == frozenset()
    a = shingles("a b c d e f")
    b = shingles("a b c d e g")
    assert jaccard(a, b) == pytest.approx(1 / 3)
    assert jaccard(a, a) == 1.0
    assert jaccard(frozenset(), frozenset()) == 1.0


def test_syndicated_copy_is_a_near_duplicate_and_the_article_is_not():
    original = shingles(_text("linked/open-weights-charter.html"))
    reprint = shingles(_text("syndicated/charter-reprint.html"))
    article = shingles(_text("news/eu-ai-rules.html"))
    assert jaccard(original, reprint) >= 0.9
    assert jaccard(original, article) < 0.1


# -- extraction and body links ----------------------------------------------------------------


def test_body_links_skip_menus_footers_and_comments():
    base = "http://127.0.0.1:8000/news/eu-ai-rules.html"
    links = body_links((SITE / "news" / "eu-ai-rules.html").read_text(encoding="utf-8"), base)
    assert links == [
        "http://127.0.0.1:8000/linked/open-weights-charter.html",
        "http://127.0.0.1:8000/mirror/open-weights-charter.html?utm_source=newsletter&utm_medium"
        "=email",
        "http://127.0.0.1:8000/syndicated/charter-reprint.html?fbclid=abc123",
        "http://127.0.0.1:8000/linked/open-weights-charter.html?utm_campaign=summer#section-2",
        "http://127.0.0.1:8000/linked/withdrawn-memo.html",
        "http://127.0.0.1:8000/private/draft-response.html",
        "http://offsite.invalid/analysis/quillfeather.html",
    ]


def test_body_links_fall_back_to_the_article_element():
    # Too little text for trafilatura to keep links: the <article> element gives them, without
    # its <nav>; relative links resolve against the page, not the site root.
    html = """<html><body><nav><a href="/menu">Menu</a></nav>
    <article><nav><a href="/inner-menu">In-article menu</a></nav>
    <p>See <a href="other.html">this</a> and <a href="mailto:x@example.com">mail</a>.</p>
    </article><footer><a href="/terms">Terms</a></footer></body></html>"""
    assert body_links(html, "http://h.example/dir/page.html") == ["http://h.example/dir/other.html"]


def test_relative_links_resolve_against_the_page_and_base_href():
    para = ("<p>The regulators published <a href='other.html'>the new guidance</a> on Monday, "
            "and critics pointed to <a href='../up.html?x=2'>an earlier report</a> for a "
            "comparison with the current draft of the rules.</p>")
    filler = "<p>" + "The rest of the article goes on about the rules in detail. " * 20 + "</p>"
    page = f"<html><body><article>{para}{filler}</article></body></html>"
    assert body_links(page, "http://h.example/dir/sub/page.html") == [
        "http://h.example/dir/sub/other.html", "http://h.example/dir/up.html?x=2"]
    based = page.replace("<body>", "<head><base href='http://cdn.example/b/'></head><body>")
    assert body_links(based, "http://h.example/dir/sub/page.html") == [
        "http://cdn.example/b/other.html", "http://cdn.example/up.html?x=2"]


def test_extract_article_metadata_and_main_text():
    page = (SITE / "news" / "eu-ai-rules.html").read_text(encoding="utf-8")
    art = extract_article(page, "http://127.0.0.1:8000/news/eu-ai-rules.html?utm_source=x")
    assert art.title == "Tech Firms Criticise the Quillfeather Rules"
    assert art.author == "Dana Whitlock"
    assert art.sitename == "Harbor Ledger"
    assert art.date == "2024-08-23"
    assert art.canonical == "http://127.0.0.1:8000/news/eu-ai-rules.html"
    assert "fragmented regulation" in art.text
    for junk in ("marmalade", "periwinkle", "Zephyr", "Gadget Reviews", "advertising partners",
                 "grumpy_walrus", "Leave a comment"):
        assert junk not in art.text


# -- the Fetcher against a local server -------------------------------------------------------


def test_fetch_caches_and_reads_back_offline(tmp_path):
    cache = WebCache(tmp_path / "cache")
    with serve(SITE) as server:
        url = f"{server.base}/linked/open-weights-charter.html?utm_source=x#top"
        with Fetcher(cache, delay_s=0) as f:
            page = f.fetch(url)
        assert page.status == 200 and not page.from_cache
        assert page.final_url == f"{server.base}/linked/open-weights-charter.html"
        assert page.content_type == "text/html"
        assert b"Open Weights Charter" in page.body
        assert server.paths() == ["/robots.txt", "/linked/open-weights-charter.html"]
    # Server gone: an offline fetcher and a connection failure both answer from the cache.
    with Fetcher(cache, delay_s=0, offline=True) as f:
        again = f.fetch(f"{server.base}/linked/open-weights-charter.html/")
    assert again.from_cache and again.body == page.body
    assert again.fetched_at == page.fetched_at
    with Fetcher(cache, delay_s=0) as f:
        assert f.fetch(f"{server.base}/linked/open-weights-charter.html").from_cache
        with pytest.raises(FetchError, match="cannot connect") as e:
            f.fetch(f"{server.base}/news/eu-ai-rules.html")
        assert e.value.connection


def test_redirects_are_followed_hop_by_hop_and_cached_under_both_urls(tmp_path):
    cache = WebCache(tmp_path)
    with serve(SITE) as server, Fetcher(cache, delay_s=0) as f:
        page = f.fetch(f"{server.base}/moved")
        assert page.final_url == f"{server.base}/linked/open-weights-charter.html"
        assert page.status == 200
        with pytest.raises(FetchError, match="robots.txt disallows"):
            f.fetch(f"{server.base}/to-private")
        assert "/private/draft-response.html" not in server.paths()
        # Fetched again: the server's Last-Modified lets it answer 304, and the cache serves.
        again = f.fetch(f"{server.base}/moved")
        target = f.fetch(f"{server.base}/linked/open-weights-charter.html")
    assert again.from_cache and again.body == page.body
    assert target.from_cache  # cached under the redirect target too: revalidated with a 304
    assert server.paths().count("/linked/open-weights-charter.html") == 3  # utm_source dropped


def test_offline_without_cache_says_so(tmp_path):
    with Fetcher(WebCache(tmp_path), offline=True) as f, pytest.raises(
        FetchError, match="not in the web cache"
    ):
        f.fetch("http://127.0.0.1:9/page.html")


def test_robots_disallow_is_respected_and_missing_robots_allows(tmp_path):
    with serve(SITE) as server, Fetcher(None, delay_s=0) as f:
        with pytest.raises(FetchError, match="robots.txt disallows"):
            f.fetch(f"{server.base}/private/draft-response.html")
        assert "/private/draft-response.html" not in server.paths()
    (tmp_path / "page.html").write_text("<html><body><p>no robots here</p></body></html>")
    with serve(tmp_path) as server, Fetcher(None, delay_s=0) as f:
        assert f.fetch(f"{server.base}/page.html").status == 200
        assert server.paths() == ["/robots.txt", "/page.html"]  # robots.txt answered 404


def test_http_errors_size_limit_timeout_and_bad_redirects(tmp_path):
    with serve(SITE) as server, Fetcher(None, delay_s=0, timeout_s=0.5,
                                        max_bytes=1_000_000) as f:
        with pytest.raises(FetchError, match="HTTP 404 Not Found"):
            f.fetch(f"{server.base}/linked/withdrawn-memo.html")
        with pytest.raises(FetchError, match="too big: 50.0 MB"):
            f.fetch(f"{server.base}/big-declared")
        with pytest.raises(FetchError, match="too big: over the 1 MB limit"):
            f.fetch(f"{server.base}/big-streamed")
        with pytest.raises(FetchError, match="timed out"):
            f.fetch(f"{server.base}/slow")
        with pytest.raises(FetchError, match="non-http"):
            f.fetch(f"{server.base}/to-ftp")


class _StoppedClock:
    """The fetcher's clock, stopped: requests take no time and each sleep is recorded (and moves
    the clock on), so the delay is checked by what the fetcher asks for, not by timing it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)


def test_politeness_delay_between_requests_to_one_host(monkeypatch):
    clock = _StoppedClock()
    monkeypatch.setattr(fetcher_module, "time", clock)
    with serve(SITE) as server, Fetcher(None, delay_s=0.3) as f:
        f.fetch(f"{server.base}/linked/open-weights-charter.html")
        f.fetch(f"{server.base}/news/eu-ai-rules.html")
        paths = server.paths()
    assert paths == ["/robots.txt", "/linked/open-weights-charter.html", "/news/eu-ai-rules.html"]
    # The first request to the host goes at once; each later one waits out the whole delay.
    assert clock.sleeps == [pytest.approx(0.3), pytest.approx(0.3)]


def test_no_delay_once_it_has_passed(monkeypatch):
    clock = _StoppedClock()
    monkeypatch.setattr(fetcher_module, "time", clock)
    with serve(SITE) as server, Fetcher(None, delay_s=0.3) as f:
        f.fetch(f"{server.base}/linked/open-weights-charter.html")
        clock.now += 0.2  # some of the delay has passed (the caller was busy)
        f.fetch(f"{server.base}/news/eu-ai-rules.html")
    assert clock.sleeps == [pytest.approx(0.3), pytest.approx(0.1)]


def test_unreachable_hosts_in_a_row_mean_offline_and_stop_trying():
    ports = [free_port() for _ in range(2)]
    with serve(SITE) as server, Fetcher(None, delay_s=0, connect_timeout_s=2) as f:
        for port in ports:
            with pytest.raises(FetchError, match="cannot connect"):
                f.fetch(f"http://127.0.0.1:{port}/a.html")
        # A host that would answer is not even asked: two hosts failed and none answered.
        with pytest.raises(FetchError, match="offline"):
            f.fetch(f"{server.base}/linked/open-weights-charter.html")
        assert server.paths() == []
