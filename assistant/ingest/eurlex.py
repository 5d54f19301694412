"""Citable blocks from the EUR-Lex Official Journal HTML of Regulation (EU) 2024/1689."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from lxml import html as lxml_html

from assistant.ingest.blocks import Block

# lxml ships no type information; elements are lxml.html.HtmlElement.
Element = Any

# Annexes longer than this are split at their sections and numbered points.
ANNEX_SPLIT_CHARS = 1500

_INLINE_TAGS = {"span", "a", "sup", "sub", "i", "b", "em", "strong", "u", "br", "img"}
# Footnote texts (class oj-note) and the article title parts are never body text.
_SKIP_CLASSES = {"oj-note", "oj-ti-art", "eli-title"}
_SKIP_TAGS = {"script", "style", "hr", "col"}
# Stands in for a dropped footnote reference until the line is cleaned.
_FOOTNOTE = "\x00"

_PARAGRAPH_ID = re.compile(r"\d{3}\.\d{3}")
_PARAGRAPH_NUMBER = re.compile(r"(\d+[a-z]?)\.\s+")
_POINT_NUMBER = re.compile(r"(\d+(?:\.\d+)*)\.(?:\s|$)")
_SECTION = re.compile(r"Section\s+([A-Z0-9]+)\b")


def parse_eurlex_html(html: str) -> list[Block]:
    parser = lxml_html.HTMLParser(encoding="utf-8", remove_comments=True)
    # Bytes, because lxml refuses str input that carries an XML encoding declaration.
    root = lxml_html.document_fromstring(html.encode("utf-8"), parser=parser)
    blocks = _preamble(root)
    for recital in root.xpath('//div[starts-with(@id, "rct_")]'):
        number = recital.get("id").removeprefix("rct_")
        _, body = _rows(recital.find(".//table"))[0]
        blocks.append(Block(f"Recital {number}", _join(_lines(body))))
    for article in root.xpath('//div[starts-with(@id, "art_") and not(contains(@id, "."))]'):
        blocks.extend(_article(article))
    final = root.xpath('//div[starts-with(@id, "fnp_")]')
    if final and (text := _join(_lines(final[0]))):
        blocks.append(Block("Final provisions", text))
    for annex in root.xpath('//div[starts-with(@id, "anx_")]'):
        blocks.extend(_annex(annex))
    return blocks


def _preamble(root: Element) -> list[Block]:
    # tit_1 holds the act's title in several p.oj-doc-ti; pbl_1 the citations, then the recitals.
    title = " ".join(_join(_lines(p), " ") for p in root.xpath('//div[@id="tit_1"]/p'))
    lines = [title] if title else []
    for preamble in root.xpath('//div[@id="pbl_1"]'):
        for child in preamble:
            if (child.get("id") or "").startswith("rct_"):
                break
            lines.extend(_lines(child))
    return [Block("Preamble", "\n".join(lines))] if lines else []


def _article(article: Element) -> list[Block]:
    number = article.get("id").removeprefix("art_")
    locator = f"Article {number}"
    # rstrip: the OJ HTML titles Article 1 "Subject matter`".
    title = _join(_lines(article.xpath('./div[@class="eli-title"]')[0]), " ").rstrip("`")
    heading = f"{locator} — {title}" if title else locator
    # Numbered paragraphs are divs with ids like "053.002" (article 53, paragraph 2).
    paragraphs = [d for d in article if d.tag == "div" and _PARAGRAPH_ID.fullmatch(d.get("id", ""))]
    if paragraphs:
        blocks = []
        for paragraph in paragraphs:
            lines = _lines(paragraph)
            match = _PARAGRAPH_NUMBER.match(lines[0]) if lines else None
            if match is None:
                blocks.append(Block(locator, _join(lines), heading))
                continue
            lines[0] = lines[0][match.end() :]
            blocks.append(Block(f"{locator}({match.group(1)})", _join(lines), heading))
        return blocks
    if number != "3":
        return [Block(locator, _join(_lines(article)), heading)]
    # Article 3 is one paragraph of numbered definitions; each is cited as "Article 3(N)".
    blocks = []
    for child in article:
        if child.tag == "table":
            for label, body in _rows(child):
                blocks.append(
                    Block(f"{locator}({label.strip('()')})", _join(_lines(body)), heading)
                )
        elif not _skipped(child) and (text := _join(_lines(child))):
            blocks.append(Block(locator, text, heading))
    return blocks


@dataclass
class _Unit:
    group: str  # "Section A" or a numbered heading "point 3"; "" when the annex has none
    name: str
    lines: list[str] = field(default_factory=list)
    has_body: bool = False


def _annex(annex: Element) -> list[Block]:
    locator = "Annex " + annex.get("id").removeprefix("anx_")
    titles = annex.xpath('./p[@class="oj-doc-ti"]')
    title = _join(_lines(titles[1]), " ") if len(titles) > 1 else ""
    heading = f"{locator} — {title}" if title else locator
    # Units start at headings (p.oj-ti-grseq-1: "Section A ...", "Section 1", "1. Introduction")
    # and at numbered points ("1.", "3.2."); lettered points and dashes stay inside their unit.
    units = [_Unit("", "")]
    section = group = ""
    for child in annex:
        if child.get("class") == "oj-doc-ti" or _skipped(child):
            continue
        lines = _lines(child)
        if not lines:
            continue
        is_heading = child.get("class") == "oj-ti-grseq-1"
        name = None
        if is_heading and (match := _SECTION.match(lines[0])):
            section = group = name = f"Section {match.group(1)}"
        elif is_heading and (match := _POINT_NUMBER.match(lines[0])):
            section, group = "", f"point {match.group(1)}"
            name = group
        elif child.tag in ("table", "div") and (match := _POINT_NUMBER.match(lines[0])):
            name = ", ".join(filter(None, [section, f"point {match.group(1)}"]))
        if name is not None and units[-1].has_body:
            units.append(_Unit(group, name))
        elif name is not None:
            # The unit holds only headings so far: they lead into the new unit.
            units[-1].group, units[-1].name = group, name
        units[-1].lines += lines
        units[-1].has_body |= not is_heading
    whole = _join([line for unit in units for line in unit.lines])
    if len(units) <= 1 or len(whole) <= ANNEX_SPLIT_CHARS:
        return [Block(locator, whole, heading)] if whole else []
    blocks = []
    for key, members in groupby(units, key=lambda unit: unit.group):
        unit_list = list(members)
        text = _join([line for unit in unit_list for line in unit.lines])
        if key and len(unit_list) > 1 and len(text) <= ANNEX_SPLIT_CHARS:
            blocks.append(Block(f"{locator}, {key}", text, heading))
            continue
        for unit in unit_list:
            name = f"{locator}, {unit.name}" if unit.name else locator
            blocks.append(Block(name, _join(unit.lines), heading))
    return blocks


def _rows(table: Element) -> list[tuple[str, Element]]:
    # EUR-Lex lays out every recital, definition and numbered, lettered or dashed point as a
    # one-row table: optional empty indent cells, the label cell ("(a)", "1.", "—"), the content.
    rows = []
    for row in table.xpath("./tbody/tr | ./tr"):
        if cells := row.xpath("./td"):
            label = next((t for cell in reversed(cells[:-1]) if (t := _text(cell))), "")
            rows.append((label, cells[-1]))
    return rows


def _skipped(element: Element) -> bool:
    if not isinstance(element.tag, str) or element.tag in _SKIP_TAGS:
        return True
    return bool(_SKIP_CLASSES & set((element.get("class") or "").split()))


def _lines(element: Element) -> list[str]:
    if element.tag == "table":
        return _table_lines(element)
    lines: list[str] = []
    run: list[str] = [element.text or ""]

    def flush() -> None:
        text = _clean("".join(run))
        run.clear()
        if text and lines and text[0] in ",.;:":
            lines[-1] += text  # e.g. the ";" after a quoted amendment closes the previous line
        elif text:
            lines.append(text)

    for child in element:
        if _skipped(child):
            pass
        elif child.tag in _INLINE_TAGS or "inline" in (child.get("style") or ""):
            run.append(_inline(child))
        else:
            flush()
            lines.extend(_lines(child))
        run.append(child.tail or "")
    flush()
    return lines


def _table_lines(table: Element) -> list[str]:
    lines: list[str] = []
    for label, cell in _rows(table):
        body = _lines(cell)
        if label:
            body = [f"{label} {body[0]}", *body[1:]] if body else [label]
        lines.extend(body)
    return lines


def _inline(element: Element) -> str:
    if element.tag == "a" and (element.get("href") or "").startswith("#ntr"):
        return _FOOTNOTE  # footnote reference "(12)"; the footnote texts are dropped
    if element.tag == "br":
        return " "
    if element.tag == "sup" or "oj-super" in (element.get("class") or "").split():
        return "^" + element.text_content()  # "10<sup>25</sup>" must stay 10^25, not 1025
    parts = [element.text or ""]
    for child in element:
        if not _skipped(child):
            parts.append(_inline(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _text(element: Element) -> str:
    return "".join(_lines(element))


def _clean(text: str) -> str:
    text = re.sub(rf"\s*{_FOOTNOTE}\s*(?=[,.;:)’]|$)", "", text).replace(_FOOTNOTE, " ")
    return re.sub(r"\s+", " ", text).strip()


def _join(lines: list[str], sep: str = "\n") -> str:
    return sep.join(line for line in lines if line)
