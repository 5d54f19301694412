"""Escaping, once, for everything that comes from a document or a model: no Gradio, no I/O.

Chat messages go through the Chatbot's Markdown renderer, so their text is also neutralised for
Markdown (entities instead of `*`, `_`, `[`, `$` ...); the sources panel is a gr.HTML, set with
innerHTML and no sanitiser, so escaping is all that stands between a `<img onerror=...>` in a
document and the page.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlparse

# Every character that HTML or Markdown (incl. GFM autolinks and the Chatbot's LaTeX) treats as
# syntax becomes an entity, in one pass so entities are never escaped twice.
_MD_ENTITIES = str.maketrans({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "\\": "&#92;",
    "`": "&#96;", "*": "&#42;", "_": "&#95;", "[": "&#91;", "]": "&#93;", "~": "&#126;",
    "|": "&#124;", "$": "&#36;", "#": "&#35;", "!": "&#33;", ":": "&#58;", "=": "&#61;",
})
_BOLD = re.compile(r"&#42;&#42;(.+?)&#42;&#42;")


def esc(text: object) -> str:
    """Escape for an HTML context (attribute values included)."""
    return html.escape(str(text if text is not None else ""), quote=True)


def md_esc(text: object) -> str:
    """Escape for a Chatbot message: inert as HTML and as Markdown; newlines kept as <br>."""
    out = str(text if text is not None else "").translate(_MD_ENTITIES)
    # The one piece of Markdown small models use a lot, rebuilt from the escaped text.
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    return re.sub(r"\r?\n", "<br>", out)


def safe_url(url: object) -> str:
    """The URL if it is http(s), else "" (a document's `javascript:` link must not be clickable)."""
    text = str(url or "").strip()
    try:
        parsed = urlparse(text)
    except ValueError:
        return ""
    return text if parsed.scheme in ("http", "https") and parsed.netloc else ""
