"""The unit every loader produces: a run of text with its place in the document."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Block:
    # Where the text sits, as a reader would cite it: "Article 53(2)", "Recital 102",
    # "Annex XIII", "2. Additional Commercial Terms". Empty when the document has no structure.
    locator: str
    text: str
    # A heading that gives the block context when it is read alone (e.g. the article title).
    heading: str = ""
