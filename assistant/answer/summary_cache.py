"""Bullets already written, per model, prompt version and passage: a summary asked again (or
another summary over the same passages) reads them instead of asking the model. A passage's
chunk id holds its document's version, so a changed document is summarised afresh."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from assistant.atomic_write import write_atomic


class BulletCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, str] | None = None

    def _load(self) -> dict[str, str]:
        if self._data is None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self._data = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self._data = {}  # none yet, or unreadable: start afresh
        return self._data

    def get(self, *key: str) -> str | None:
        with self._lock:
            value = self._load().get("\x1f".join(key))
        return value if isinstance(value, str) else None

    def put(self, *key: str, value: str) -> None:
        with self._lock:
            data = self._load()
            data["\x1f".join(key)] = value
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(self.path, json.dumps(data, ensure_ascii=False))
            except OSError:
                pass  # a read-only data dir costs speed, not answers
