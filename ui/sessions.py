"""Gradio's memory of closed sessions, let go after a grace period.

Gradio keeps a SessionState for every session it has seen (up to `state_session_capacity`,
10000): a copy of the page's config for all its components plus the last value of each output -
the rendered chat, the sources panel, the answer record. A tab that closes keeps its copy; on a
closed session Gradio drops only gr.State values (after an hour), not the SessionState. The soak
(eval/soak.py, issue 33) measured the server growing by each closed session's copy. A closed
session is dropped here once it has been closed for `grace` seconds: a tab that reconnects
within that time (a network blip, a laptop waking) finds its state as Gradio left it.

An open session grew too (the soak's long session, +312 MB over 150 questions): when an event
skips an output (gr.skip()) Gradio stores a fresh copy of that component in the session under
the original's id, and when a later event gives the output a value that copy is stored again
under its own new id, where nothing looks it up. The sources panel is skipped while tokens
stream and drawn at the end, so every question left a copy of it - holding the whole
conversation's sources - plus the question box, the details and the browser state.
`release_copies` drops those stray entries; the chat calls it before each question.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any

log = logging.getLogger(__name__)

GRACE_SECONDS = 600.0


class ClosedSessions:
    """Session ids in the order they closed; `due` hands back those closed `grace` ago."""

    def __init__(self, grace: float = GRACE_SECONDS) -> None:
        self.grace = grace
        self._closed: OrderedDict[str, float] = OrderedDict()

    def close(self, session: str, now: float) -> None:
        self._closed.pop(session, None)
        self._closed[session] = now

    def reopen(self, session: str) -> None:
        self._closed.pop(session, None)

    def due(self, now: float) -> list[str]:
        out = []
        while self._closed:
            session, at = next(iter(self._closed.items()))
            if now - at < self.grace:
                break
            self._closed.popitem(last=False)
            out.append(session)
        return out

    def __len__(self) -> int:
        return len(self._closed)


def drop(holder: Any, sessions: list[str]) -> int:
    """Remove `sessions` from Gradio's StateHolder (gr.State delete callbacks run first).
    A session still in use (it asked again after closing) is kept. Returns how many went."""
    dropped = 0
    for session in sessions:
        state = holder.session_data.get(session)
        if state is None or not getattr(state, "is_closed", True):
            continue
        holder.delete_state(session)
        with holder.lock:
            holder.session_data.pop(session, None)
            holder.time_last_used.pop(session, None)
        dropped += 1
    return dropped


def release_copies(app: Any, session: str) -> int:
    """Drop from `session`'s SessionState the component copies stored under ids the app does
    not have (see the module docstring). A component rendered into the page (gr.render) is
    kept. Returns how many went."""
    holder = getattr(app, "state_holder", None)
    blocks_app = getattr(getattr(app, "blocks", None), "blocks", None)
    if holder is None or blocks_app is None or not session:
        return 0
    with holder.lock:
        state = holder.session_data.get(session)
    if state is None:
        return 0
    blocks = state.blocks_config.blocks
    stray = [k for k, b in list(blocks.items())
             if k not in blocks_app and not getattr(b, "is_rendered", True)]
    for key in stray:
        blocks.pop(key, None)
        state.config_values.pop(key, None)
    return len(stray)


class SessionReaper:
    """Called from the page's unload event: remembers the session that closed and drops the
    sessions whose grace has passed from the app's StateHolder."""

    def __init__(self, grace: float = GRACE_SECONDS) -> None:
        self.closed = ClosedSessions(grace)

    def unload(self, session: str, app: Any, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        holder = getattr(app, "state_holder", None)
        if holder is None:
            return 0
        if session:
            self.closed.close(session, now)
        dropped = drop(holder, self.closed.due(now))
        if dropped:
            log.debug("dropped %d closed sessions; %d held", dropped, len(holder.session_data))
        return dropped
