"""The chat in a real headless Chromium: ask, wait for the streamed answer, click a citation
marker, see the passage; reload and find the conversation again; a hostile document stays
inert. Screenshots go to the test's tmp_path and to test-output/ (git-ignored)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_ui_app import QUESTIONS, serve_app

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OUTPUT = Path(__file__).resolve().parents[1] / "test-output"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="needs Debian's chromium at /usr/bin/chromium "
                       "(apt-get install chromium, or `make browser`)"),
]

# Plain text keeps markup verbatim (the Markdown and HTML loaders would strip the tags).
HOSTILE = (
    "Lighthouse keeping log\n\n"
    "The lighthouse keeper of Skerryvore logged the lamp lit at dusk. "
    '<img src=x onerror="window.__pwned = 1"> <script>window.__pwned = 2</script> '
    "The Skerryvore lighthouse keeper also logged fog every morning in November.\n"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from assistant.ingest.pipeline import ingest, sources_from_paths

    data_dir = tmp_path_factory.mktemp("ui-browser")
    hostile = data_dir / "skerryvore-log.txt"
    hostile.write_text(HOSTILE, encoding="utf-8")
    app, url, settings = serve_app(data_dir)
    sources, _ = sources_from_paths([hostile])
    ingest(settings, sources, progress=False)
    try:
        yield url
    finally:
        app.close()


@pytest.fixture(scope="module")
def page(served: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(served)
        page.wait_for_selector("#question textarea")
        page.errors = errors  # type: ignore[attr-defined]
        yield page
        browser.close()


def ask(page: Any, question: str) -> Any:
    """Type a question, send it, wait for its answer; returns the answer's message element."""
    answers = page.locator("#chat .stamp")
    before = answers.count()
    page.fill("#question textarea", question)
    page.click("#send")
    page.wait_for_function(
        f"document.querySelectorAll('#chat .stamp').length > {before}", timeout=180_000
    )
    return page.locator("#chat .turn").last


