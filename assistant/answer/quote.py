"""The passage sentence that best matches a question: quoted when the model declines although
a sentence plainly answers it.

Small models decline answerable questions ("The documents do not say.") or echo them back while
the answering sentence sits in passage [1]. A verbatim sentence with its marker is grounded by
construction; whether it answers is what the score threshold decides. Measured on the tune
split (213 questions, 117 of them worded as people ask) with the passages they retrieve: of the
answerable questions whose best sentence scores at least 1.0, 28 of 43 hold the gold answer in
it (65%; at 1.1, 18 of 24), and 2 of the unanswerable ones reach 1.0. A quote right two times in
three is worth more than a refusal (truth score +0.3 a quote against 0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.retrieve.text import tokens
from assistant.sentences import Rule, split

# Clause ends, and line breaks between list items; the semicolons of legal lists end clauses.
# A closing quotation mark stays with its sentence: ‘… models.” Zuckerberg …’ is two. Unlike
# chunking, a colon does not end one: "Definition: An AI system is …" keeps its label; a list's
# opening line ends at its line break (and is dropped below).
SENTENCES = Rule(ends=r"[.;!?]", closers=r"[”\"’]?", opens=r"[A-Z0-9“\"(]")
MIN_WORDS = 4
# Weight of the share of the question's words a sentence holds, beside cosine similarity:
# MiniLM alone ranks a sentence about the same topic above the one with the asked-for fact.
LEXICAL_WEIGHT = 0.5


@dataclass(frozen=True)
class Quote:
    n: int  # the passage's number in the prompt, from 1
    text: str
    score: float


def candidate_sentences(text: str) -> list[str]:
    """Sentences that can stand alone: a line that opens a list ("… all the elements below:")
    says nothing by itself, and a short fragment is a heading."""
    out = []
    for piece in split(text, SENTENCES):
        piece = piece.strip()
        if len(piece.split()) >= MIN_WORDS and not piece.endswith(":"):
            out.append(piece)
    return out


def score(similarity: float, question_words: set[str], sentence: str) -> float:
    shared = len(question_words & set(tokens(sentence))) / max(1, len(question_words))
    return similarity + LEXICAL_WEIGHT * shared


def closest_sentence(
    question: str,
    passages: Sequence[str],
    embed_query: Callable[[str], list[float]],
    embed: Callable[[list[str]], list[list[float]]],
) -> Quote | None:
    """The best-scoring sentence of the passages; embeddings are unit length (cosine = dot)."""
    found = [(n, s) for n, text in enumerate(passages, start=1) for s in candidate_sentences(text)]
    if not found:
        return None
    q = embed_query(question)
    vectors = embed([s for _, s in found])
    words = set(tokens(question))
    scored = [
        Quote(n, s, score(sum(a * b for a, b in zip(q, v, strict=True)), words, s))
        for (n, s), v in zip(found, vectors, strict=True)
    ]
    # Ties go to the earlier passage: passages come in rank order.
    return max(scored, key=lambda x: (x.score, -x.n))
