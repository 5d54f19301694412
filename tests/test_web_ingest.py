"""Web ingest end to end: a fixture site on 127.0.0.1, the real MiniLM and a real Chroma store.

The site (tests/data/site) has an article with a menu, cookie banner, comment box and footer,
whose body links to a normal page, a mirrored copy (canonical link + utm parameters), a
syndicated reprint (near-duplicate text, fbclid), the normal page again under another spelling,
a 404, a robots.txt-disallowed page and an off-site host that resolves to nothing.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from typing import Any

import pytest

from assistant.ingest.web import CrawlOptions, ingest_linked, ingest_urls, url_doc_id
from assistant.settings import load_settings
from assistant.store.chroma import open_store
from tests.helpers import SITE, TEST_MODEL, free_port, serve

ARTICLE = "/news/eu-ai-rules.html"
CHARTER = "/linked/open-weights-charter.html"
COLLECTION = "web"
JUNK = ("marmalade", "periwinkle", "Zephyr", "Gadget Reviews", "Markets Coverage",
        "advertising partners", "grumpy_walrus", "Leave a comment", "Privacy policy")
QUESTION = "How long must training data provenance logs be retained under the Open Weights Charter?"
CRAWL = CrawlOptions(follow_links=True, same_site=True, delay_s=0)


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Any:
    data_dir = tmp_path_factory.mktemp("web-data")
    settings = load_settings(data_dir=data_dir, collection=COLLECTION)
    with serve(SITE) as server:
        report = ingest_urls(
            settings, [f"{server.base}{ARTICLE}?utm_source=twitter"], CRAWL, progress=False,
        )
        paths = server.paths()
        yield {"settings": settings, "report": report, "server": server, "paths": paths}


def _ids(crawled: Any) -> tuple[str, str]:
    base = crawled["server"].base
    return url_doc_id(base + ARTICLE), url_doc_id(base + CHARTER)


def test_article_and_linked_page_are_kept_with_their_metadata(crawled):
    report, base = crawled["report"], crawled["server"].base
    article_id, charter_id = _ids(crawled)
    assert report.kept == [(article_id, base + ARTICLE), (charter_id, base + CHARTER)]
    records = open_store(crawled["settings"]).doc_records()
    assert set(records) == {article_id, charter_id}
    article = records[article_id].meta
    assert article["title"] == "Tech Firms Criticise the Quillfeather Rules"
    assert article["url"] == base + ARTICLE  # canonical: no utm_source
    assert article["author"] == "Dana Whitlock"
    assert article["publisher"] == "Harbor Ledger"
    assert article["date"] == "2024-08-23"
    charter = records[charter_id].meta
    assert charter["title"] == "The Open Weights Charter"
    assert charter["url"] == base + CHARTER
    assert charter["publisher"] == "Lantern Foundation"
    assert report.index is not None and report.index.added == [article_id, charter_id]


def test_duplicates_are_stored_once(crawled):
    report, base = crawled["report"], crawled["server"].base
    _, charter_id = _ids(crawled)
    dups = dict(report.duplicates)
    assert dups == {
        f"{base}/mirror/open-weights-charter.html?utm_source=newsletter&utm_medium=email":
            charter_id,  # canonical link
        f"{base}/syndicated/charter-reprint.html?fbclid=abc123": charter_id,  # near-duplicate
        f"{base}{CHARTER}?utm_campaign=summer#section-2": charter_id,  # same URL, other spelling
    }
    chunks = open_store(crawled["settings"]).all_chunks()
    provenance = [c for c in chunks if "provenance logs must be retained" in c.text]
    assert len(provenance) == 1
    assert "first appeared" not in " ".join(c.text for c in chunks)
    # The spelling variant was never requested; each page once, robots.txt once.
    assert crawled["paths"].count(CHARTER) == 1
    assert crawled["paths"].count("/robots.txt") == 1


def test_failures_are_reported_per_url_and_not_fetched(crawled):
    report, base = crawled["report"], crawled["server"].base
    failed = dict(report.failed)
    assert failed.keys() == {f"{base}/linked/withdrawn-memo.html",
                             f"{base}/private/draft-response.html",
                             "http://offsite.invalid/analysis/quillfeather.html"}
    assert failed[f"{base}/linked/withdrawn-memo.html"].startswith("HTTP 404")
    assert "robots.txt disallows" in failed[f"{base}/private/draft-response.html"]
    assert "off-site" in failed["http://offsite.invalid/analysis/quillfeather.html"]
    assert "/private/draft-response.html" not in crawled["paths"]
    assert report.skipped == report.failed  # nothing failed to index


def test_menus_banners_comments_and_footers_stay_out_of_the_chunks(crawled):
    chunks = open_store(crawled["settings"]).all_chunks()
    text = "\n".join(c.text for c in chunks)
    assert "fragmented regulation creates uncertainty" in text
    for junk in JUNK:
        assert junk not in text, junk
    # Menu and footer links were not followed.
    assert not [p for p in crawled["paths"] if p.startswith(("/section", "/privacy", "/terms"))]


def test_the_collection_is_honoured(crawled):
    other = load_settings(data_dir=crawled["settings"].data_dir)  # the default collection
    assert open_store(other).doc_records() == {}


def test_a_question_about_the_linked_page_retrieves_it(crawled):
    from assistant.chat import ChatService

    _, charter_id = _ids(crawled)
    found = ChatService(crawled["settings"]).retrieve(QUESTION)
    top = found.passages[0]
    assert top.doc_id == charter_id
    assert top.url == crawled["server"].base + CHARTER
    assert "seven years" in top.text


@pytest.mark.slow
def test_the_model_answers_from_the_linked_page(crawled):
    from assistant.chat import ChatService

    _, charter_id = _ids(crawled)
    result = ChatService(crawled["settings"]).ask(QUESTION, model_spec=TEST_MODEL)
    assert charter_id in [p.doc_id for p in result.retrieved]
    assert {c["doc_id"] for c in result.citations()} <= {charter_id, *_ids(crawled)}


def test_second_run_with_the_server_stopped_uses_the_cache(crawled):
    crawled["server"].stop()
    settings, first = crawled["settings"], crawled["report"]
    again = ingest_urls(settings, [f"{crawled['server'].base}{ARTICLE}"], CRAWL, progress=False)
    assert again.kept == first.kept
    assert len(again.from_cache) == 2
    assert again.index is not None and again.index.unchanged == [k for k, _ in first.kept]
    assert dict(again.duplicates).keys() == dict(first.duplicates).keys()
    # Offline-only mode rebuilds the same corpus from the cache into a fresh collection.
    rebuilt = load_settings(data_dir=settings.data_dir, collection="rebuilt")
    offline = ingest_urls(
        rebuilt, [f"{crawled['server'].base}{ARTICLE}"], replace(CRAWL, offline=True),
        progress=False,
    )
    assert offline.kept == first.kept
    original = {c.chunk_id: c.text for c in open_store(settings).all_chunks()}
    assert {c.chunk_id: c.text for c in open_store(rebuilt).all_chunks()} == original
    reasons = dict(offline.failed)
    assert all("not in the web cache" in reasons[u] for u in reasons if "offsite" not in u)


def test_fetch_linked_fetches_what_is_online_and_skips_the_rest(tmp_path):
    dead = [free_port() for _ in range(3)]
    with serve(SITE) as server:
        manifest = tmp_path / "sources.toml"
        manifest.write_text(f'''
[[linked]]
doc_id = "lantern-open-weights-charter"
title = "A guessed title that is not the page's"
publisher = "A guessed publisher"
author = "A guessed author"
url = "{server.base}{CHARTER}"
date = "2023-01-01"
verified = "unverified"

[[linked]]
doc_id = "unreachable-news-piece"
title = "A news piece on a host that is down"
url = "http://127.0.0.1:{dead[0]}/story.html"

[[linked]]
doc_id = "piece-without-a-known-url"
title = "An op-ed whose address nobody checked"
url = ""
note = "the site's home page is not the piece"
''', encoding="utf-8")
        settings = load_settings(data_dir=tmp_path / "data", corpus_manifest=manifest)
        report = ingest_linked(settings, CrawlOptions(delay_s=0), progress=False)
        asked = server.paths()
    assert report.kept == [("lantern-open-weights-charter", f"{server.base}{CHARTER}")]
    meta = open_store(settings).doc_records()["lantern-open-weights-charter"].meta
    # The page's own metadata wins over the manifest's guesses; the URL's status travels along.
    assert meta["title"] == "The Open Weights Charter"
    assert meta["publisher"] == "Lantern Foundation"
    assert meta["author"] == "Lantern Foundation"
    assert meta["date"] == "2024-06-02"
    assert meta["verified"] == "unverified"
    # Listed without a URL: reported, never fetched, not a failure.
    assert report.not_fetched == [("piece-without-a-known-url", "no known URL: listed in the "
                                   "manifest only (the site's home page is not the piece)")]
    assert "1 listed without a known URL (not fetched)" in report.summary()
    assert asked == ["/robots.txt", CHARTER]
    assert [o.status for o in report.outcomes()] == ["kept", "skipped", "not fetched"]
    (label, reason), = report.failed
    assert label == f"unreachable-news-piece (http://127.0.0.1:{dead[0]}/story.html)"
    assert "cannot connect" in reason

    # Wholly offline: fetched entries come from the cache; the rest are skipped quickly, one
    # line each; once two hosts have failed and none answered, the rest are not even tried.
    manifest.write_text(manifest.read_text() + "".join(f'''
[[linked]]
doc_id = "offline-{i}"
title = "Offline piece {i}"
url = "http://127.0.0.1:{port}/story.html"
''' for i, port in enumerate(dead[1:])), encoding="utf-8")
    offline = ingest_linked(settings, CrawlOptions(delay_s=0), progress=False)
    assert [k for k, _ in offline.kept] == ["lantern-open-weights-charter"]
    assert offline.from_cache == [f"{server.base}{CHARTER}"]
    reasons = [r for _, r in offline.failed]
    assert len(reasons) == 3
    assert "cannot connect" in reasons[0]
    assert all("offline? (2 hosts unreachable, none answered); not in the web cache" in r
               for r in reasons[1:])


def test_manifest_values_fill_only_what_the_page_lacks(tmp_path):
    with serve(SITE) as server:
        manifest = tmp_path / "sources.toml"
        manifest.write_text(f'''
[[linked]]
doc_id = "port-quillan-notice"
title = "Port Quillan signal station to become a museum"
publisher = "Port Quillan Harbour Authority"
author = "Harbour office"
url = "{server.base}/linked/bare-notice.html"
date = "2024-05-01"
verified = "slug-seen"
''', encoding="utf-8")
        settings = load_settings(data_dir=tmp_path / "data", corpus_manifest=manifest)
        report = ingest_linked(settings, CrawlOptions(delay_s=0), progress=False)
    assert [k for k, _ in report.kept] == ["port-quillan-notice"], report.failed
    meta = open_store(settings).doc_records()["port-quillan-notice"].meta
    assert meta["title"] == "Port Quillan signal station to become a museum"
    assert meta["publisher"] == "Port Quillan Harbour Authority"
    assert meta["author"] == "Harbour office"
    assert meta["date"] == "2024-05-01"
    assert meta["verified"] == "slug-seen"


def test_the_shipped_manifest_lists_the_checked_links():
    from assistant.corpus import load_manifest
    from assistant.settings import REPO_ROOT

    linked = {s.doc_id: s for s in load_manifest(REPO_ROOT / "index" / "sources.toml").linked}
    # The pieces the article cites, as checked in corpus-sources/LINKED.md.
    assert {"tnw-meta-spotify-ceos-slap-down", "noyb-meta-stops-ai-plans", "noyb-11-complaints",
            "axios-meta-multimodal-eu", "verge-meta-multimodal-llama-eu"} <= linked.keys()
    economist = linked["economist-zuckerberg-ek-op-ed"]
    assert economist.url == "" and economist.verified == "unverified"  # not the home page
    assert linked["noyb-meta-stops-ai-plans"].verified == "verified"
    assert all(s.verified in ("verified", "slug-seen", "unverified") for s in linked.values())
    assert all(s.url.startswith("https://") for s in linked.values() if s.url)


def test_a_bad_link_status_is_refused_with_the_valid_ones(tmp_path):
    from assistant.corpus import load_manifest
    from assistant.errors import CorpusError

    manifest = tmp_path / "sources.toml"
    manifest.write_text('[[linked]]\ndoc_id = "x"\ntitle = "X"\nurl = ""\nverified = true\n')
    with pytest.raises(CorpusError) as e:
        load_manifest(manifest)
    assert "verified = True" in e.value.message
    assert e.value.hint == "use one of verified, slug-seen, unverified"


@pytest.mark.slow
def test_cli_ingest_url_reports_failures_and_exits_1(tmp_path):
    with serve(SITE) as server:
        run = subprocess.run(
            [sys.executable, "-m", "assistant.cli", "ingest", "--url", server.base + ARTICLE,
             "--url", "ftp://127.0.0.1/file.txt", "--follow-links", "--same-site",
             "--delay", "0", "--data-dir", str(tmp_path), "--collection", COLLECTION],
            capture_output=True, text=True, timeout=300,
        )
    assert run.returncode == 1, run.stderr
    assert "2 pages kept, 3 duplicates, 4 failed" in run.stdout
    assert "2 added" in run.stdout
    err = run.stderr
    assert f"skipped {server.base}/linked/withdrawn-memo.html: HTTP 404 Not Found" in err
    assert f"skipped {server.base}/private/draft-response.html: robots.txt disallows" in err
    assert "skipped http://offsite.invalid/analysis/quillfeather.html: off-site" in err
    assert "skipped ftp://127.0.0.1/file.txt: not an http(s) URL" in err
    listed = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "ingest", "--list", "--data-dir", str(tmp_path),
         "--collection", COLLECTION], capture_output=True, text=True, timeout=300,
    )
    assert "The Open Weights Charter" in listed.stdout
