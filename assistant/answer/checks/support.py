"""Checks on the draft's sentences after the support check (answer/citations.py) has matched
each one to a passage."""

from __future__ import annotations

from assistant.answer.checks import UNSUPPORTED, Check, Draft, Evidence, register
from assistant.answer.citations import Sentence


def unsupported(sentences: list[Sentence]) -> bool:
    """Every sentence failed the support check: the model answered from its own memory."""
    return bool(sentences) and not any(s.supported for s in sentences)


def _unsupported(_evidence: Evidence, draft: Draft | None) -> str:
    return "no sentence supported" if draft is not None and unsupported(draft.sentences) else ""


register(Check(
    "unsupported", "sentences", UNSUPPORTED, _unsupported,
    "no sentence of the draft shares enough content words with a passage (support_threshold), "
    "or each holds a number no passage has",
    ("support_threshold",),
))
