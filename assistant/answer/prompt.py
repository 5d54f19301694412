"""Prompt assembly under a token budget: passages enter by rank until the budget is spent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.ingest.injection import neutralise
from assistant.models.base import Message
from assistant.prompts import PromptLibrary
from assistant.retrieve.hybrid import Passage


@dataclass(frozen=True)
class BuiltPrompt:
    messages: list[Message]
    passages: list[Passage]
    prompt_tokens: int
    dropped: int


def heading_name(heading: str, locator: str) -> str:
    """What the heading adds to the locator: "Penalties" for "Article 99 — Penalties" over
    "Article 99(3)"; the whole heading when it is not the locator's own."""
    if not heading or heading == locator:
        return ""
    label, _, name = heading.partition(" — ")
    if name and locator.startswith(label):
        return name
    return "" if locator.startswith(heading) else heading


def passage_header(p: Passage) -> str:
    """The line that names a passage in the prompt: its path in the document, "Title — Article
    99(3) — Penalties", so a paragraph cut from its article still says what it is about."""
    return " — ".join(x for x in (p.title, p.locator, heading_name(p.heading, p.locator)) if x)


def passage_text(p: Passage, injections: str = "remove") -> str:
    """The passage as the model reads it: a list item after its list's opening line, sentences
    giving the assistant orders replaced by a note (or fenced, per `injections`), and brackets
    that would read as our markers softened."""
    text = neutralise(p.text, injections)
    if p.lead and not p.text.startswith(p.lead):
        text = f"{neutralise(p.lead, injections)} … {text}"
    return text.replace("[", "(").replace("]", ")")


def passage_block(n: int, p: Passage, injections: str = "remove") -> str:
    where = passage_header(p)
    # The passage text is quoted data; neutralise anything that looks like our own markers.
    text = passage_text(p, injections)
    return f"[{n}] {where}\n{text}"


def build_prompt(
    prompts: PromptLibrary,
    question: str,
    passages: Sequence[Passage],
    count_tokens: Callable[[str], int],
    budget: int,
    earlier_question: str = "",
    system: str = "answer",
    injections: str = "remove",
) -> BuiltPrompt:
    """`system` names the instructions: "answer" normally, "retry" after a draft declined."""
    system_text = prompts.get(system).text
    asked = f"(Follow-up to: {earlier_question})\n{question}" if earlier_question else question
    template = prompts.get("question")
    fixed = count_tokens(system_text) + 12
    fixed += count_tokens(template.render(passages="", question=asked))
    kept: list[Passage] = []
    used = fixed
    for p in passages:
        cost = count_tokens(passage_block(len(kept) + 1, p, injections)) + 2
        if kept and used + cost > budget:
            continue
        if not kept and used + cost > budget:
            # Even the best passage alone is too long: keep it, cut to what fits.
            room = max(50, budget - used)
            p = _cut(p, room, count_tokens)
            cost = count_tokens(passage_block(1, p, injections)) + 2
        kept.append(p)
        used += cost
    body = "\n\n".join(passage_block(i, p, injections) for i, p in enumerate(kept, start=1))
    messages: list[Message] = [
        {"role": "system", "content": system_text},
        {"role": "user", "content": template.render(passages=body, question=asked)},
    ]
    return BuiltPrompt(messages, kept, used, len(passages) - len(kept))


def _cut(p: Passage, room: int, count_tokens: Callable[[str], int]) -> Passage:
    words = p.text.split()
    while words and count_tokens(" ".join(words)) > room:
        words = words[: int(len(words) * 0.8)]
    from dataclasses import replace

    return replace(p, text=" ".join(words) + " …")
