"""A new user's path on a phone-size screen (390x844) in a real headless Chromium, by keyboard:
import an article from its URL (a local test site) with the pages it links to, see them in the
document list, ask about just that article, stop an answer with Esc; the page passes an axe-core
scan with no critical violations. Real Chroma, the bundled MiniLM and SmolLM2.

Screenshots and the axe results go to test-output/ (git-ignored)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.ingest.web import url_doc_id
from tests.helpers import SITE, serve
from tests.test_ui_app import serve_app
from tests.test_ui_browser import ARGS, CHROMIUM, OUTPUT

ARTICLE = "/news/eu-ai-rules.html"
CHARTER = "/linked/open-weights-charter.html"
ARTICLE_TITLE = "Tech Firms Criticise the Quillfeather Rules"
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="needs Debian's chromium at /usr/bin/chromium "
                       "(apt-get install chromium, or `make browser`)"),
]


def axe_script() -> Path | None:
    """axe-core's axe.min.js: $AXE_CORE_JS, or where `make browser` or `npm install axe-core`
    put it."""
    root = Path(__file__).resolve().parents[1]
    for candidate in (os.environ.get("AXE_CORE_JS", ""),
                      root / "test-output" / "axe" / "node_modules" / "axe-core" / "axe.min.js",
                      root / "node_modules" / "axe-core" / "axe.min.js",
                      "/tmp/axe/node_modules/axe-core/axe.min.js"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serve(SITE) as server:
        yield server.base


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app, url, _ = serve_app(tmp_path_factory.mktemp("ui-phone"))
    try:
        yield url
    finally:
        app.close()


@pytest.fixture(scope="module")
def page(served: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport=PHONE, has_touch=True)
        page = context.new_page()
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(served)
        page.wait_for_selector("#question textarea")
        page.errors = errors  # type: ignore[attr-defined]
        yield page
        browser.close()


def shot(page: Any, name: str) -> Path:
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / name
    page.screenshot(path=str(path))
    return path


def fits_the_screen(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways: {width}px wide"


def critical_violations(page: Any, name: str) -> list[dict[str, Any]]:
    script = axe_script()
    if script is None:
        pytest.skip("axe-core not found: `make browser`, or `npm install axe-core` and set "
                    "AXE_CORE_JS to its axe.min.js")
    page.add_script_tag(path=str(script))
    violations = page.evaluate(
        "async () => (await axe.run(document)).violations.map(v => ({id: v.id, impact: v.impact,"
        " help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))")
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / f"axe-{name}.json").write_text(json.dumps(violations, indent=1), encoding="utf-8")
    return [v for v in violations if v["impact"] == "critical"]


def test_import_an_article_and_its_links_from_the_corpus_tab(page: Any, site: str) -> None:
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Corpus").click()
    page.fill("#import-url input, #import-url textarea", site + ARTICLE)
    page.check("#import-follow input")
    page.check("#import-same-site input")
    page.click("#import-btn")
    report = page.locator(".web-report table")
    expect(report).to_be_visible(timeout=300_000)
    rows = {(r.locator("td").nth(0).inner_text(), r.locator("td").nth(1).inner_text())
            for r in report.locator("tbody tr").all()}
    # As `assistant ingest --url` reports it: kept, duplicates, and what failed and why.
    assert {("kept", site + ARTICLE), ("kept", site + CHARTER)} <= rows, rows
    assert sum(1 for status, _ in rows if status == "duplicate") == 3, rows
    assert ("skipped", site + "/linked/withdrawn-memo.html") in rows, rows
    expect(report).to_contain_text("HTTP 404")
    expect(report).to_contain_text("robots.txt disallows")
    # The new documents are in the list, and can be picked for removal like files.
    table = page.locator("#documents")
    expect(table).to_contain_text(ARTICLE_TITLE)
    expect(table).to_contain_text("The Open Weights Charter")
    fits_the_screen(page)
    toasts = page.get_by_role("status").get_by_role("button", name="Close")
    for close in toasts.all():
        close.click()  # the warning toast would hide the report in the screenshot
    # The form's button, the summary and the first outcomes on screen.
    page.evaluate("document.querySelector('#import-btn').scrollIntoView({block: 'start'})")
    shot(page, "phone-import.png")
    assert not critical_violations(page, "corpus")


def test_remove_an_imported_page_like_a_file(page: Any, site: str) -> None:
    from playwright.sync_api import expect

    charter = url_doc_id(site + CHARTER)
    page.get_by_role("tab", name="Corpus").click()
    picker = page.locator("#corpus-remove input")
    picker.click()
    picker.fill("Open Weights")
    page.get_by_role("option", name=re.compile(re.escape(f"({charter})"))).click()
    page.click("#corpus-remove-btn")
    expect(page.locator("#corpus-report")).to_contain_text(f"Removed {charter}.")
    expect(page.locator("#documents")).not_to_contain_text("The Open Weights Charter")
    expect(page.locator("#documents")).to_contain_text(ARTICLE_TITLE)


def test_ask_about_just_that_article_by_keyboard(page: Any, site: str) -> None:
    from playwright.sync_api import expect

    article = url_doc_id(site + ARTICLE)
    page.get_by_role("tab", name="Chat").click()
    # Open Settings; then by keyboard: choose the article in the scope picker, type, Enter.
    page.get_by_text("Settings", exact=True).first.click()
    scope = page.locator("#scope input")
    scope.focus()
    page.keyboard.type("Quillfeather")
    expect(page.get_by_role("option", name=re.compile(re.escape(f"({article})")))).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#scope")).to_contain_text(ARTICLE_TITLE)
    page.keyboard.press("Escape")
    box = page.locator("#question textarea")
    box.focus()
    page.keyboard.type("What did the two companies say about the Quillfeather Rules?")
    stamps = page.locator("#chat .stamp")
    before = stamps.count()
    page.keyboard.press("Enter")
    page.wait_for_function(
        f"document.querySelectorAll('#chat .stamp').length > {before}", timeout=300_000)
    turn = page.locator("#chat .turn").last
    expect(turn.locator(".stamp")).to_contain_text(f"searched only: {article}")
    # Every passage shown for this answer (cited, or the closest when it abstains) is the
    # article's: the other documents did not compete.
    latest = page.locator("#sources .turn-sources").first
    titles = {t.strip() for t in latest.locator(".src-title").all_text_contents()}
    assert titles == {ARTICLE_TITLE}, titles
    # Focus is back in the question box, ready for the next question.
    assert page.evaluate("document.activeElement === document.querySelector('#question "
                         "textarea')")
    fits_the_screen(page)
    page.locator("#chat").scroll_into_view_if_needed()
    shot(page, "phone-chat.png")
    assert not critical_violations(page, "chat")
    assert not page.errors  # type: ignore[attr-defined]


def test_esc_stops_the_answer_and_the_page_is_labelled(page: Any) -> None:
    from playwright.sync_api import expect

    page.reload()  # the scope picker starts empty again: the whole corpus is searched
    page.wait_for_selector("#question textarea")
    log = page.locator("#chat [role=log]")
    # The conversation is a live region: a screen reader reads new answers.
    assert log.get_attribute("aria-live") == "polite"
    # Every visible button has a name that says what it does (not an icon such as "↻").
    unnamed = page.evaluate("""() => [...document.querySelectorAll('button')]
        .filter(b => b.offsetParent !== null)
        .filter(b => {
          const name = (b.getAttribute('aria-label') || b.innerText || b.title || '').trim();
          return !name || /^[\\u2190-\\u21ff]$/.test(name);
        })
        .map(b => b.outerHTML.slice(0, 200))""")
    assert unnamed == []
    expect(page.locator("#refresh-models")).to_have_attribute("aria-label",
                                                               "Refresh the model list")

    box = page.locator("#question textarea")
    box.focus()
    # Shift+Enter is a new line in the question, not a send.
    page.keyboard.type("What did Zuckerberg")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("and Ek criticize?")
    assert box.input_value() == "What did Zuckerberg\nand Ek criticize?"
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("What did Zuckerberg and Ek criticize?")
    stamps = page.locator("#chat .stamp")
    before = stamps.count()
    page.keyboard.press("Enter")
    # While it is written the log is busy (read once, when done); Esc stops it.
    page.wait_for_selector("#chat .answer.pending, #chat .answer.streaming")
    page.wait_for_function(
        "document.querySelector('#chat [role=log]').getAttribute('aria-busy') === 'true'")
    page.keyboard.press("Escape")
    page.wait_for_function(
        f"document.querySelectorAll('#chat .stamp').length > {before}", timeout=300_000)
    expect(page.locator("#chat .turn").last.locator(".stamp")).to_contain_text("stopped")
    assert log.get_attribute("aria-busy") is None
    assert page.evaluate("document.activeElement === document.querySelector('#question "
                         "textarea')")