def test_a_starter_question_is_asked_on_click(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from ui.chat import STARTERS

    # An empty chat offers starter questions; clicking one asks it.
    expect(page.get_by_text(STARTERS[2])).to_be_visible()
    page.get_by_text(STARTERS[0]).click()
    page.wait_for_selector("#chat .stamp", timeout=180_000)
    expect(page.locator("#chat .user, #chat [data-testid=user]").first).to_contain_text(
        STARTERS[0]
    )
    turn = page.locator("#chat .turn").last
    # Whatever the model did, the page shows it as it is: an abstention is a calm notice with
    # the closest passages still offered; an answer links its citations to the passages.
    if turn.locator(".abstain").count():
        expect(turn.locator(".abstain-title")).not_to_be_empty()
        expect(page.locator("#sources")).to_contain_text(
            re.compile("Closest passages|pointed at"))
    else:
        assert turn.locator("a.cite").count(), turn.inner_text()
        target = (turn.locator("a.cite").first.get_attribute("href") or "").lstrip("#")
        expect(page.locator(f"#{target}")).to_have_count(1)
    page.screenshot(path=str(tmp_path / "ui-starter.png"))
    page.click("#new-chat")
    page.wait_for_function("document.querySelectorAll('#chat .turn').length === 0")
    expect(page.get_by_text(STARTERS[2])).to_be_visible()


def test_ask_click_citation_and_see_the_passage(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    answer = None
    for question in QUESTIONS:
        answer = ask(page, question)
        if answer.locator("a.cite").count():
            break
        page.click("#new-chat")
        page.wait_for_function("document.querySelectorAll('#chat .turn').length === 0")
    assert answer is not None
    assert answer.locator("a.cite").count(), answer.inner_text()
    expect(answer.locator(".stamp")).to_contain_text("smollm2-135m")

    marker = answer.locator("a.cite").first
    target = (marker.get_attribute("href") or "").lstrip("#")
    assert target.startswith("src-")
    marker.click()
    passage = page.locator(f"#{target}")
    expect(passage).to_be_visible()
    expect(passage).to_be_in_viewport()
    expect(passage.locator("blockquote.passage")).to_be_visible()
    assert page.evaluate("document.querySelector(':target')?.id") == target
    assert passage.get_attribute("open") is not None
    shot = tmp_path / "ui-chat.png"
    page.screenshot(path=str(shot))
    OUTPUT.mkdir(exist_ok=True)
    shutil.copyfile(shot, OUTPUT / "ui-chat.png")

    # A reload keeps the conversation (its id is in the browser's localStorage).
    turns = page.locator("#chat .turn").count()
    page.reload()
    page.wait_for_function(
        f"document.querySelectorAll('#chat .turn').length === {turns}", timeout=30_000
    )
    expect(page.locator("#conversations label").first).to_be_visible()

    # Export as Markdown downloads the conversation as text.
    with page.expect_download() as download:
        page.click("#export")
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert exported.startswith("# ") and "**Assistant:**" in exported
    assert re.search(r"^\[\d+\] ", exported, re.MULTILINE)  # the cited source, listed
    assert not page.errors  # type: ignore[attr-defined]


def test_a_hostile_document_stays_inert(page: Any) -> None:
    from playwright.sync_api import expect

    ask(page, "What did the Skerryvore lighthouse keeper log?")
    sources = page.locator("#sources")
    # The passage is shown (cited, or among the retrieved ones) as text, and nothing ran.
    page.evaluate("document.querySelectorAll('#sources details').forEach(d => d.open = true)")
    expect(sources).to_contain_text('<img src=x onerror="window.__pwned = 1">')
    expect(sources).to_contain_text("<script>window.__pwned = 2</script>")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#sources img, #sources script").count() == 0


def test_compare_two_models_mark_one_and_correct_an_answer(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from assistant.models import catalog
    from assistant.settings import load_settings

    # The same weights through a path spec are a second model (typed, as one would an Ollama
    # model that is not in the list).
    gguf = catalog.ensure_model(load_settings().models_dir, "smollm2-135m", progress=False)
    other = f"llamacpp:{gguf}"
    page.click("#new-chat")
    page.wait_for_function("document.querySelectorAll('#chat .turn').length === 0")
    page.locator("#compare input").fill(other)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.fill("#question textarea", QUESTIONS[1])
    page.click("#send")
    page.wait_for_selector("#chat .compare-note", timeout=60_000)
    page.wait_for_selector("#chat .compare-note:has-text('Mark the right one')",
                           timeout=480_000)
    columns = page.locator("#chat .compare-col")
    expect(columns).to_have_count(2)
    expect(columns.nth(0)).to_contain_text("smollm2-135m")
    expect(columns.nth(1)).to_contain_text(str(gguf))
    expect(columns.nth(1).locator(".stamp")).to_contain_text("prompt tokens")
    # One sources list for both: the passages were retrieved once.
    expect(page.locator("#sources .turn-sources")).to_have_count(1)

    # Mark the second right, under the chat.
    page.click("#review > button, #review .label-wrap")
    page.locator("#mark label").filter(has_text=str(gguf)).click()
    expect(page.locator("#chat .compare-col.is-marked")).to_contain_text(str(gguf))
    expect(page.locator("#review-status")).to_contain_text("Marked right")
    shot = tmp_path / "ui-compare.png"
    page.screenshot(path=str(shot), full_page=True)
    OUTPUT.mkdir(exist_ok=True)
    shutil.copyfile(shot, OUTPUT / "ui-compare.png")

    # A thumbs-down, a correction, and it is saved as an eval question.
    page.locator("#chat button[aria-label='Dislike']").last.click()
    # The rating is saved and shown before the correction is typed (it resets the form).
    expect(page.locator("#chat .turn").last).to_contain_text(
        re.compile("you rated it wrong", re.IGNORECASE), timeout=60_000)
    page.fill("#correction textarea", "Daniel Ek, the CEO of Spotify")
    page.locator("#must textarea, #must input").first.click()
    expect(page.locator("#must textarea, #must input").first).to_have_value(
        re.compile("Daniel Ek"), timeout=30_000)
    expect(page.locator("#not-said input")).not_to_be_checked()
    page.click("#save-q")
    expect(page.locator("#review-status")).to_contain_text("Saved as a fact question",
                                                           timeout=30_000)
    shot = tmp_path / "ui-correct.png"
    page.screenshot(path=str(shot), full_page=True)
    shutil.copyfile(shot, OUTPUT / "ui-correct.png")
    assert not page.errors  # type: ignore[attr-defined]
