"""What one answer is generated with: the answer settings (AnswerSettings) as the engine reads
them. Each field's default is read from AnswerSettings, so `AnswerOptions()` is the shipped
configuration and a test of it tests what ships."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from assistant.answer import checks
from assistant.settings import AnswerSettings


def _frozen(value: Any) -> Any:
    # A dataclass default must not be a list (one list would be shared by every instance).
    return tuple(value) if isinstance(value, list) else value


def _setting(name: str) -> Any:
    """A field filled from the AnswerSettings field `name`: its default, and in from_settings
    its configured value."""
    default = AnswerSettings.model_fields[name].get_default(call_default_factory=True)
    return field(default=_frozen(default), metadata={"setting": name})


@dataclass
class AnswerOptions:
    max_tokens: int = _setting("max_answer_tokens")
    temperature: float = _setting("temperature")
    prompt_budget: int = _setting("prompt_budget_tokens")
    min_relevance: float = _setting("min_relevance")
    # Not a setting, nothing ships with it off: off, no sentence is checked and the draft is
    # shown as the model wrote it.
    check_support: bool = True
    retry_declined: bool = _setting("retry_declined")
    # Quote the best-matching passage sentence when the model declines and the sentence scores
    # at least this (see answer/quote.py); 0 turns it off.
    quote_threshold: float = _setting("quote_threshold")
    support_threshold: float = _setting("support_threshold")
    # Names of answer checks turned off (assistant/answer/checks/).
    disabled_checks: tuple[str, ...] = _setting("disabled_checks")
    # What the prompt does with passage sentences that give the assistant orders.
    injections: str = _setting("injections")
    # A yes/no question: evidence first, its Yes or No after (answer/polarity.py).
    yes_no_evidence_first: bool = _setting("yes_no_evidence_first")
    # Most passages a summary or complete list reads (answer/overview.py).
    overview_max_passages: int = _setting("overview_max_passages")

    @classmethod
    def from_settings(cls, settings: AnswerSettings, **overrides: Any) -> AnswerOptions:
        """The configured options; an override of None means "not given" (a CLI flag left
        out). An unknown check name is refused here, before any question is asked."""
        checks.require_known(settings.disabled_checks)
        configured = {f.name: _frozen(getattr(settings, f.metadata["setting"]))
                      for f in fields(cls) if "setting" in f.metadata}
        given = {k: v for k, v in overrides.items() if v is not None}
        return cls(**{**configured, **given})
