"""Closed sessions let go of after their grace (ui/sessions.py): the order and timing with plain
ids, then the drop against a real Gradio StateHolder over a small page."""

from __future__ import annotations

import gradio as gr
from gradio.state_holder import StateHolder

from ui.sessions import ClosedSessions, SessionReaper, drop


def test_closed_sessions_come_due_after_grace_in_order() -> None:
    closed = ClosedSessions(grace=10)
    closed.close("a", now=0)
    closed.close("b", now=4)
    closed.close("c", now=8)
    assert closed.due(now=9) == []
    assert closed.due(now=14) == ["a", "b"]
    assert closed.due(now=14) == []
    assert len(closed) == 1
    assert closed.due(now=100) == ["c"]


def test_closing_again_restarts_the_grace_and_reopen_forgets() -> None:
    closed = ClosedSessions(grace=10)
    closed.close("a", now=0)
    closed.close("b", now=1)
    closed.close("a", now=5)
    assert closed.due(now=12) == ["b"]
    closed.reopen("a")
    assert closed.due(now=100) == []


def _holder() -> tuple[StateHolder, gr.State]:
    with gr.Blocks() as demo:
        state = gr.State(None)
        gr.Textbox()
    holder = StateHolder()
    holder.set_blocks(demo)
    return holder, state


def test_drop_removes_closed_sessions_and_keeps_open_ones() -> None:
    holder, state = _holder()
    for session in ("gone", "open"):
        holder[session][state._id] = {"client": session}
    holder.session_data["gone"].is_closed = True
    assert drop(holder, ["gone", "open", "never-seen"]) == 1
    assert list(holder.session_data) == ["open"]
    assert "gone" not in holder.time_last_used
    assert holder["open"][state._id] == {"client": "open"}


class _App:
    def __init__(self, holder: StateHolder) -> None:
        self.state_holder = holder


def test_reaper_drops_only_what_closed_a_grace_ago() -> None:
    holder, state = _holder()
    reaper = SessionReaper(grace=60)
    app = _App(holder)
    for i, session in enumerate(("s1", "s2", "s3")):
        holder[session][state._id] = {"client": session}
        holder.session_data[session].is_closed = True
        assert reaper.unload(session, app, now=i * 40) == (1 if session == "s3" else 0)
    # s1 closed at 0 went when s3 closed at 80; s2 (40) and s3 (80) are within their grace.
    assert list(holder.session_data) == ["s2", "s3"]
    assert reaper.unload("", app, now=1000) == 2
    assert not holder.session_data
    assert reaper.unload("x", object()) == 0
