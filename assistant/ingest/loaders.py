"""Loaders: one function per format, each turning a file's bytes into Blocks.

A registry maps format names to loaders; `auto` picks one by file extension.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

from assistant.errors import IngestError
from assistant.ingest.blocks import Block

Loader = Callable[[bytes], list[Block]]

# Page furniture that follows articles saved from the web (comment boxes, share prompts).
FURNITURE = re.compile(
    r"^(no comments yet|you can be the first to comment!?|leave a (comment|reply)|"
    r"you must be logged in to post a comment\.?|share this( article)?:?|related posts?|"
    r"comments are closed\.?)$",
    re.IGNORECASE,
)


def decode_text(data: bytes, name: str = "file") -> str:
    if not data.strip():
        raise IngestError(f"{name} is empty", "nothing to index; remove it or add text")
    if b"\x00" in data[:8192]:
        raise IngestError(f"{name} looks binary, not text", "give a .txt, .md, .html or .pdf file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise IngestError(
            f"{name} is not valid UTF-8 (byte {e.start})", "re-save it as UTF-8 and ingest again"
        ) from e
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _paragraphs(text: str) -> list[str]:
    paras = [re.sub(r"[ \t]+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    return [p for p in paras if p]


def load_article_text(data: bytes) -> list[Block]:
    paras = _paragraphs(decode_text(data))
    while paras and FURNITURE.match(paras[-1]):
        paras.pop()
    # The first line of a saved article is its headline: keep it as the heading, not a passage.
    heading = paras[0] if paras and len(paras[0]) < 160 and not paras[0].endswith(".") else ""
    body = paras[1:] if heading else paras
    return [Block(locator="", text=p, heading=heading) for p in body]


_SECTION = re.compile(r"^(\d{1,2})\.\s+([A-Z][^.]{2,80})\.\s*(.*)$", re.DOTALL)
_SUB = re.compile(r"^([a-h])\.\s+(.*)$", re.DOTALL)
_SUBSUB = re.compile(r"^(i{1,3}|iv|v|vi{1,3})\.\s+(.*)$", re.DOTALL)


def load_text(data: bytes) -> list[Block]:
    """Plain text; numbered legal sections ("2. Additional Commercial Terms.") become locators."""
    blocks: list[Block] = []
    section, sub, heading = "", "", ""
    for para in _paragraphs(decode_text(data)):
        if m := _SECTION.match(para):
            section, sub = m.group(1), ""
            heading = f"{m.group(1)}. {m.group(2)}"
            if not m.group(3).strip():
                continue
        elif section and (m := _SUB.match(para)):
            sub = m.group(1)
        elif section and (m := _SUBSUB.match(para)):
            blocks.append(Block(f"Section {section}.{sub}.{m.group(1)}", para, heading))
            continue
        locator = f"Section {section}" + (f".{sub}" if sub else "") if section else ""
        blocks.append(Block(locator, para, heading))
    return blocks


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_MD_BOLD_LINE = re.compile(r"^\*\*([^*]+)\*\*(\s*\*\*([^*]+)\*\*)*\s*$")
_MD_ITEM = re.compile(r"^(\s*)(?:[*+-]|\d+\.)\s+(.*)$")


def _md_inline(text: str) -> str:
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"\[([^\]]*)\]\(([^)]*)\)", r"\1", text)
    text = text.replace("**", "").replace("__", "")
    return html.unescape(text).strip()


def load_markdown(data: bytes) -> list[Block]:
    """Markdown; headings (and whole-line bold text) give the locator; list items keep their nesting
    as an outline number so "Prohibited Uses 2" points at the second top-level item.

    Only the first list under a heading is numbered so: a list that comes after prose which
    followed it (the policies' "Please report … through one of the following means:") is a
    different list, its items are bullets and its locator is the heading alone."""
    blocks: list[Block] = []
    heading = ""
    counters: list[int] = []
    later = False  # a list after prose that followed the heading's first list
    for raw_para in re.split(r"\n\s*\n", decode_text(data)):
        para = raw_para.rstrip()
        if not para.strip():
            continue
        first = para.strip()
        if (m := _MD_HEADING.match(first)) and "\n" not in first:
            heading, counters, later = _md_inline(m.group(2)), [], False
            continue
        if _MD_BOLD_LINE.match(first) and "\n" not in first:
            heading, counters, later = _md_inline(first), [], False
            continue
        if counters and not _MD_ITEM.match(para.split("\n")[0]):
            counters, later = [], True
        lines: list[str] = []
        for line in para.split("\n"):
            if m := _MD_ITEM.match(line):
                depth = len(m.group(1).replace("\t", "    ")) // 4
                if later:
                    lines.append(f"{'  ' * depth}- {_md_inline(m.group(2))}")
                    continue
                del counters[depth + 1 :]
                while len(counters) <= depth:
                    counters.append(0)
                counters[depth] += 1
                label = ".".join(str(c) for c in counters)
                if depth == 0 and lines:
                    blocks.append(Block(_locator(heading, lines[0]), "\n".join(lines), heading))
                    lines = []
                lines.append(f"{label}. {_md_inline(m.group(2))}")
            elif line.strip():
                lines.append(_md_inline(line))
        if lines:
            blocks.append(Block(_locator(heading, lines[0]), "\n".join(lines), heading))
    return blocks


def _locator(heading: str, first_line: str) -> str:
    m = re.match(r"^(\d+)\.", first_line)
    return f"{heading} {m.group(1)}".strip() if m else heading


_CA_LINE = re.compile(r"^([A-Za-z0-9_.]*?)\.?(Ti|sec)=(.*)$")
# `Key.=[G/Z/ol/s4]`: how Key's children are laid out ("ol" numbers them; "ol-none", "ol-bullet"
# and "paras" do not).
_CA_STYLE = re.compile(r"^([A-Za-z0-9_.]+?)\.=\[G/Z/([A-Za-z-]+)")
_CA_NOTE = re.compile(r"\{FtNt\.(\d+)\.Xnum\}")


def load_commonaccord(data: bytes) -> list[Block]:
    """CommonAccord prose objects: `Key.Ti=` lines are headings, `Key.sec=` lines are paragraphs;
    `Key.=[G/...]` includes, `{...}` placeholders and `<a>` links are dropped.

    Items are numbered only where the layout numbers them (`ol`). A footnote says what it
    annotates ("Footnote 1 (What is Open Source AI, “… that grant the freedoms”): These freedoms
    are derived from the Free Software Definition."): its anchor is gone from the text it marked,
    and the notes are read alone, side by side in one passage."""
    titles: dict[str, str] = {}
    styles: dict[str, str] = {}
    entries: list[tuple[str, str, str]] = []
    for line in decode_text(data).split("\n"):
        line = line.strip()
        if m := _CA_STYLE.match(line):
            styles[m.group(1)] = m.group(2)
            continue
        m = _CA_LINE.match(line)
        if m and m.group(3).strip():
            entries.append((m.group(1), m.group(2), m.group(3)))
    for key, kind, value in entries:
        if kind == "Ti":
            titles[key] = _ca_clean(value).rstrip(": ")
    anchored: dict[str, str] = {}  # footnote number -> what its anchor was attached to
    for key, kind, value in entries:
        for m in _CA_NOTE.finditer(value):
            if kind == "Ti":
                anchored.setdefault(m.group(1), f"“{titles[key]}”")
                continue
            parts = key.split(".")
            section = next((titles[k] for i in range(len(parts), 0, -1)
                            if titles.get(k := ".".join(parts[:i]))), "")
            words = _ca_clean(_CA_NOTE.sub("", value[: m.start()])).split()
            quote = f"“… {' '.join(words[-4:])}”"
            anchored.setdefault(m.group(1), f"{section}, {quote}" if section else quote)
    blocks: list[Block] = []
    for key, kind, value in entries:
        if kind != "sec":
            continue
        text = _ca_clean(value)
        parts = key.split(".")
        note = re.fullmatch(r"FtNt\.(\d+)", key)
        if note and anchored.get(note.group(1)) and text:
            text = f"Footnote {note.group(1)} ({anchored[note.group(1)]}): {text}"
        if not text:
            continue
        path = [
            titles[".".join(parts[:i])]
            for i in range(1, len(parts) + 1)
            if titles.get(".".join(parts[:i]))
        ]
        # A numbered item under a lead-in ("grant the freedoms to:") reads best with its number.
        parent, last = ".".join(parts[:-1]), parts[-1]
        numbered = styles.get(parent) == "ol" and key not in titles and not note
        label = f"{last}. " if numbered and last.isdigit() and not last.startswith("0") else ""
        blocks.append(Block(" > ".join(path), label + text, path[-1] if path else ""))
    return blocks


def _ca_clean(value: str) -> str:
    value = re.sub(r"\{[^}]*\}", "", value)
    value = re.sub(r"<a class=\"xref\"[^>]*>.*?</a>", "", value)
    value = re.sub(r"<[^>]+>", "", value)
    value = html.unescape(value)
    if value.startswith("[") and value.endswith("]"):
        return ""
    return re.sub(r"\s+", " ", value).strip()


def load_html(data: bytes) -> list[Block]:
    """Any web page, main text only: trafilatura drops menus, ads, comment boxes, banners."""
    import trafilatura

    page = decode_text(data)
    text = trafilatura.extract(page, include_comments=False, include_tables=True, favor_recall=True)
    if not text:
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(page, "lxml")
        for tag in soup(["script", "style", "nav", "header", "footer", "noscript"]):
            tag.decompose()
        text = soup.get_text("\n\n")
    meta = trafilatura.extract_metadata(page)
    title = (meta.title if meta and meta.title else "") or ""
    return [Block("", p, title) for p in _paragraphs(text) if not FURNITURE.match(p)]


def load_eurlex(data: bytes) -> list[Block]:
    from assistant.ingest.eurlex import parse_eurlex_html

    return parse_eurlex_html(decode_text(data))


def load_pdf(data: bytes) -> list[Block]:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.startswith(b"%PDF"):
        raise IngestError("not a PDF (no %PDF header)", "check the file; rename it if mislabelled")
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError) as e:
        raise IngestError(f"the PDF cannot be read ({e})", "re-export it and ingest again") from e
    blocks = [
        Block(f"page {n}", p) for n, page in enumerate(pages, start=1) for p in _paragraphs(page)
    ]
    if not blocks:
        raise IngestError("the PDF has no extractable text (scanned?)", "OCR it first")
    return blocks


LOADERS: dict[str, Loader] = {
    "article-text": load_article_text,
    "text": load_text,
    "markdown": load_markdown,
    "commonaccord": load_commonaccord,
    "html": load_html,
    "eurlex-html": load_eurlex,
    "pdf": load_pdf,
}

EXTENSIONS = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}


def detect_format(path: Path, data: bytes) -> str:
    ext = path.suffix.lower()
    if ext in EXTENSIONS:
        fmt = EXTENSIONS[ext]
        if fmt == "html" and b"eur-lex.europa.eu" in data[:20000] and b"oj-ti-art" in data:
            return "eurlex-html"
        if fmt == "markdown" and re.search(rb"^[A-Za-z0-9.]*Ti=", data[:2000], re.MULTILINE):
            return "commonaccord"
        return fmt
    raise IngestError(
        f"{path.name}: unsupported file type '{ext or '(none)'}'",
        f"supported: {', '.join(sorted(EXTENSIONS))}",
    )


def load_blocks(path: Path, fmt: str = "auto", max_bytes: int | None = None) -> list[Block]:
    try:
        size = path.stat().st_size
    except FileNotFoundError as e:
        raise IngestError(f"{path} does not exist", "check the path") from e
    if max_bytes is not None and size > max_bytes:
        raise IngestError(
            f"{path.name} is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit",
            "raise ASSISTANT_MAX_FILE_MB or split the file",
        )
    data = path.read_bytes()
    if fmt == "auto":
        fmt = detect_format(path, data)
    if fmt not in LOADERS:
        raise IngestError(f"unknown format '{fmt}'", f"valid formats: {', '.join(LOADERS)}")
    try:
        blocks = LOADERS[fmt](data)
    except IngestError as e:
        raise IngestError(f"{path.name}: {e.message}", e.hint) from e
    if not blocks:
        raise IngestError(f"{path.name}: no text found", "check that the file has readable text")
    return blocks
