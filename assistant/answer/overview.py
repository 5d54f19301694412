"""Answers about a whole unit: a summary, the main points, an overview, or a complete list.

Four passages and a sentence suit a lookup; they cannot summarise an article or give all eight
points of Article 5(1). An overview question about a unit (retrieve/units.py) is answered from
the unit's own passages in document order instead: one short bullet per passage (a summary) or
per item of the enumerated provision the question lands in (a list). Each bullet is written by
the model from its one passage or item, so it cites exactly what it comes from, and is checked
by the support check; a bullet the check stops, or that only repeats a heading or an earlier
bullet, is replaced by the passage's most central sentence (or the item's own words), trimmed.
A unit too long to read in one go (the whole AI Act) narrows to the section the question lands
in, or, for a bare "Summarize the AI Act", is refused with what to ask instead.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from assistant.answer.citations import Sentence, invented, support
from assistant.answer.list_items import Item, items, opening
from assistant.answer.options import AnswerOptions
from assistant.answer.prompt import heading_name
from assistant.answer.quote import candidate_sentences
from assistant.answer.result import AnswerResult
from assistant.answer.summary_cache import BulletCache
from assistant.embeddings import Embedder
from assistant.ingest import injection
from assistant.models.base import ChatModel, GenerationStats
from assistant.prompts import PromptLibrary
from assistant.retrieve.hybrid import Passage
from assistant.retrieve.text import tokens
from assistant.retrieve.units import Unit, names_of

Mode = Literal["summary", "list"]

_SUMMARY = re.compile(
    r"\b(summar(?:y|ies|ise|ize|ised|ized|ising|izing)|main (?:points?|ideas?|takeaways?|"
    r"arguments?)|key (?:points?|takeaways?|ideas?|provisions?)|overview|gist|tl;?\s?dr|"
    r"outline|recap|highlights|timeline|in a nutshell|in brief)\b",
    re.IGNORECASE,
)
_LIST_VERBS = ("prohibit", "forbid", "ban", "require", "allow", "permit", "list", "demand",
               "outlaw", "bar", "exclude", "restrict")
_SAYS = re.compile(
    r"^\s*what\s+(?:does|do|did)\s+(?P<unit>.+?)\s+(?P<verb>say|cover|contain|set out|"
    r"establish|provide|regulate|" + "|".join(_LIST_VERBS) + r")\s*\??\s*$",
    re.IGNORECASE,
)
_ABOUT = re.compile(
    r"^\s*what(?:'s|\s+is|\s+are)\s+(?P<unit>.+?)\s+(?:about|(?:actually\s+|really\s+)?"
    r"(?:saying|arguing|claiming))\s*\??\s*$",
    re.IGNORECASE)
# "What uses does the AUP forbid?", "Which areas does Annex III list as high-risk?"
_WHICH_DOES = re.compile(
    r"^\s*(?:what|which)\s+\w+(?:\s\w+)?\s+(?:does|do)\s+.+?\s+(?:"
    + "|".join(_LIST_VERBS) + r")\w*\b",
    re.IGNORECASE,
)
# The same asked the other way round: "Which practices are banned under the act?", "What am I
# not allowed to do with Llama under its use policy?"
_PASSIVE = re.compile(
    r"^\s*(?:what|which)\b.*?\b(?:(?:are|is)\s+(?:\w+\s+)?(?:banned|prohibited|forbidden|"
    r"outlawed|not allowed|not permitted)|(?:am i|are we|is one)\s+not\s+(?:allowed|permitted)|"
    r"can(?:'t|not|’t)\s+(?:i|we|you)\s+do)\b",
    re.IGNORECASE,
)
# "Break down section 1 for me", "Walk me through Article 99", "Explain the licence": a request
# to go through a unit, not a question about one thing in it.
_GO_THROUGH = re.compile(
    r"^\s*(?:please\s+|can you\s+|could you\s+)?(?:break\s+down|walk\s+me\s+through|"
    r"go\s+through|run\s+me\s+through|explain)\b(?!.*\b(?:why|how|whether|when|who)\b)",
    re.IGNORECASE,
)
# "List the prohibited practices of Article 5."
_ENUMERATE = re.compile(r"^\s*(?:list|name|enumerate)\s+(?:all|every|each|the)\b", re.IGNORECASE)
# "What are the penalties under the AI Act?": an overview of the provisions on them.
_WHAT_ARE = re.compile(
    r"^\s*(?:what|which)\s+are\s+(?:all\s+)?the\s+[\w\s-]+?\s+(?:under|in|of|set out in|"
    r"listed in|according to)\s+(?:the|this|that)\b",
    re.IGNORECASE,
)
_COUNT = re.compile(
    r"\b(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten)\s+(?:short\s+|key\s+|main\s+)?"
    r"(?:bullet(?:\s+point)?|point|takeaway|sentence|line|thing)s?\b",
    re.IGNORECASE,
)
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
            "eight": 8, "nine": 9, "ten": 10}
# A bullet longer than this many words is trimmed; a list item this short is kept as it is.
MAX_WORDS = 30
# A passage's own central sentence, shown when the model's bullet fails: long enough to keep
# the figures that often come late in a legal sentence.
SENTENCE_WORDS = 45
SHORT_ITEM = 24
# How far into the question's last sentence a summary word must start to ask for one.
SUMMARY_WITHIN = 40
# How many of the best-ranked passages of the unit are tried for a list to answer from.
LIST_CANDIDATES = 4
# Words of the question that ask for an overview rather than name its topic.
_OVERVIEW_WORDS = set(tokens(
    "summary summarise summarize main key points point overview gist tldr tl dr outline recap "
    "highlights nutshell brief give me short bullet bullets takeaway takeaways ideas provide "
    "provisions arguments write make quick"))


def mode(question: str) -> Mode | None:
    """Whether the question asks about its unit as a whole: "summary" (a summary, the main
    points, "what does X say"), "list" ("what does Article 5 prohibit", "what are the penalties
    under the Act"), or None for a lookup."""
    if m := _SAYS.match(question):
        return "list" if m.group("verb").lower() in _LIST_VERBS else "summary"
    if _WHICH_DOES.match(question) or _ENUMERATE.match(question) or _PASSIVE.match(question):
        return "list"
    # A request for a summary says so near its start ("Give me a quick summary of …"); the
    # word deep in a longer question is a term ("a sufficiently detailed summary").
    last = re.split(r"(?<=[.!?])\s+", question.strip())[-1]
    asks = _SUMMARY.search(last)
    if ((asks and asks.start() <= SUMMARY_WITHIN) or _ABOUT.match(question)
            or _WHAT_ARE.match(question) or _GO_THROUGH.match(question)):
        return "summary"
    return None


def requested_count(question: str) -> int:
    """"in three bullet points" -> 3; 0 when the question sets no number."""
    m = _COUNT.search(question)
    if not m:
        return 0
    word = m.group(1).lower()
    return int(word) if word.isdigit() else _NUMBERS[word]


def is_bare(question: str, unit: Unit, metas: dict[str, dict[str, str]]) -> bool:
    """The question names only its unit and asks for an overview ("Summarize the AI Act"):
    no topic to narrow a long unit to."""
    rest = (set(tokens(question)) - _unit_words(unit, metas) - _OVERVIEW_WORDS
            - {"article", "story", "piece"})
    return not rest


def section(passages: Sequence[Passage], best: Passage) -> list[Passage]:
    """The passages of `best`'s section (its document and heading), in order."""
    return [p for p in passages if p.doc_id == best.doc_id and p.heading == best.heading]


def around(passages: list[Passage], best: Passage, most: int) -> list[Passage]:
    """At most `most` of the passages, a window centred on `best`."""
    if len(passages) <= most:
        return passages
    i = next((k for k, p in enumerate(passages) if p.chunk_id == best.chunk_id), 0)
    start = max(0, min(i - most // 2, len(passages) - most))
    return passages[start:start + most]


def list_region(passages: Sequence[Passage], best: Passage) -> list[Passage]:
    """The passages holding the list `best` belongs to: the one that opens it and those that
    continue it (chunking records the list's opening line as their `lead`); without a recorded
    lead, `best`'s section."""
    lead = best.lead
    if not lead:
        # `best` may open a list that the next passages continue.
        i = next(k for k, p in enumerate(passages) if p.chunk_id == best.chunk_id)
        following = passages[i + 1] if i + 1 < len(passages) else None
        if not (following and following.lead and following.lead in best.text):
            return section(passages, best)
        lead = following.lead
    members = [p for p in passages if p.lead == lead and p.doc_id == best.doc_id]
    first = passages.index(members[0])
    opener = passages[first - 1] if first and lead in passages[first - 1].text else None
    return ([opener] if opener else []) + members


@dataclass
class Bullet:
    text: str
    n: int  # the passage it comes from, 1-based in the answer's passages
    written: bool  # by the model (True) or the passage's own words (False)
    support: float = 1.0


@dataclass
class Writer:
    """Writes one checked bullet per passage or list item."""

    model: ChatModel
    prompts: PromptLibrary
    options: AnswerOptions
    embedder: Embedder | None
    cache: BulletCache | None
    stats: GenerationStats = field(default_factory=GenerationStats)
    seen: list[set[str]] = field(default_factory=list)

    def _ask(self, prompt: str, text: str, key: tuple[str, ...]) -> str:
        version = self.prompts.version(prompt)
        if self.cache and (hit := self.cache.get(self.model.label, version, *key)) is not None:
            return hit
        messages = [{"role": "system", "content": self.prompts.get(prompt).text},
                    {"role": "user", "content": text}]
        stats = GenerationStats()
        out = "".join(self.model.stream(messages, 64, 0.0, stats)).strip()
        self.stats.prompt_tokens += stats.prompt_tokens
        self.stats.completion_tokens += stats.completion_tokens
        out = _first_line(out)
        if self.cache:
            self.cache.put(self.model.label, version, *key, value=out)
        return out

    def _fits(self, text: str, source: str, header: str, prompt: str,
              keep: Sequence[str] = ()) -> float | None:
        """The bullet's support when it is one: long enough, not a heading, the instructions
        or an earlier bullet again, no invented figure, holding most of the `keep` words (an
        item's own terms), and supported by its source."""
        words = set(tokens(text))
        if len(text.split()) < 4 or len(text.split()) > MAX_WORDS + 10:
            return None
        if words <= set(tokens(header)) or any(_jaccard(words, s) >= 0.7 for s in self.seen):
            return None
        instructions = set(tokens(self.prompts.get(prompt).text))
        if len(words & instructions) >= len(words) / 2:
            return None
        if keep and sum(w in words for w in keep) < min(len(keep), 3):
            return None
        if invented(text, "", [source]):
            return None
        score = support(text, source)
        return score if score >= self.options.support_threshold else None

    def point(self, p: Passage, n: int, others: Sequence[str] = ()) -> Bullet:
        """The main point of one passage: the model's sentence when it keeps the key terms of
        the passage's most central sentence (those the unit's `others` passages rarely hold:
        names, figures, defined terms), else that central sentence itself."""
        source = _informing(p.text, self.options.injections)
        central = self._central(source)
        header = f"{p.title} {heading_name(p.heading, p.locator)}"
        written = self._ask("overview", f"Passage from {header}:\n{source}\n\nMain point:",
                            ("point", p.chunk_id))
        keep = key_terms(central, others)
        if (score := self._fits(written, source, header, "overview", keep)) is not None:
            return self._keep(Bullet(written, n, True, score))
        return self._keep(Bullet(_trim(central, SENTENCE_WORDS), n, False))

    def item(self, it: Item, key: str, distinct: Sequence[str], siblings: Sequence[str] = ()
             ) -> Bullet:
        """One item of a list: its own words when short, else the model's shorter line if it
        keeps the item's `distinct` terms (those its sibling items do not share). The opening
        words it shares with a sibling ("the placing on the market … of" in each point of
        Article 5(1)) are left out: the list's opening line carries them."""
        core = without_shared_opening(it.text, siblings)
        if len(core.split()) > SHORT_ITEM:
            written = self._ask("shorten", f"List item:\n{core}\n\nShorter:",
                                ("item", key, it.label))
            if (score := self._fits(written, it.text, "", "shorten", distinct)) is not None:
                return self._keep(Bullet(f"{it.label} {written}", it.n, True, score))
        return self._keep(Bullet(_trim(f"{it.label} {core}"), it.n, False))

    def _central(self, text: str) -> str:
        """The sentence closest in meaning to its whole passage (the first without an
        embedder)."""
        sentences = candidate_sentences(text) or [text]
        if len(sentences) == 1 or self.embedder is None:
            return sentences[0]
        vectors = self.embedder.embed(sentences)
        whole = self.embedder.embed_query(text)
        scores = [sum(a * b for a, b in zip(v, whole, strict=True)) for v in vectors]
        return sentences[max(range(len(scores)), key=scores.__getitem__)]

    def _keep(self, bullet: Bullet) -> Bullet:
        self.seen.append(set(tokens(bullet.text)))
        return bullet


def key_terms(text: str, others: Sequence[str], most: int = 5) -> list[str]:
    """The first `most` content words of `text` that fewer than half of `others` hold: what a
    shorter line of it must keep ("subliminal", not "placing on the market")."""
    sets = [set(tokens(o)) for o in others]
    own = [w for w in dict.fromkeys(tokens(text))
           if sum(w in s for s in sets) < max(1, len(sets)) / 2]
    return own[:most]


def without_shared_opening(text: str, siblings: Sequence[str], least: int = 4) -> str:
    """`text` without the longest run of opening words (at least `least`) it shares with one
    of its `siblings`, when enough is left to say something."""
    words = text.split()
    shared = 0
    for other in siblings:
        k = 0
        for a, b in zip(words, other.split(), strict=False):
            if a.casefold() != b.casefold():
                break
            k += 1
        shared = max(shared, k)
    return " ".join(words[shared:]) if least <= shared <= len(words) - 4 else text


def distinct_terms(found: Sequence[Item], most: int = 5) -> list[list[str]]:
    """Each item's key terms against its siblings."""
    return [key_terms(it.text, [o.text for j, o in enumerate(found) if j != i], most)
            for i, it in enumerate(found)]


def _first_line(text: str) -> str:
    line = next((x for x in text.splitlines() if x.strip()), "")
    line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line)
    line = re.sub(r"\s*\[\d+\]", "", line).strip().strip('"“”')
    line = re.sub(r"^(?:main point|summary|shorter)\s*:\s*", "", line, flags=re.IGNORECASE)
    # "The passage states that X" is X.
    line = re.sub(r"^(?:the|this) (?:passage|item|text) (?:states|says|explains|notes|"
                  r"describes|is about|mentions)(?: that)?\s+", "", line, flags=re.IGNORECASE)
    return line[:1].upper() + line[1:]


def _trim(text: str, limit: int = MAX_WORDS) -> str:
    """At most `limit` words, cut after a clause ("," or ";") in the last part of them when
    there is one."""
    words = text.replace("[", "(").replace("]", ")").split()
    if len(words) <= limit:
        return " ".join(words)
    cut = next((k for k in range(limit, int(limit * 0.6), -1) if words[k - 1][-1] in ",;"),
               limit)
    return " ".join(words[:cut]).rstrip(",;:") + " …"


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(1, len(a | b))


def _informing(text: str, injections: str) -> str:
    if injections == "off":
        return text
    return injection.neutralise(text, "remove").replace(injection.NOTE, " ")


def central(passages: Sequence[Passage], count: int, embedder: Embedder | None
            ) -> list[Passage]:
    """The `count` passages closest to the unit's centre, in document order."""
    if count <= 0 or count >= len(passages) or embedder is None:
        return list(passages)
    vectors = embedder.embed([p.text for p in passages])
    centre = [sum(col) / len(vectors) for col in zip(*vectors, strict=True)]
    scores = [sum(a * b for a, b in zip(v, centre, strict=True)) for v in vectors]
    keep = sorted(sorted(range(len(passages)), key=lambda i: -scores[i])[:count])
    return [passages[i] for i in keep]


@dataclass
class Plan:
    """What an overview answer reads: its passages, and the list items when it is a list."""

    label: str
    passages: list[Passage]
    items: list[Item] = field(default_factory=list)
    # The sentence that opens the list, shown above its items.
    opening: str = ""
    refused: str = ""
    # The question asks about some items of the list, not all: a lookup answers it.
    lookup: bool = False


def plan(question: str, unit: Unit, unit_passages: list[Passage], best_id: str,
         kind: Mode, max_passages: int, metas: dict[str, dict[str, str]],
         embedder: Embedder | None) -> Plan:
    """Which passages (and items) the answer is built from, and under what label. `best_id`
    is the chunk the search ranked first: the section a long unit narrows to."""
    if not unit_passages:
        return Plan(unit.label, [], refused="The documents hold no passage of this unit.")
    ranked = sorted(unit_passages, key=lambda p: (p.chunk_id != best_id, -p.similarity))
    best = ranked[0]
    if kind == "list":
        # The list the question lands in: that of the best passage, or of the next ones.
        for candidate in ranked[:LIST_CANDIDATES]:
            region = list_region(unit_passages, candidate)
            found = items([p.text for p in region]) if len(region) <= max_passages else []
            if len(found) >= 2:
                if picks_some(question, [p.text for p in region], found,
                              _unit_words(unit, metas) | set(tokens(region[0].heading))):
                    return Plan(unit.label, [], lookup=True)
                region = _through_list(region, max(it.n for it in found))
                return Plan(_label(region, unit), region, found,
                            opening=opening([p.text for p in region]))
    chosen = unit_passages
    if len(chosen) > max_passages:
        if is_bare(question, unit, metas):
            return Plan(unit.label, [], refused=(
                f"{unit.label} has {len(chosen)} passages, too many to summarise in one go: "
                "ask about one of its parts (an article, an annex, a section), for example "
                "\"Summarize Article 5 of the AI Act\", or about a topic in it."))
        chosen = around(section(unit_passages, best), best, max_passages)
    label = _label(chosen, unit) if chosen is not unit_passages else unit.label
    return Plan(label, central(chosen, requested_count(question), embedder))


def _through_list(region: list[Passage], last: int) -> list[Passage]:
    """The region up to the passage of the list's last item and those that continue that
    item (the same recorded lead): the rest of a section is not what the list answer read."""
    end = last
    while (end < len(region) and region[last - 1].lead
           and region[end].lead == region[last - 1].lead):
        end += 1
    return region[:end]


def _unit_words(unit: Unit, metas: dict[str, dict[str, str]]) -> set[str]:
    """The words that name the unit (its documents' titles and aliases, its provision)."""
    named = set(tokens(unit.provision))
    for d in unit.docs:
        for name in names_of(metas.get(d, {})):
            named.update(tokens(name))
    return named


def picks_some(question: str, texts: Sequence[str], found: Sequence[Item],
               naming: set[str] = frozenset()) -> bool:  # type: ignore[assignment]
    """The question names what only some of the list's items hold ("What kinds of biometric
    categorisation are banned?" is point (g), not all of Article 5(1)): words of the question
    that fewer than half the items hold, each found in some item. Items are read with their
    sub-items (the AUP's "1.4 … unlicensed practice of any profession" is inside item 1)."""
    joined = " ".join(t.strip() for t in texts)
    bodies = []
    for i, it in enumerate(found):
        start = joined.find(it.text[:40])
        stop = joined.find(found[i + 1].text[:40]) if i + 1 < len(found) else len(joined)
        bodies.append(set(tokens(joined[start:stop] if start >= 0 else it.text)))
    # Words that name the unit or ask for the list say nothing about which items.
    ignored = naming | _OVERVIEW_WORDS | set(tokens(" ".join(_LIST_VERBS))) | set(tokens(
        opening(texts)))
    asked = {w for w in tokens(question) if w not in ignored and not w[0].isdigit()}
    rare = {w for w in asked if 0 < sum(w in b for b in bodies) < len(bodies) / 2}
    return bool(rare)


def _label(passages: Sequence[Passage], unit: Unit) -> str:
    first = passages[0]
    name = first.heading or first.locator
    return f"{name} · {first.title}" if name and name != first.title else unit.label


def answer(writer: Writer, question: str, unit: Unit, the_plan: Plan, kind: Mode,
           retrieved: list[Passage], retrieve_ms: float) -> Iterator[str | AnswerResult]:
    """Yield the answer line by line as each bullet is written and checked, then the
    AnswerResult: a heading line, then "- bullet [n]" lines."""
    started = time.perf_counter()
    base = AnswerResult(question=question, answer="", abstained=False, model=writer.model.label,
                        passages=the_plan.passages, cited=[], sentences=[], retrieved=retrieved,
                        mode="list" if the_plan.items else "summary", unit=unit.to_json())
    base.unit["label"] = the_plan.label
    if the_plan.refused:
        base.abstained, base.abstain_reason = True, "unit_too_long"
        base.answer = the_plan.refused
        base.mode = kind
        base.timings = _timings(started, started, retrieve_ms, writer.stats)
        yield base
        return
    if the_plan.items:
        said = _trim(the_plan.opening, 45).rstrip(":")
        header = f"{the_plan.label}, {len(the_plan.items)} items" + (
            f": “{said}” [1]" if said else ":")
    else:
        header = f"{the_plan.label}, from {len(the_plan.passages)} passages:"
    header = header[:1].upper() + header[1:]
    lines, sentences = [header], [Sentence(header, [1] if header.endswith("[1]") else [])]
    yield header
    first = 0.0
    pieces: list[Item | int] = ([*the_plan.items] if the_plan.items
                                else list(range(1, len(the_plan.passages) + 1)))
    distinct = distinct_terms(the_plan.items)
    for i, piece in enumerate(pieces):
        if isinstance(piece, Item):
            bullet = writer.item(piece, the_plan.passages[piece.n - 1].chunk_id, distinct[i],
                                 [o.text for o in the_plan.items if o is not piece])
        else:
            bullet = writer.point(the_plan.passages[piece - 1], piece,
                                  [p.text for k, p in enumerate(the_plan.passages, 1)
                                   if k != piece])
        first = first or time.perf_counter()
        line = f"- {bullet.text} [{bullet.n}]"
        lines.append(line)
        sentences.append(Sentence(f"- {bullet.text}", [bullet.n], True, round(bullet.support, 3)))
        yield "\n" + line
    base.answer = "\n".join(lines)
    base.raw_answer = base.answer
    base.sentences = sentences
    base.cited = sorted({s.cited[0] for s in sentences if s.cited})
    base.prompt_tokens = writer.stats.prompt_tokens
    base.completion_tokens = writer.stats.completion_tokens
    base.timings = _timings(started, first, retrieve_ms, writer.stats)
    yield base


def _timings(started: float, first: float, retrieve_ms: float, stats: GenerationStats
             ) -> dict[str, float]:
    ended = time.perf_counter()
    return {"retrieve_ms": round(retrieve_ms, 1),
            "first_token_ms": round(((first or ended) - started) * 1000, 1),
            "total_ms": round((ended - started) * 1000 + retrieve_ms, 1),
            "tokens_per_s": round(stats.completion_tokens / max(1e-6, ended - started), 2)}
