"""Prompt templates are text files in prompts/, loaded by name and versioned by content hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import ConfigError


@dataclass(frozen=True)
class Prompt:
    name: str
    text: str

    @property
    def version(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:12]

    def render(self, **values: str) -> str:
        return self.text.format(**values)


class PromptLibrary:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[str, Prompt] = {}

    def get(self, name: str) -> Prompt:
        if name not in self._cache:
            path = self.folder / f"{name}.txt"
            if not path.exists():
                known = sorted(p.stem for p in self.folder.glob("*.txt"))
                raise ConfigError(f"No prompt named '{name}' in {self.folder}", f"known: {known}")
            self._cache[name] = Prompt(name, path.read_text(encoding="utf-8").strip())
        return self._cache[name]

    def version(self, *names: str) -> str:
        joined = "".join(self.get(n).version for n in names)
        return hashlib.sha256(joined.encode()).hexdigest()[:12]
