"""The engine's own exceptions. Each says what went wrong and what to do about it.

The CLI turns them into one line and an exit code, the UI into a warning; anything else is a bug
and is allowed to surface.
"""

from __future__ import annotations


class AssistantError(Exception):
    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} - {self.hint}" if self.hint else self.message


class ConfigError(AssistantError):
    exit_code = 2


class BadQuestion(AssistantError):
    exit_code = 2


class ModelNotInstalled(AssistantError):
    exit_code = 3


class BackendUnavailable(AssistantError):
    exit_code = 4


class StoreMismatch(AssistantError):
    exit_code = 5


class StoreUnavailable(AssistantError):
    exit_code = 4


class StoreDamaged(StoreUnavailable):
    """The embedded store's files are damaged: Chroma cannot read them."""

    exit_code = 7


class IngestError(AssistantError):
    exit_code = 6


class FetchError(IngestError):
    """A URL that could not be fetched; `connection` marks network-level failures (offline)."""

    def __init__(self, message: str, hint: str = "", connection: bool = False) -> None:
        super().__init__(message, hint)
        self.connection = connection


class IngestBusy(IngestError):
    """Another ingest holds the data directory's write lock."""


class CorpusError(AssistantError):
    exit_code = 6


class ServerNotAnswering(BackendUnavailable):
    """A model server refused the connection, timed out, or went away in the middle of an
    answer."""


class ModelNotOnServer(ModelNotInstalled):
    """The model server answers but does not have the model asked for."""


class PromptTooLong(BadQuestion):
    """The prompt does not fit in the model's context window."""


class PackageIndexUnreachable(ModelNotInstalled):
    """pip could not reach the package index to download a catalog model's packages."""


class ModelChecksumMismatch(ModelNotInstalled):
    """An assembled model file does not match its pinned sha256."""
