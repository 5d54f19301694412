"""Keyboard, screen reader and phone support for the chat: the script and styles the page loads.

Gradio gives buttons no aria-label and has no key bindings beyond Enter in a textbox, so a small
script run once on page load (`demo.load(None, js=SCRIPT)`) adds them; a MutationObserver keeps
them on elements Gradio re-renders. What it does:

- names the icon-only buttons (LABELS), and gives the starter questions a valid role;
- marks the conversation (Gradio's role="log", aria-live="polite") aria-busy while an answer
  streams, so a screen reader reads the finished answer once, not every token;
- Esc stops the answer being written; focus then returns to the question box, as it does when an
  answer completes, so the next question can be typed at once.
"""

from __future__ import annotations

# elem_id -> accessible name, for buttons whose text is an icon.
LABELS = {
    "refresh-models": "Refresh the model list",
    "refresh-runs": "Refresh the list of evaluation runs",
}

SCRIPT = """
() => {
  if (window.__assistantA11y) return;
  window.__assistantA11y = true;
  const labels = %(labels)s;
  let wasBusy = false;
  const question = () => document.querySelector('#question textarea');
  const busy = () => !!document.querySelector('#chat .answer.pending, #chat .answer.streaming');
  const refocus = () => {
    const box = question();
    const active = document.activeElement;
    // Only when focus is nowhere in particular or on the controls that sent or stopped it:
    // never pull it away from something the user moved to while the answer was written.
    if (box && (!active || active === document.body || active.closest('#send, #stop, #chat')
                || active === box)) box.focus();
  };
  const fix = () => {
    for (const [id, label] of Object.entries(labels)) {
      const el = document.getElementById(id);
      const button = el && (el.tagName === 'BUTTON' ? el : el.querySelector('button'));
      if (button && button.getAttribute('aria-label') !== label) {
        button.setAttribute('aria-label', label);
        button.setAttribute('title', label);
      }
    }
    // Gradio's starter questions are buttons inside role="list", which needs listitems.
    document.querySelectorAll('#chat .examples[role=list]').forEach((el) => {
      el.setAttribute('role', 'group');
      el.setAttribute('aria-label', 'Starter questions');
    });
    const now = busy();
    const log = document.querySelector('#chat [role=log]');
    if (log) {
      if (now) log.setAttribute('aria-busy', 'true');
      else log.removeAttribute('aria-busy');
    }
    if (wasBusy && !now) refocus();
    wasBusy = now;
  };
  new MutationObserver(fix).observe(document.body, {childList: true, subtree: true,
                                                     characterData: true});
  fix();
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape' || !busy()) return;
    const stop = document.getElementById('stop');
    if (!stop) return;
    event.preventDefault();
    stop.click();
    refocus();
  });
}
"""


def script() -> str:
    import json

    return SCRIPT % {"labels": json.dumps(LABELS)}


# Phone-size screens: the conversation first (the conversation list and export after it), a
# chat that fits the screen, Send and Stop beside the question box, a document table that
# scrolls sideways. Colours: Gradio's white on orange/red buttons and its grey info text fail the
# 4.5:1 contrast ratio; these darker shades pass it. The URL import's report table wraps long URLs.
CSS = """
body .gradio-container {
  --button-primary-background-fill: #c2410c; --button-primary-background-fill-hover: #9a3412;
  --button-primary-border-color: #c2410c; --button-primary-border-color-hover: #9a3412;
  --button-cancel-background-fill: #b91c1c; --button-cancel-background-fill-hover: #991b1b;
  --button-cancel-border-color: #b91c1c; --button-cancel-border-color-hover: #991b1b;
  --block-info-text-color: #57534e;
}
.web-outcomes { width: 100%; table-layout: fixed; border-collapse: collapse; font-size: 0.9em; }
.web-outcomes caption { text-align: left; font-weight: 700; padding: 0.3em 0; }
.web-outcomes th, .web-outcomes td { text-align: left; vertical-align: top; padding: 2px 6px;
  overflow-wrap: anywhere; border-bottom: 1px solid var(--border-color-primary); }
.web-outcomes th:first-child { width: 6.5em; }
.web-outcomes tr.failed td:first-child { color: #b91c1c; }
@media (max-width: 640px) {
  #chat-side { order: 2; }
  #chat-main { order: 1; }
  #chat-sources { order: 3; }
  #chat { height: 58vh !important; }
  #ask-row { flex-wrap: nowrap; gap: 6px; }
  #ask-row #question { min-width: 0 !important; flex: 1 1 auto !important; }
  #ask-row button { min-width: 60px !important; flex: 0 0 auto !important; padding: 0 10px; }
  /* The document table scrolls sideways rather than wrapping every word letter by letter. */
  #documents table { min-width: 760px !important; }
}
"""
