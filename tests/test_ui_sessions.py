"""Closed sessions let go of after their grace (ui/sessions.py): the order and timing with plain
ids, then the drop against a real Gradio StateHolder over a small page."""

from __future__ import annotations

from pathlib import Path

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


def test_an_open_session_keeps_no_copy_per_question(tmp_path: Path) -> None:
    """The long session of the soak: every question used to leave Gradio copies of the skipped
    outputs (sources panel, question box, details, browser state) in the session. The real page
    over a fake engine, asked through gradio_client: the copies stay at one question's worth."""
    from assistant.settings import Settings
    from tests.test_ui_app import client, free_port
    from tests.test_ui_summarize import FakeService
    from ui.app import build_app

    app = build_app(Settings(data_dir=tmp_path), service=FakeService(), runs_dir=tmp_path / "r")
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        c = client(f"http://127.0.0.1:{port}/")

        def stray() -> int:
            (state,) = app.state_holder.session_data.values()
            return sum(1 for k in state.blocks_config.blocks if k not in app.blocks)

        counts = []
        for i in range(8):
            out = c.predict(f"question {i}", "fake", 3, 0.0, True, True, api_name="/ask")
            counts.append(stray())
        assert "Passage 1" in str(out[1])  # the sources panel is still drawn
        assert counts[-1] == counts[1] <= 5, counts
    finally:
        app.close()
