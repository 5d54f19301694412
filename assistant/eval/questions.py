"""The evaluation question file: JSONL, one question a line, validated before anything runs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError
from assistant.models.base import Message

# `overview` asks about a whole document or provision (a summary, a complete list, both sides of a
# dispute): its must_include groups are the key points, scored by coverage, not all-or-nothing.
KINDS = ("fact", "multihop", "followup", "unanswerable", "overview")
REQUIRED = ("id", "question", "expected_answer", "must_include", "sources", "answerable", "kind")
# `added` and `origin` (what the model had said) come with questions saved from the chat
# (assistant/eval/saved.py); the eval reads them as notes. `docs` limits a question to documents.
OPTIONAL = ("history", "split", "added", "origin", "docs")
# Tune on one split, report the other: scores on the questions a change was tuned on flatter it.
SPLITS = ("tune", "holdout")
SCHEMA_HINT = "fix that line; the schema is in eval/README.md"


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    expected_answer: str
    must_include: list[list[str]]
    sources: list[str]
    answerable: bool
    kind: str
    history: list[Message] = field(default_factory=list)
    split: str = "tune"
    # Doc ids the question is limited to (as `assistant ask --doc`); empty: the whole corpus.
    docs: list[str] = field(default_factory=list)


def _is_str_list(value: Any, allow_empty_items: bool = False) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, str) and (allow_empty_items or v.strip()) for v in value
    )


def parse_question(data: Any) -> Question:
    """One decoded line -> Question, or ValueError saying what is wrong with it."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ValueError(f"missing key(s): {', '.join(missing)}")
    # A misspelt optional key ("histroy") would otherwise silently turn a follow-up into a
    # standalone question, so unknown keys are refused.
    unknown = sorted(set(data) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise ValueError(
            f"unknown key(s): {', '.join(unknown)} (allowed: {', '.join(REQUIRED + OPTIONAL)})"
        )
    for key in ("id", "question"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise ValueError(f"'{key}' must be a non-empty string")
    if not isinstance(data["expected_answer"], str):
        raise ValueError("'expected_answer' must be a string")
    if not isinstance(data["answerable"], bool):
        raise ValueError("'answerable' must be true or false")
    if data["kind"] not in KINDS:
        raise ValueError(f"'kind' is {data['kind']!r}; it must be one of {', '.join(KINDS)}")
    if (data["kind"] == "unanswerable") == data["answerable"]:
        raise ValueError(
            "'answerable' must be false exactly when 'kind' is 'unanswerable' "
            f"(kind={data['kind']!r}, answerable={str(data['answerable']).lower()})"
        )
    groups = data["must_include"]
    if not isinstance(groups, list) or not all(_is_str_list(g) and g for g in groups):
        raise ValueError(
            "'must_include' must be a list of non-empty lists of non-empty strings, "
            'e.g. [["Daniel Ek", "Spotify"]]'
        )
    if data["answerable"] and not groups:
        # An empty list of groups would score every answer correct.
        raise ValueError("an answerable question needs at least one 'must_include' group")
    if not _is_str_list(data["sources"]):
        raise ValueError("'sources' must be a list of doc ids (strings)")
    docs = data.get("docs", [])
    if not _is_str_list(docs):
        raise ValueError("'docs' must be a list of doc ids (strings) the question is limited to")
    split = data.get("split", "tune")
    if split not in SPLITS:
        raise ValueError(f"'split' is {split!r}; it must be one of {', '.join(SPLITS)}")
    if not isinstance(data.get("added", ""), str):
        raise ValueError("'added' must be a date-time string")
    if not isinstance(data.get("origin", {}), dict):
        raise ValueError("'origin' must be an object")
    history = data.get("history", [])
    if not isinstance(history, list):
        raise ValueError("'history' must be a list of {\"role\", \"content\"} objects")
    for i, turn in enumerate(history, 1):
        if (
            not isinstance(turn, dict)
            or set(turn) != {"role", "content"}
            or turn["role"] not in ("user", "assistant")
            or not isinstance(turn["content"], str)
        ):
            raise ValueError(
                f"history turn {i} must be {{\"role\": \"user\"|\"assistant\", \"content\": str}}"
            )
    return Question(
        id=data["id"].strip(),
        question=data["question"],
        expected_answer=data["expected_answer"],
        must_include=[list(g) for g in groups],
        sources=list(data["sources"]),
        answerable=data["answerable"],
        kind=data["kind"],
        history=[{"role": t["role"], "content": t["content"]} for t in history],
        split=split,
        docs=list(docs),
    )


def load_questions(path: Path) -> list[Question]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(
            f"Question file {path} not found",
            "pass one with --questions (the shipped set is eval/questions.jsonl)",
        ) from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"Question file {path} is not UTF-8 text", "save it as UTF-8") from e
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            q = parse_question(json.loads(line))
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}, line {n}: not valid JSON ({e.msg})", SCHEMA_HINT) from e
        except ValueError as e:
            raise ConfigError(f"{path}, line {n}: {e}", SCHEMA_HINT) from e
        if q.id in seen:
            raise ConfigError(
                f"{path}, line {n}: id '{q.id}' is already used on line {seen[q.id]}",
                "give every question its own id (results are resumed by id)",
            )
        seen[q.id] = n
        questions.append(q)
    if not questions:
        raise ConfigError(f"Question file {path} has no questions", "add one JSON object a line")
    return questions


def select(
    questions: list[Question], kinds: list[str] | None = None, limit: int | None = None,
    splits: list[str] | None = None,
) -> list[Question]:
    """Filter by split and kind, then take the first `limit`."""
    if splits:
        unknown = sorted(set(splits) - set(SPLITS))
        if unknown:
            raise ConfigError(f"Unknown split(s): {', '.join(unknown)}", f"use {', '.join(SPLITS)}")
        questions = [q for q in questions if q.split in splits]
    if kinds:
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise ConfigError(f"Unknown kind(s): {', '.join(unknown)}", f"use {', '.join(KINDS)}")
        questions = [q for q in questions if q.kind in kinds]
    if limit is not None:
        if limit < 1:
            raise ConfigError(f"--limit is {limit}", "give a positive number of questions")
        questions = questions[:limit]
    if not questions:
        raise ConfigError(
            f"No questions of kind {', '.join(kinds or ['any'])} in split "
            f"{', '.join(splits or ['any'])} in the file",
            "pick other --kinds or --split, or add such questions",
        )
    return questions
