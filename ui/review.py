"""The chat's review handlers: rate an answer 👍/👎, mark which model of a comparison was right,
and correct an answer into an eval question (`<data dir>/questions/mine.jsonl`).

A 👎 opens the correction for that answer: on a refusal the user knows to be wrong it proposes an
answerable question (type the right answer); on an answer it proposes "the documents do not say"
(an unanswerable question), which typing a correction undoes.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from assistant.errors import AssistantError
from assistant.eval import saved
from ui import escape, records
from ui.chat import ChatHandlers, State
from ui.history import StoredMessage

NONE_RIGHT = "none"


class ReviewHandlers:
    def __init__(self, chat: ChatHandlers) -> None:
        self.chat = chat
        self.path = saved.questions_path(chat.settings.data_dir)

    def _turn(self, state: State, turn: int | None
              ) -> tuple[list[StoredMessage], int, dict[str, Any]] | None:
        """The conversation's messages, the answer's index in them and its record."""
        messages = self.chat.store.messages(state["client"], state.get("conv"))
        answers = [i for i, m in enumerate(messages) if m.role == "assistant"]
        if not turn or not 1 <= int(turn) <= len(answers):
            return None
        i = answers[int(turn) - 1]
        return messages, i, dict(messages[i].record or {"answer": messages[i].content})

    def _update(self, state: State, turn: int, record: dict[str, Any]) -> None:
        content = records.shown_answer(record)
        self.chat.store.set_record(state["client"], state["conv"], turn, record, content)

    # -- which answer ------------------------------------------------------------------------

    def turns(self, state: State | None) -> tuple[Any, int | None]:
        """The answers of the open conversation as a picker, the latest chosen; and its number."""
        state = self.chat._state(state)
        messages = self.chat.store.messages(state["client"], state.get("conv"))
        choices, n = [], 0
        for m in messages:
            if m.role == "assistant":
                n += 1
                question = str((m.record or {}).get("question", ""))[:60]
                choices.append((f"Answer {n}: {question}", n))
        return gr.Dropdown(choices=choices, value=n or None, interactive=bool(n)), n or None

    def refresh(self, state: State | None) -> tuple[Any, ...]:
        """After the conversation changed: the latest answer chosen and its review shown.
        Outputs: turn, *select's outputs."""
        picker, turn = self.turns(state)
        return (picker, *self.select(turn, state))

    def select(self, turn: int | None, state: State | None, dislike: bool = False
               ) -> tuple[Any, ...]:
        """Show the chosen answer's review: mark (a comparison), correction, sources.
        Outputs: mark, correction, not said, must include, sources, status."""
        state = self.chat._state(state)
        found = self._turn(state, turn)
        if found is None:
            return (gr.Radio(visible=False, value=None), "", False, "",
                    gr.CheckboxGroup(choices=[], value=[]), "")
        _, _, record = found
        answers = record.get("answers") or []
        mark = gr.Radio(
            choices=[(a.get("model", ""), a.get("model", "")) for a in answers]
            + [("None of them", NONE_RIGHT)],
            value=record.get("marked") or None, visible=bool(answers),
        )
        retrieved = record.get("retrieved") or []
        docs = list(dict.fromkeys(p.get("doc_id", "") for p in retrieved if p.get("doc_id")))
        cited = list(dict.fromkeys(
            c.get("doc_id", "") for c in records.merged_for_sources(record).get("citations") or []
        ))
        # A 👎 on an answer says it was invented; on a refusal, that the documents do say it.
        not_said = dislike and not record.get("abstained")
        return (mark, "", not_said, "", gr.CheckboxGroup(choices=docs, value=cited), "")

    # -- ratings and marks --------------------------------------------------------------------

    def like(self, state: State | None, show_retrieved: bool, evt: gr.LikeData) -> tuple:
        """👍/👎 on an answer in the chat: saved with it; a 👎 opens its correction.
        Outputs: chatbot, export, review accordion, turn, *select's outputs."""
        state = self.chat._state(state)
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        messages = self.chat.store.messages(state["client"], state.get("conv"))
        turn = sum(1 for m in messages[: int(index) + 1] if m.role == "assistant")
        found = self._turn(state, turn)
        if found is None or messages[int(index)].role != "assistant":
            return (gr.skip(),) * 10
        _, _, record = found
        feedback = {True: "up", False: "down"}.get(evt.liked) if isinstance(evt.liked, bool) \
            else None
        if feedback is None or record.get("feedback") == feedback:
            record.pop("feedback", None)  # clicking the same thumb again takes it back
        else:
            record["feedback"] = feedback
        self._update(state, turn, record)
        chat, _, _, _, _, export, _ = self.chat._view(state, show_retrieved)
        if record.get("feedback") != "down":
            return (chat, export) + (gr.skip(),) * 8
        return (chat, export, gr.Accordion(open=True), gr.Dropdown(value=turn),
                *self.select(turn, state, dislike=True))

    def mark(self, choice: str | None, turn: int | None, state: State | None,
             show_retrieved: bool) -> tuple[Any, Any, Any]:
        """Which model of a comparison answered right (or none): saved with the conversation.
        Outputs: chatbot, export, status."""
        state = self.chat._state(state)
        found = self._turn(state, turn)
        if found is None or not (found[2].get("answers")):
            return gr.skip(), gr.skip(), "Pick a comparison first."
        _, _, record = found
        record["marked"] = choice or ""
        self._update(state, int(turn or 0), record)
        chat, _, _, _, _, export, _ = self.chat._view(state, show_retrieved)
        said = "none of them" if choice == NONE_RIGHT else escape.esc(choice or "nothing")
        return chat, export, f"Marked right: {said}. Saved with the conversation."

    # -- corrections into eval questions -------------------------------------------------------

    def propose(self, correction: str, turn: int | None, state: State | None) -> tuple[Any, Any]:
        """Words the answer must include, proposed from the correction (the user edits them).
        Outputs: must include, not said (typing a correction means the documents say it)."""
        state = self.chat._state(state)
        found = self._turn(state, turn)
        if found is None or not (correction or "").strip():
            return gr.skip(), gr.skip()
        record = found[2]
        texts = [str(p.get("text", "")) for p in record.get("retrieved") or []]
        groups = saved.propose_must_include(correction, str(record.get("question", "")), texts)
        return saved.format_must_include(groups), False

    def save(self, turn: int | None, correction: str, not_said: bool, must: str,
             sources: list[str] | None, state: State | None) -> tuple[str, str]:
        """Save the exchange as a question of the eval. Outputs: status, Evaluate tab's note."""
        state = self.chat._state(state)
        found = self._turn(state, turn)
        if found is None:
            return "Ask a question first, then pick its answer here.", gr.skip()
        messages, i, record = found
        if record.get("answers"):
            # A comparison is saved with the answer marked right standing for the model's.
            record = {**record, "answer": records.shown_answer(record),
                      "model": str(record.get("marked") or "")}
        history = [{"role": m.role, "content": m.content} for m in messages[: i - 1]]
        verdict = str(record.get("feedback") or "")
        try:
            question = saved.question_record(
                record, history, correction or "", bool(not_said),
                saved.parse_must_include(must), sources or [], verdict)
            saved.append(self.path, question)
        except AssistantError as e:
            return f"⚠ {escape.esc(e)}", gr.skip()
        kind = "an unanswerable" if not question["answerable"] else f"a {question['kind']}"
        return (f"Saved as {kind} question <code>{escape.esc(question['id'])}</code> in "
                f"<code>{escape.esc(self.path)}</code>. Run it from the Evaluate tab "
                "(question file <code>mine</code>) or with "
                "<code>assistant eval --questions mine</code>.", self.saved_note())

    def saved_note(self) -> str:
        """How many questions the user has saved, and when (for the Evaluate tab)."""
        s = saved.summary(self.path)
        if not s.count:
            return ("No saved questions yet: 👎 or correct an answer in the chat to save one "
                    "(question file <code>mine</code>).")
        when = s.last_added.replace("T", " ")[:16]
        first = s.first_added.replace("T", " ")[:16]
        span = f"added {first} to {when}" if first and first != when else f"added {when}"
        return (f"Your saved questions (<code>mine</code>): {s.count}, {span}. "
                f"File: <code>{escape.esc(self.path)}</code>")
