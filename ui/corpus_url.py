"""The Corpus tab's URL import: an article's address (and the pages its body links to) into the
index, through the same crawl and per-URL report as `assistant ingest --url`."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import gradio as gr

from assistant.chat import ChatService
from assistant.errors import AssistantError
from assistant.ingest.web import CrawlOptions
from assistant.settings import Settings
from ui import corpus_html
from ui.corpus import CorpusHandlers


def parse_urls(text: str | None) -> list[str]:
    """One or more addresses, separated by spaces, commas or new lines."""
    return [u for u in re.split(r"[\s,]+", text or "") if u]


def crawl_options(follow: bool, depth: float | None, same_site: bool,
                  max_pages: float | None) -> CrawlOptions:
    """The form's values as the CLI's --follow-links, --depth, --same-site and --max-pages;
    a value the form left empty or below 1 falls back to the CLI's default."""
    defaults = CrawlOptions()
    return CrawlOptions(
        follow_links=bool(follow),
        depth=max(1, int(depth or defaults.depth)),
        same_site=bool(same_site),
        max_pages=max(1, int(max_pages or defaults.max_pages)),
    )


class UrlImport:
    def __init__(self, settings: Settings, service: ChatService, corpus: CorpusHandlers) -> None:
        self.settings = settings
        self.service = service
        self.corpus = corpus
        # The CLI's polite default between two requests to one host.
        self.delay_s = CrawlOptions().delay_s

    def run(
        self, text: str | None, follow: bool, depth: float | None, same_site: bool,
        max_pages: float | None, progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[str, Any, Any]:
        urls = parse_urls(text)
        if not urls:
            gr.Warning("Paste the article's address first, e.g. https://example.org/story.html")
            return gr.skip(), gr.skip(), gr.skip()
        crawl = replace(crawl_options(follow, depth, same_site, max_pages), delay_s=self.delay_s)
        progress(0.0, desc=f"fetching {urls[0]}")
        try:
            report = self.service.corpus.import_urls(
                urls, crawl, on_progress=lambda f, msg: progress(f, desc=msg))
        except AssistantError as e:
            raise gr.Error(str(e)) from e
        outcomes = report.outcomes()
        failed = [o for o in outcomes if o.status == "skipped"]
        if failed:
            gr.Warning(f"{len(failed)} URL(s) could not be indexed - the reasons are listed")
        html = corpus_html.render_outcomes(
            [(o.url, o.status, o.detail) for o in outcomes], report.summary())
        return (html, *self.corpus.table())


def build(settings: Settings, service: ChatService, corpus: CorpusHandlers,
          report: Any, docs_table: Any, remove_dd: Any) -> UrlImport:
    """The URL import form, placed where it is called (inside the Corpus tab), wired to show its
    report in `report` and refresh the document list and the remove picker."""
    handler = UrlImport(settings, service, corpus)
    with gr.Column(elem_id="url-import"):
        url_box = gr.Textbox(
            label="Import from the web: article URL(s)", elem_id="import-url",
            placeholder="https://example.org/news/story.html", lines=1, max_lines=4,
            info="The main text is indexed (no menus or ads), with its title, author and date.",
        )
        with gr.Row():
            follow = gr.Checkbox(False, label="Also fetch the pages the article links to",
                                 elem_id="import-follow", min_width=200)
            same_site = gr.Checkbox(False, label="Only links on the same site",
                                    elem_id="import-same-site", min_width=200)
        with gr.Row():
            depth = gr.Number(1, precision=0, minimum=1, maximum=3, label="Link depth",
                              elem_id="import-depth", min_width=120)
            max_pages = gr.Number(20, precision=0, minimum=1, maximum=200, label="Max pages",
                                  elem_id="import-max-pages", min_width=120)
        import_btn = gr.Button("Import URL", variant="primary", elem_id="import-btn")
    inputs = [url_box, follow, depth, same_site, max_pages]
    gr.on([import_btn.click, url_box.submit], handler.run, inputs, [report, docs_table, remove_dd],
          api_name="import_url", concurrency_limit=1, concurrency_id="corpus")
    return handler
