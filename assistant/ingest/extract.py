"""Extraction: a web page's main text, metadata and body links, without its menus and footers.

Pure functions of the HTML (no I/O).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

# Links to these are not documents; following them would only add noise to the failure list.
IGNORED_LINK_SCHEMES = ("mailto:", "tel:", "javascript:", "data:", "sms:", "#")


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
