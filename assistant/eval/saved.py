"""Answers a user corrected, saved as eval questions: `<data dir>/questions/mine.jsonl`.

A saved question is an ordinary line of the eval's question file (assistant/eval/questions.py),
so `assistant eval --questions mine` and the Evaluate tab run it like the shipped set. It also
records when it was added and what the model had said (`added`, `origin`).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.answer.result import searched_for
from assistant.errors import ConfigError
from assistant.eval.questions import parse_question
from assistant.retrieve.text import STOPWORDS

NOT_SAID = "The documents do not say."
_write_lock = threading.Lock()

# A figure with its unit or magnitude ("700 million", "10^25 FLOPs", "35 000 000", "7%").
_FIGURE = re.compile(
    r"\d[\d.,'’ ^]*\d%?(?:\s+(?:million|billion|thousand|percent|per cent|euros?|EUR|"
    r"FLOPs?|years?|months?|days?))?|\d+%?"
)
# Runs of capitalised words: names ("Daniel Ek", "Open Source Initiative").
_NAME = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*")


def questions_path(data_dir: Path) -> Path:
    return data_dir / "questions" / "mine.jsonl"


def resolve(path: Path, data_dir: Path) -> Path:
    """`mine` names the user's saved questions; any other value is a path."""
    return questions_path(data_dir) if str(path) == "mine" else path


def parse_must_include(text: str) -> list[list[str]]:
    """"Daniel Ek | Ek, Spotify" -> [["Daniel Ek", "Ek"], ["Spotify"]]: commas separate what the
    answer must all include; bars separate alternatives for one of them."""
    groups = []
    for part in (text or "").split(","):
        options = [o.strip() for o in part.split("|") if o.strip()]
        if options:
            groups.append(options)
    return groups


def format_must_include(groups: Sequence[Sequence[str]]) -> str:
    return ", ".join(" | ".join(g) for g in groups)


def _in(text: str, passages: Sequence[str]) -> bool:
    needle = " ".join(text.lower().split())
    return any(needle in " ".join(p.lower().split()) for p in passages)


def propose_must_include(
    correction: str, question: str, passages: Sequence[str], most: int = 3
) -> list[list[str]]:
    """What a right answer must contain, proposed from the user's correction: its figures, then
    its names, then its rarest words that the question does not already hold. Those that the
    passages spell the same way come first, since the eval matches the answer's words."""
    correction = " ".join((correction or "").split()).strip().rstrip(".")
    if not correction:
        return []
    asked = {w.lower() for w in re.findall(r"[\w'’-]+", question)}
    if len(correction.split()) <= 3 and correction.lower() not in asked:
        candidates = [correction]
    else:
        candidates = []
    candidates += [m.group(0).strip(" .,") for m in _FIGURE.finditer(correction)]
    for m in _NAME.finditer(correction):
        name = m.group(0).strip(" .,")
        words = name.split()
        # A lone capitalised word opening the sentence is no name ("The", "Yes").
        if m.start() == 0 and len(words) == 1 and name.lower() in STOPWORDS | {"yes", "no"}:
            continue
        if all(w.lower() in asked for w in words):
            continue
        candidates.append(name)
    words = [w for w in re.findall(r"[\w'’-]+", correction)
             if len(w) > 3 and w.lower() not in STOPWORDS and w.lower() not in asked]
    candidates += sorted(words, key=len, reverse=True)
    seen: set[str] = set()
    unique = []
    for c in candidates:
        key = c.lower()
        if c and key not in seen and not any(key in s for s in seen):
            seen.add(key)
            unique.append(c)
    found = [c for c in unique if _in(c, passages)]
    rest = [c for c in unique if c not in found]
    return [[c] for c in (found + rest)[:most]]


def question_record(
    record: Mapping[str, Any],
    history: Sequence[Mapping[str, str]],
    correction: str,
    not_said: bool,
    must_include: Sequence[Sequence[str]],
    sources: Sequence[str],
    verdict: str = "",
) -> dict[str, Any]:
    """An eval question from an answered turn and the user's correction of it."""
    question = str(record.get("question", "")).strip()
    earlier = [{"role": str(m["role"]), "content": str(m["content"])} for m in history][-4:]
    followup = bool(earlier) and bool(searched_for(record))
    if not_said:
        kind, answerable, expected = "unanswerable", False, correction.strip() or NOT_SAID
        must_include, sources = [], []
    else:
        if not correction.strip():
            raise ConfigError("The corrected answer is empty",
                              "type the right answer, or tick 'The documents do not say'")
        if not must_include:
            raise ConfigError("No words the answer must include",
                              "name at least one word or figure a right answer has to contain")
        kind, answerable, expected = ("followup" if followup else "fact"), True, correction.strip()
    out: dict[str, Any] = {
        "id": f"mine-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}",
        "question": question,
        "expected_answer": expected,
        "must_include": [list(g) for g in must_include],
        "sources": list(dict.fromkeys(sources)),
        "answerable": answerable,
        "kind": kind,
        "added": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "origin": {"model": str(record.get("model", "")),
                   "answer": str(record.get("answer", "")),
                   "abstained": bool(record.get("abstained")), "verdict": verdict},
    }
    if followup:
        out["history"] = earlier
    return out


def append(path: Path, question: dict[str, Any]) -> None:
    """Validate the question as the eval would read it, then add it as one line."""
    try:
        parse_question(question)
    except ValueError as e:
        raise ConfigError(f"That question would not load in the eval: {e}",
                          "fix the answer or the words it must include") from e
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(question, ensure_ascii=False) + "\n"
    with _write_lock, path.open("a", encoding="utf-8") as f:
        f.write(line)


@dataclass(frozen=True)
class Summary:
    count: int
    first_added: str
    last_added: str


def summary(path: Path) -> Summary:
    """How many questions the file holds and when they were added (lines that do not parse
    are skipped here: the eval reports them with their line number)."""
    count, added = 0, []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return Summary(0, "", "")
    for line in lines:
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            count += 1
            if data.get("added"):
                added.append(str(data["added"]))
    return Summary(count, min(added, default=""), max(added, default=""))
