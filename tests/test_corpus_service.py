"""The corpus service end to end (real Chroma, real MiniLM, the fixture site on 127.0.0.1): what
the corpus holds is the same whoever asks. A rebuild from the CLI keeps the pages imported by URL
(as the article that led the import, the linked page not), a removed upload or imported page does
not come back on a re-index or a rebuild, and a mirror of a removed page does not take its place.
The UI's Rebuild is tested through the running app in tests/test_ui_app.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.ingest.corpus_service import CorpusService
from assistant.ingest.web import CrawlOptions, url_doc_id
from assistant.offline import OFFLINE_ENV
from assistant.settings import Settings, load_settings
from tests.helpers import REPO, SITE, SMALL_DOCS, free_port, serve, small_manifest

pytestmark = pytest.mark.slow

ARTICLE = "/news/eu-ai-rules.html"
CHARTER = "/linked/open-weights-charter.html"
NOTES = "The harbour ferry to Lindholm leaves at nine every morning from pier four.\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, str]:
    """Two shipped documents, an upload, and an article imported with the pages it links to
    (the crawl also meets a mirror of the charter, stored once)."""
    base = tmp_path_factory.mktemp("corpus")
    manifest = small_manifest(base / "index")
    settings = load_settings(data_dir=base / "data", corpus_manifest=manifest)
    corpus = CorpusService(settings)
    assert not corpus.reindex()[0].failed
    notes = base / "harbour-notes.txt"
    notes.write_text(NOTES, encoding="utf-8")
    report, skipped = corpus.add_files([notes])
    assert report.added == ["harbour-notes"] and not skipped
    with serve(SITE) as site:
        web = corpus.import_urls([site.base + ARTICLE],
                                 CrawlOptions(follow_links=True, same_site=True, delay_s=0))
        article, charter = url_doc_id(site.base + ARTICLE), url_doc_id(site.base + CHARTER)
    assert (article, site.base + ARTICLE) in web.kept and charter in dict(web.kept)
    assert any(doc == charter for _, doc in web.duplicates)  # the mirror, stored once
    return base / "data", manifest, article, charter


def copy_of(built: tuple[Path, Path, str, str], tmp_path: Path) -> Settings:
    shutil.copytree(built[0], tmp_path / "data", symlinks=True)
    return load_settings(data_dir=tmp_path / "data", corpus_manifest=built[1])


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **OFFLINE_ENV, "PYTHONPATH": str(REPO),
           "ASSISTANT_CORPUS_MANIFEST": str(settings.corpus_manifest)}
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", "ingest", *args, "--data-dir",
         str(settings.data_dir)], capture_output=True, text=True, env=env, timeout=600, cwd=REPO)


def leads(settings: Settings) -> dict[str, bool]:
    records = CorpusService(settings).records()
    return {doc_id: r.meta.get("lead") == "true" for doc_id, r in records.items()}


def test_a_cli_rebuild_keeps_the_imported_pages_as_they_were(built, tmp_path: Path) -> None:
    settings = copy_of(built, tmp_path)
    _, _, article, charter = built
    before = leads(settings)
    assert sorted(before) == sorted([*SMALL_DOCS, "harbour-notes", article, charter])
    done = cli(settings, "--rebuild")
    assert done.returncode == 0, done.stderr
    assert "2 shipped documents, 1 uploads, 2 web pages from the cache" in done.stdout
    # The same documents, and the imported article is still the lead, its linked page not.
    assert leads(settings) == before
    assert before[article] and not before[charter]


def test_a_removed_upload_is_gone_with_its_file(built, tmp_path: Path) -> None:
    settings = copy_of(built, tmp_path)
    done = cli(settings, "--remove", "harbour-notes")
    assert done.returncode == 0, done.stderr
    assert "Removed harbour-notes. Deleted the 1 file(s) kept for it" in done.stdout
    assert not any(settings.uploads_dir.iterdir())
    corpus = CorpusService(settings)
    corpus.reindex()
    assert "harbour-notes" not in corpus.records()
    corpus.rebuild()
    assert "harbour-notes" not in corpus.records()


def test_a_removed_page_does_not_come_back_even_through_its_mirror(built, tmp_path: Path
                                                                    ) -> None:
    settings = copy_of(built, tmp_path)
    _, _, article, charter = built
    corpus = CorpusService(settings)
    removed = corpus.remove(charter)
    assert removed.indexed and not removed.shipped
    # Its cache entries (the page, the mirror that repeats it) and its extracted text.
    assert sum(f.suffix == ".body" for f in removed.files) >= 2
    assert not (settings.web_cache_dir / "extracted" / f"{charter}.html").exists()
    report = corpus.rebuild()
    assert report.web == [article]
    assert charter not in corpus.records() and article in corpus.records()


def test_removing_a_shipped_document_says_a_re_index_brings_it_back(built, tmp_path: Path
                                                                    ) -> None:
    settings = copy_of(built, tmp_path)
    corpus = CorpusService(settings)
    removed = corpus.remove(SMALL_DOCS[0])
    assert removed.indexed and removed.files == []
    assert "a re-index brings it back" in removed.summary()
    corpus.reindex()
    assert SMALL_DOCS[0] in corpus.records()


def test_the_ui_rebuild_keeps_an_imported_page_and_a_removal_holds(built, tmp_path: Path
                                                                    ) -> None:
    """Through the running app, as a user clicks: import a URL in the Corpus tab, Rebuild, the
    page is still listed; Remove it, Re-index, it stays gone."""
    from gradio_client import Client

    from ui.app import build_app

    settings = copy_of(built, tmp_path)
    app = build_app(settings, runs_dir=tmp_path / "runs")
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        c = Client(f"http://127.0.0.1:{port}/", verbose=False, analytics_enabled=False,
                   download_files=False)
        with serve(SITE) as site:
            page = url_doc_id(site.base + "/linked/bare-notice.html")
            report, table, _ = c.predict(site.base + "/linked/bare-notice.html", False, 1, False,
                                         20, api_name="/import_url")
        assert page in report

        def listed() -> list[str]:
            table, _ = c.predict(api_name="/list_documents")
            return [row[0] for row in table["value"]["data"]]

        report, _, _ = c.predict(True, api_name="/reindex")
        assert "3 web pages from the cache" in report
        assert page in listed() and built[2] in listed()
        report, _, _ = c.predict(page, api_name="/remove_document")
        assert f"Removed {page}" in report
        c.predict(False, api_name="/reindex")
        assert page not in listed()
        c.predict(True, api_name="/reindex")
        assert page not in listed() and built[2] in listed()
    finally:
        app.close()


def test_doctor_names_an_imported_page_missing_from_the_index(built, tmp_path: Path) -> None:
    from assistant.doctor import check
    from assistant.store.chroma import open_store

    settings = copy_of(built, tmp_path)
    article = built[2]
    assert check(settings).findings == []
    # Dropped from the index behind the service's back (an older version's remove did this).
    open_store(settings).remove_document(article)
    found = [f for f in check(settings).findings if article in f.what]
    assert len(found) == 1 and "assistant ingest --rebuild" in found[0].fix
