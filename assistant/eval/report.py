"""Eval reports: the plain-text summary table, report.md, and a self-contained report.html with
its charts inlined (also written as PNG files beside it)."""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from assistant.eval.questions import Question

Records = Mapping[str, Sequence[Mapping[str, Any]]]


def pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def ms(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def num(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def interval(v: Sequence[float] | None) -> str:
    return "-" if not v else f"{v[0] * 100:.0f}–{v[1] * 100:.0f}%"


def signed(v: float | None) -> str:
    return "-" if v is None else f"{v:+.2f}"


def yes_no(metrics: Mapping[str, Any]) -> str:
    """Yes/no accuracy with its count, "40.0% (2/5)": on a handful of questions the share alone
    says too much."""
    n = metrics.get("yes_no_questions")
    if not n:
        return "-"
    return f"{pct(metrics.get('yes_no_accuracy'))} ({metrics.get('yes_no_right', 0)}/{n})"


# A column formats the metric under its key, or with key None the whole metrics mapping.
Column = tuple[str, str | None, Callable[[Any], str]]


def columns(k: int) -> list[Column]:
    return [
        ("accuracy", "accuracy", pct),
        ("95% CI", "accuracy_ci95", interval),
        ("yes/no", None, yes_no),
        ("truth", "truth_score", signed),
        ("cite hit", "citation_hit", pct),
        ("cite prec", "citation_precision", pct),
        (f"hit@{k}", "hit_at_k", pct),
        ("MRR", "mrr", num),
        ("ans in ctx", "answer_in_context", pct),
        ("abstain acc", "abstention_accuracy", pct),
        ("false abstain", "false_abstention_rate", pct),
        ("ttft p50 ms", "first_token_ms_p50", ms),
        ("total p50 ms", "total_ms_p50", ms),
        ("prompt tok p50", "prompt_tokens_p50", ms),
        ("quoted", "quoted", ms),
        ("quoted right", "quoted_correct", ms),
    ]


def _k(summary: Mapping[str, Any]) -> int:
    return max((m["overall"]["k"] for m in summary["models"].values()), default=0)


def _rows(summary: Mapping[str, Any], part: str | None = None, section: str = "by_kind"
          ) -> tuple[list[str], list[list[str]]]:
    cols = columns(_k(summary))
    header = ["model"] + [c[0] for c in cols]
    rows = []
    for model, data in summary["models"].items():
        metrics = data["overall"] if part is None else data.get(section, {}).get(part)
        if metrics is not None:
            rows.append([model] + [fmt(metrics if key is None else metrics.get(key))
                                   for _, key, fmt in cols])
    return header, rows


def _splits(summary: Mapping[str, Any]) -> list[str]:
    found = {s for d in summary["models"].values() for s in d.get("by_split", {})}
    return [s for s in ("holdout", "tune") if s in found] + sorted(found - {"holdout", "tune"})


def split_rows(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """One row per model and split, the holdout first: the number a user can expect."""
    header, rows = _rows(summary)
    out = []
    for split in _splits(summary):
        _, part = _rows(summary, split, "by_split")
        n = next(iter(summary["models"].values())).get("by_split", {}).get(split, {})
        out += [[f"{r[0]} · {split} ({n.get('questions', 0)} q)", *r[1:]] for r in part]
    return ["model · split", *header[1:]], out


def _of(part: int | None, whole: int | None) -> str:
    return "-" if not whole else f"{part or 0} of {whole}"


def _bullet_support(o: Mapping[str, Any]) -> str:
    """"75.0% (6/8)": the share with its count of bullets."""
    if not o.get("bullets"):
        return "-"
    return f"{pct(o.get('bullet_support'))} ({o.get('bullets_supported', 0)}/{o['bullets']})"


def _seconds(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def _modes(o: Mapping[str, Any]) -> str:
    return ", ".join(f"{mode} {n}" for mode, n in (o.get("modes") or {}).items()) or "-"


# The overview measures, each formatted from one split's summary (metrics.summarize_overview).
OVERVIEW_COLUMNS: tuple[tuple[str, Callable[[Mapping[str, Any]], str]], ...] = (
    ("coverage", lambda o: pct(o.get("coverage"))),
    ("bullets supported", _bullet_support),
    ("citing another doc", lambda o: _of(o.get("other_doc_answers"), o.get("questions"))),
    ("about the article, citing another doc",
     lambda o: _of(o.get("article_other_doc_answers"), o.get("article_questions"))),
    ("s/answer mean", lambda o: _seconds(o.get("seconds_mean"))),
    ("s/answer max", lambda o: _seconds(o.get("seconds_max"))),
    ("abstained", lambda o: _of(o.get("abstained"), o.get("questions"))),
    ("modes", _modes),
)


def overview_rows(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """One row per model and split of the overview questions, the holdout first; no rows in a
    run without them."""
    header = ["model · split", *(c[0] for c in OVERVIEW_COLUMNS)]
    found = {s for d in summary["models"].values() for s in d.get("overview", {})}
    order = [s for s in ("holdout", "tune") if s in found] + sorted(found - {"holdout", "tune"})
    rows = []
    for split in order:
        for model, data in summary["models"].items():
            o = data.get("overview", {}).get(split)
            if o:
                rows.append([f"{model} · {split} ({o['questions']} q)",
                             *(fmt(o) for _, fmt in OVERVIEW_COLUMNS)])
    return header, rows


CHECK_COLUMNS = (
    ("fired: answerable", "fired_answerable"), ("fired: unanswerable", "fired_unanswerable"),
    ("decided: answerable", "decided_answerable"),
    ("decided: unanswerable", "decided_unanswerable"),
    ("off: gained", "without_gained"), ("off: lost", "without_lost"),
)


def check_rows(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Per model, split and named answer check: how often it fired and decided, and what
    turning it off would change, read off the drafts (no estimate for checks that stop the
    model before it writes: measure those with `--without`)."""
    header = ["model · split", "check", *(c[0] for c in CHECK_COLUMNS)]
    rows = []
    for model, data in summary["models"].items():
        for split in _splits(summary):
            for name, row in sorted(data.get("checks", {}).get(split, {}).items()):
                rows.append([f"{model} · {split}", name, *(str(row[k]) for _, k in CHECK_COLUMNS)])
    return header, rows


def summary_table(summary: Mapping[str, Any]) -> str:
    header, rows = _rows(summary)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    caption = f"{summary['questions']} questions from {summary['question_file']}"
    table = [caption, line(header), line(["-" * w for w in widths]), *map(line, rows)]
    if len(_splits(summary)) > 1:
        table += ["", "by split:", *_plain(*split_rows(summary))]
    overview = overview_rows(summary)
    if overview[1]:
        table += ["", "overview questions:", *_plain(*overview)]
    if summary.get("without"):
        table += ["", f"checks turned off: {', '.join(summary['without'])}"]
    return "\n".join(table + [""] + comparison_sentences(summary) if _compared(summary) else table)


def _plain(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    return [line(header), line(["-" * w for w in widths]), *map(line, rows)]


# ---- comparisons ------------------------------------------------------------------------------


def _compared(summary: Mapping[str, Any]) -> bool:
    return bool(summary.get("between_models") or summary.get("baseline"))


def _p(value: float) -> str:
    return "< 0.01" if value < 0.005 else f"{value:.2f}"


def _change(c: Mapping[str, Any]) -> str:
    p = _p(c["p_value"])
    return (f"{c['right_before']} → {c['right_after']} right of {c['questions']} "
            f"(+{len(c['gained'])} −{len(c['lost'])}), p {p if p[0] == '<' else '= ' + p}: "
            f"{c['verdict']}")


def comparison_sentences(summary: Mapping[str, Any]) -> list[str]:
    """One line per comparison, for the terminal."""
    lines = [f"{c['b']} against {c['a']}: {_change(c)}" for c in summary.get("between_models", [])]
    base = summary.get("baseline")
    if base:
        lines += [f"{m} against {base['run']}: {_change(c)}" for m, c in base["models"].items()]
    return lines


_PAIR_HEADER = ["right before", "right now", "gained", "lost", "p (sign test)", "verdict"]


def _pair_cells(c: Mapping[str, Any]) -> list[str]:
    return [f"{c['right_before']} of {c['questions']}", f"{c['right_after']} of {c['questions']}",
            str(len(c["gained"])), str(len(c["lost"])), _p(c["p_value"]), c["verdict"]]


def comparison_tables(summary: Mapping[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of each comparison the run made; "before" is the first model of a
    pair, or the baseline run."""
    out = []
    pairs = summary.get("between_models") or []
    if pairs:
        out.append(("Model against model", ["first", "second", *_PAIR_HEADER],
                    [[c["a"], c["b"], *_pair_cells(c)] for c in pairs]))
    base = summary.get("baseline")
    if base:
        out.append((f"Against the earlier run {base['run']}", ["model", *_PAIR_HEADER],
                    [[m, *_pair_cells(c)] for m, c in base["models"].items()]))
    return out


def _baseline_changes(summary: Mapping[str, Any]) -> list[tuple[str, str, list[str]]]:
    base = summary.get("baseline") or {}
    return [(m, key, c[key]) for m, c in base.get("models", {}).items()
            for key in ("gained", "lost") if c[key]]


_COMPARE_NOTE = (
    "Questions are compared one by one: gained are right only in the second (or current) run, "
    "lost only in the first (an unanswerable question is right when it was declined). The "
    "p-value is the exact sign test on gained against lost: the chance of a split at least "
    "this uneven if neither were better. 95% CI is the Wilson interval of the accuracy."
)


# ---- charts -----------------------------------------------------------------------------------


def _bar_chart(
    title: str, groups: list[str], series: dict[str, list[float | None]], ylabel: str,
    fmt: Callable[[float | None], str], ylim: float | None = None,
) -> bytes:
    # Figure + Agg canvas directly, not pyplot: no global backend state in a process (the UI)
    # that may also draw elsewhere.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    n = max(1, len(series))
    width = 0.8 / n
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (n - 1) / 2) * width for g in range(len(groups))]
        bars = ax.bar(xs, [v or 0.0 for v in values], width, label=name)
        ax.bar_label(bars, labels=[fmt(v) if v is not None else "n/a" for v in values],
                     fontsize=7, padding=2)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if ylim is not None:
        ax.set_ylim(0, ylim)
    else:
        ax.margins(y=0.15)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=min(n, 3),
              frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def accuracy_chart(summary: Mapping[str, Any]) -> bytes:
    keys = [("accuracy", "accuracy"), ("yes/no accuracy", "yes_no_accuracy"),
            ("citation hit", "citation_hit"), ("abstention accuracy", "abstention_accuracy")]
    series = {
        m: [d["overall"].get(k) for _, k in keys] for m, d in summary["models"].items()
    }
    return _bar_chart("Answer quality", [g for g, _ in keys], series, "share of questions",
                      pct, ylim=1.15)


def latency_chart(summary: Mapping[str, Any]) -> bytes:
    keys = [("first token p50", "first_token_ms_p50"), ("total p50", "total_ms_p50")]
    series = {
        m: [d["overall"][k] for _, k in keys] for m, d in summary["models"].items()
    }
    return _bar_chart("Latency (model-generated answers)", [g for g, _ in keys], series, "ms", ms)


# ---- markdown ---------------------------------------------------------------------------------


def _md(text: str) -> str:
    # One line, no raw HTML and no table breaks: answers are model output, not trusted markup.
    text = re.sub(r"\s+", " ", text).strip()
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|")


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(_md(h) for h in header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(_md(c) for c in r) + " |" for r in rows),
    ]


def _cites(record: Mapping[str, Any], key: str = "citations") -> list[str]:
    """The passages an answer cites, or with key="pointed" those an abstention pointed at."""
    out = []
    for c in record.get(key) or []:
        where = f" ({c['locator']})" if c.get("locator") else ""
        out.append(f"[{c['n']}] {c['doc_id']}{where}")
    return out


_MARKS = {"right": "✓", "refused": "○", "wrong": "✗"}


def _mark(record: Mapping[str, Any]) -> str:
    return f"{_MARKS[record['verdict']]} {record['verdict']}"


def _kinds(summary: Mapping[str, Any]) -> list[str]:
    seen: dict[str, None] = {}
    for data in summary["models"].values():
        seen.update(dict.fromkeys(data["by_kind"]))
    return list(seen)


_RATES_NOTE = (
    "Rates are over answerable questions (abstention accuracy: over unanswerable ones; yes/no: "
    "over answerable questions whose expected answer opens with Yes or No, where an answer "
    "taking the other side is wrong even with the required strings); latency and prompt tokens "
    "over answers the model generated. Truth is the mean over all questions of +1 right, 0 "
    "refused, −1 wrong: declining an unanswerable question is right, answering it wrong."
)

_OVERVIEW_NOTE = (
    "Questions about a whole document or provision (kind overview: summaries, complete lists, "
    "two-sided answers), left out of the tables above (but not of By kind). Coverage: the mean "
    "share of a question's key points (must_include groups) the answer contains; an abstention "
    "covers none. Bullets supported: of all \"- \" lines, those whose cited passages hold at "
    "least half of their content words; a bullet without a citation is unsupported. Citing "
    "another doc: answers citing a document outside the question's sources; about the article: "
    "the same over the questions about the news article alone. Seconds: the answer's total "
    "time, over answers the model wrote. Modes: the answer mode the assistant chose."
)

_CHECKS_NOTE = (
    "Each named answer check (assistant/answer/checks/): how often it fired on answerable and "
    "unanswerable questions, how often it decided the abstention, and what turning it off "
    "would have gained and lost, read off the drafts it stopped. A check before generation "
    "leaves no draft: its worth is measured with `assistant eval --without NAME`."
)


def _md_overview(summary: Mapping[str, Any]) -> list[str]:
    header, rows = overview_rows(summary)
    if not rows:
        return []
    return ["## Overview questions", "", _OVERVIEW_NOTE, "", *_md_table(header, rows), ""]


def _overview_note(record: Mapping[str, Any]) -> str:
    """"key points 71%, bullets supported 3/4" of an overview answer; "" for any other."""
    if record.get("kind") != "overview" or record.get("coverage") is None:
        return ""
    return (f" (key points {pct(record['coverage'])}, bullets supported "
            f"{record.get('bullets_supported', 0)}/{record.get('bullets', 0)})")


def render_markdown(
    summary: Mapping[str, Any], questions: Sequence[Question], records: Records
) -> str:
    lines = [
        "# Evaluation report",
        "",
        f"{summary['questions']} questions from `{summary['question_file']}` "
        f"(kinds: {', '.join(summary['kinds'])}), {summary['created']}.",
        "",
        "## Summary",
        "",
        *_md_table(*_rows(summary)),
        "",
        _RATES_NOTE + " `-` means no such question.",
        "",
        "![accuracy](accuracy.png) ![latency](latency.png)",
        "",
        "## By split",
        "",
        "Tuning decisions are made on the `tune` split; `holdout` is what a user can expect.",
        "",
        *_md_table(*split_rows(summary)),
        "",
        *_md_overview(summary),
        "## Answer checks",
        "",
        _CHECKS_NOTE + (f" Turned off in this run: {', '.join(summary['without'])}."
                        if summary.get("without") else ""),
        "",
        *_md_table(*check_rows(summary)),
        "",
        "## Runs",
        "",
        *_md_table(
            ["model", "embedder", "chunking", "prompt version", "corpus hash"],
            [[m, s["embedder"], s["chunking"], s["prompt_version"], s["corpus_hash"]]
             for m, s in ((m, d["stamp"]) for m, d in summary["models"].items())],
        ),
        "",
        "## By kind",
    ]
    for kind in _kinds(summary):
        header, rows = _rows(summary, kind)
        count = next(iter(summary["models"].values()))["by_kind"].get(kind, {}).get("questions")
        lines += ["", f"### {kind} ({count} questions)", "", *_md_table(header, rows)]
    for title, header, rows in comparison_tables(summary):
        lines += ["", f"## {_md(title)}", "", *_md_table(header, rows)]
    for model, word, ids in _baseline_changes(summary):
        lines += ["", f"{_md(model)} {word}: " + ", ".join(f"`{i}`" for i in ids)]
    if _compared(summary):
        lines += ["", _COMPARE_NOTE]
    lines += ["", "## Questions"]
    by_model = {m: {r["id"]: r for r in rs} for m, rs in records.items()}
    for i, q in enumerate(questions, 1):
        lines += ["", f"### {i}. `{q.id}` ({q.kind})", "", f"**Question:** {_md(q.question)}"]
        for turn in q.history:
            lines.append(f"- *{turn['role']}:* {_md(turn['content'])}")
        lines += ["", f"**Expected:** {_md(q.expected_answer)}"
                  + (f" (sources: {', '.join(q.sources)})" if q.sources else ""), ""]
        for m, recs in by_model.items():
            r = recs[q.id]
            extra = f" (abstained: `{r.get('abstain_reason', '')}`)" if r.get("abstained") else ""
            extra += _overview_note(r)
            if r.get("quoted"):
                extra += " (quoted: the model declined)"
            if r.get("citations"):
                extra += f" - cites {_md('; '.join(_cites(r)))}"
            if r.get("pointed"):
                extra += f" - pointed at {_md('; '.join(_cites(r, 'pointed')))}"
            lines.append(f"- **{_md(m)}** {_mark(r)}: {_md(r['answer'])}{extra}")
    return "\n".join(lines) + "\n"


# ---- html -------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;text-align:left}
th{background:#f3f3f3} td.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#137333;font-weight:bold} .bad{color:#b3261e;font-weight:bold}
.refused{color:#8a5a00;font-weight:bold}
.small{font-size:12px;color:#555} .cites{font-size:12px;color:#444;margin-top:.3em}
img{max-width:100%;margin-right:1em} code{background:#f3f3f3;padding:0 .2em}
.answer{white-space:pre-line}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(
            f"<td{' class=n' if i else ''}>{_e(c)}</td>" for i, c in enumerate(r)
        ) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _answer_cell(r: Mapping[str, Any]) -> str:
    style = {"right": "ok", "refused": "refused", "wrong": "bad"}[r["verdict"]]
    mark = f"<span class={style}>{_e(_mark(r))}</span>"
    # pre-line: an overview answer's bullets stay one a line.
    parts = [f"{mark} <span class=answer>{_e(r['answer'])}</span>"]
    if r.get("abstained"):
        parts.append(f"<div class=small>abstained: {_e(r.get('abstain_reason', ''))}</div>")
    note = _overview_note(r)
    if note:
        parts.append(f"<div class=small>{_e(note.strip(' ()'))}</div>")
    if r.get("quoted"):
        parts.append("<div class=small>quoted: the model declined; the passage sentence that best "
                     "matches the question</div>")
    pointed = _cites(r, "pointed")
    if pointed:
        parts.append("<div class=cites>pointed at " + "<br>".join(_e(c) for c in pointed)
                     + "</div>")
    cites = _cites(r)
    if cites:
        parts.append("<div class=cites>" + "<br>".join(_e(c) for c in cites) + "</div>")
    return "".join(parts)


def _html_overview(summary: Mapping[str, Any]) -> list[str]:
    header, rows = overview_rows(summary)
    if not rows:
        return []
    return ["<h2>Overview questions</h2>", f"<p>{_e(_OVERVIEW_NOTE)}</p>",
            _html_table(header, rows)]


def render_html(
    summary: Mapping[str, Any], questions: Sequence[Question], records: Records,
    charts: Mapping[str, bytes],
) -> str:
    models = list(summary["models"])
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<title>Evaluation report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Evaluation report</h1>",
        f"<p>{_e(summary['questions'])} questions from <code>{_e(summary['question_file'])}"
        f"</code> (kinds: {_e(', '.join(summary['kinds']))}), {_e(summary['created'])}.</p>",
        "<h2>Summary</h2>",
        _html_table(*_rows(summary)),
        "<h2>By split</h2>",
        "<p>Tuning decisions are made on the <code>tune</code> split; <code>holdout</code> is "
        "what a user can expect.</p>",
        _html_table(*split_rows(summary)),
        *_html_overview(summary),
        "<h2>Answer checks</h2>",
        f"<p>{_e(_CHECKS_NOTE)}</p>",
        _html_table(*check_rows(summary)),
        f"<p class=small>{_e(_RATES_NOTE)} - means no such question.</p>",
    ]
    for name, png in charts.items():
        data = base64.b64encode(png).decode("ascii")
        out.append(f"<img alt='{_e(name)} chart' src='data:image/png;base64,{data}'>")
    out += ["<h2>Runs</h2>", _html_table(
        ["model", "embedder", "chunking", "prompt version", "corpus hash"],
        [[m, d["stamp"]["embedder"], d["stamp"]["chunking"], d["stamp"]["prompt_version"],
          d["stamp"]["corpus_hash"]] for m, d in summary["models"].items()],
    ), "<h2>By kind</h2>"]
    for kind in _kinds(summary):
        out += [f"<h3>{_e(kind)}</h3>", _html_table(*_rows(summary, kind))]
    for title, header, rows in comparison_tables(summary):
        out += [f"<h2>{_e(title)}</h2>", _html_table(header, rows)]
    for model, word, ids in _baseline_changes(summary):
        links = ", ".join(f"<a href='#{_e(i)}'>{_e(i)}</a>" for i in ids)
        out.append(f"<p>{_e(model)} {_e(word)}: {links}</p>")
    if _compared(summary):
        out.append(f"<p class=small>{_e(_COMPARE_NOTE)}</p>")
    by_model = {m: {r["id"]: r for r in rs} for m, rs in records.items()}
    head = "".join(f"<th>{_e(m)}</th>" for m in models)
    out += ["<h2>Questions</h2>",
            f"<table><thead><tr><th>#</th><th>question</th><th>expected</th>{head}</tr></thead>"
            "<tbody>"]
    for i, q in enumerate(questions, 1):
        history = "".join(
            f"<div class=small>{_e(t['role'])}: {_e(t['content'])}</div>" for t in q.history
        )
        sources = f"<div class=small>{_e(', '.join(q.sources))}</div>" if q.sources else ""
        cells = "".join(f"<td>{_answer_cell(by_model[m][q.id])}</td>" for m in models)
        out.append(
            f"<tr id='{_e(q.id)}'><td class=n>{i}</td><td>{history}{_e(q.question)}"
            f"<div class=small>{_e(q.id)} · {_e(q.kind)}</div></td>"
            f"<td>{_e(q.expected_answer)}{sources}</td>{cells}</tr>"
        )
    out.append("</tbody></table></body></html>")
    return "\n".join(out)


def write_reports(
    out: Path, summary: Mapping[str, Any], questions: Sequence[Question], records: Records
) -> None:
    charts = {"accuracy": accuracy_chart(summary), "latency": latency_chart(summary)}
    for name, png in charts.items():
        (out / f"{name}.png").write_bytes(png)
    (out / "report.md").write_text(render_markdown(summary, questions, records), encoding="utf-8")
    (out / "report.html").write_text(
        render_html(summary, questions, records, charts), encoding="utf-8"
    )
