"""Conversations in SQLite: one row per conversation, one per message (the answer's record as JSON).

Each browser gets a random client id (kept in its localStorage); a conversation belongs to the
client that started it, and every read checks that, so one browser never lists or opens another's.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    client TEXT NOT NULL,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_client ON conversations (client, updated);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content TEXT NOT NULL,
    record TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_conversation ON messages (conversation, id);
"""


def new_id() -> str:
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    created: float
    updated: float


@dataclass(frozen=True)
class StoredMessage:
    role: str
    content: str
    record: dict[str, Any] | None


class ConversationStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection per operation: handlers run on Gradio's worker threads.
        self._write_lock = threading.Lock()
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA journal_mode = WAL")
            with db:
                yield db
        finally:
            db.close()

    def create(self, client: str, title: str) -> str:
        conv = new_id()
        now = time.time()
        title = " ".join(title.split())[:80] or "Conversation"
        with self._write_lock, self._connect() as db:
            db.execute(
                "INSERT INTO conversations (id, client, title, created, updated) "
                "VALUES (?, ?, ?, ?, ?)", (conv, client, title, now, now),
            )
        return conv

    def owns(self, client: str, conv: str | None) -> bool:
        if not client or not conv:
            return False
        with self._connect() as db:
            row = db.execute("SELECT client FROM conversations WHERE id = ?", (conv,)).fetchone()
        return bool(row) and row[0] == client

    def get(self, client: str, conv: str) -> Conversation | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT id, title, created, updated FROM conversations WHERE id = ? AND client = ?",
                (conv, client),
            ).fetchone()
        return Conversation(*row) if row else None

    def conversations(self, client: str, limit: int = 100) -> list[Conversation]:
        if not client:
            return []
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, title, created, updated FROM conversations WHERE client = ? "
                "ORDER BY updated DESC LIMIT ?", (client, limit),
            ).fetchall()
        return [Conversation(*r) for r in rows]

    def add_turn(
        self, client: str, conv: str, question: str, answer: str, record: dict[str, Any]
    ) -> None:
        now = time.time()
        with self._write_lock, self._connect() as db:
            owner = db.execute("SELECT client FROM conversations WHERE id = ?", (conv,)).fetchone()
            if not owner or owner[0] != client:
                raise PermissionError("conversation belongs to another client")
            db.executemany(
                "INSERT INTO messages (conversation, role, content, record, created) "
                "VALUES (?, ?, ?, ?, ?)",
                [(conv, "user", question, None, now),
                 (conv, "assistant", answer, json.dumps(record), now)],
            )
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conv))

    def messages(self, client: str, conv: str | None) -> list[StoredMessage]:
        if not conv:
            return []
        with self._connect() as db:
            rows = db.execute(
                "SELECT m.role, m.content, m.record FROM messages m "
                "JOIN conversations c ON c.id = m.conversation "
                "WHERE m.conversation = ? AND c.client = ? ORDER BY m.id", (conv, client),
            ).fetchall()
        return [StoredMessage(r, c, json.loads(rec) if rec else None) for r, c, rec in rows]

    def set_record(
        self, client: str, conv: str, turn: int, record: dict[str, Any], content: str
    ) -> bool:
        """Replace the record (and shown text) of the conversation's `turn`-th answer, 1-based:
        a mark, a rating. False if there is no such answer of this client's."""
        with self._write_lock, self._connect() as db:
            rows = db.execute(
                "SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation "
                "WHERE m.conversation = ? AND c.client = ? AND m.role = 'assistant' "
                "ORDER BY m.id", (conv, client),
            ).fetchall()
            if not 1 <= turn <= len(rows):
                return False
            db.execute("UPDATE messages SET record = ?, content = ? WHERE id = ?",
                       (json.dumps(record), content, rows[turn - 1][0]))
        return True

    def delete(self, client: str, conv: str) -> bool:
        with self._write_lock, self._connect() as db:
            cur = db.execute(
                "DELETE FROM conversations WHERE id = ? AND client = ?", (conv, client)
            )
            return cur.rowcount > 0
