"""The Evaluate tab's handlers: run the question set against models, open past runs."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.eval import saved
from assistant.eval.report import comparison_sentences
from assistant.settings import REPO_ROOT, Settings
from ui import escape, eval_html

DEFAULT_QUESTIONS = "eval/questions.jsonl"
# A committed report (eval/reports/<name>) in the past-runs list, beside the local raw runs.
REPORT = "report:"


class EvalHandlers:
    def __init__(self, settings: Settings, runs_dir: Path, reports_dir: Path | None = None) -> None:
        self.settings = settings
        self.runs_dir = runs_dir
        self.reports_dir = reports_dir or REPO_ROOT / "eval" / "reports"
        # Gradio serves only files under the working directory or the temp dir, and the app may
        # run from anywhere: images and reports are copied here before they are shown.
        self.serve_dir = Path(tempfile.mkdtemp(prefix="assistant-eval-"))

    def run_names(self) -> list[str]:
        if not self.runs_dir.exists():
            return []
        runs = [p for p in self.runs_dir.iterdir() if (p / "summary.json").exists()]
        runs.sort(key=lambda p: (p / "summary.json").stat().st_mtime, reverse=True)
        return [p.name for p in runs]

    def run_choices(self) -> list[tuple[str, str]]:
        """Local runs (newest first), then the committed reports (newest name first): a fresh
        clone has no raw runs, but it has the reports the README's numbers come from."""
        reports = []
        if self.reports_dir.is_dir():
            reports = sorted((p.name for p in self.reports_dir.iterdir()
                              if (p / "summary.json").exists()), reverse=True)
        return [*((n, n) for n in self.run_names()),
                *((f"{n} (committed report)", REPORT + n) for n in reports)]

    def runs(self) -> Any:
        return gr.Dropdown(choices=self.run_choices())

    def baselines(self) -> Any:
        # An earlier run to compare against is optional: the empty choice clears it.
        return gr.Dropdown(choices=[("(none)", ""), *self.run_names()])

    def questions_path(self, text: str | None) -> Path:
        path = Path((text or DEFAULT_QUESTIONS).strip()).expanduser()
        if str(path) == "mine":  # the answers corrected in the chat (assistant/eval/saved.py)
            return saved.questions_path(self.settings.data_dir)
        if path.is_absolute() or path.exists():
            return path
        return REPO_ROOT / path

    def _servable(self, path: Path, run: str) -> str | None:
        if not path.exists():
            return None
        target = self.serve_dir / run / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        return str(target)

    def open_run(self, name: str | None, note: str = "") -> tuple[Any, ...]:
        """status, table, accuracy chart, latency chart, report file, report view."""
        if not name:
            return ("", gr.Dataframe(value=None, visible=False), gr.Image(None, visible=False),
                    gr.Image(None, visible=False), gr.DownloadButton(value=None, visible=False),
                    "")
        is_report = name.startswith(REPORT)
        if is_report:
            run = self.reports_dir / Path(name.removeprefix(REPORT)).name
        else:
            run = self.runs_dir / Path(name).name
        serve_as = ("report-" if is_report else "") + run.name  # apart from a run of that name
        try:
            summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            gr.Warning(f"Run {name} has no readable summary.json ({e})")
            return (gr.skip(),) * 6
        headers, rows = eval_html.summary_table(summary)
        report = run / "report.html"
        report_file = self._servable(report, serve_as)
        view = (eval_html.report_iframe(report.read_text(encoding="utf-8"))
                if report.exists() else "")
        status = note or (f"Committed report {run.name}" if is_report else f"Run {name}")
        if not note and isinstance(summary, dict) and summary.get("questions"):
            status += f": {summary['questions']} questions from {summary.get('question_file', '')}"
            compared = comparison_sentences(summary)
            if compared:
                status += "\n\n" + "\n".join(compared)
        accuracy = self._servable(run / "accuracy.png", serve_as)
        latency = self._servable(run / "latency.png", serve_as)
        return (
            f"<pre class='eval-status'>{escape.esc(status)}</pre>",
            gr.Dataframe(value=rows, headers=headers, visible=bool(headers)),
            gr.Image(accuracy, visible=bool(accuracy)),
            gr.Image(latency, visible=bool(latency)),
            gr.DownloadButton(value=report_file, visible=bool(report_file)),
            view,
        )

    def run(
        self,
        models: list[str] | None,
        questions: str | None,
        limit: float | None,
        kinds: list[str] | None,
        name: str | None,
        fresh: bool,
        baseline: str | None = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, ...]:
        """status, table, charts, report file, report view, past runs, runs to compare with."""
        from assistant.eval.runner import run_eval

        if not models:
            raise gr.Error("Pick at least one model to evaluate")
        path = self.questions_path(questions)
        if not path.exists():
            raise gr.Error(f"No question file at {path} - give a path to a .jsonl question file")
        run = re.sub(r"[^A-Za-z0-9._-]+", "-", (name or "").strip()).strip("-.")
        run = run or time.strftime("ui-%Y%m%d-%H%M%S")
        out = self.runs_dir / run
        progress(0.0, desc="starting")
        text = run_eval(
            self.settings, path, list(models), out, limit=int(limit) if limit else None,
            kinds=list(kinds) if kinds else None, fresh=bool(fresh),
            on_progress=lambda f, msg: progress(f, desc=msg),
            baseline=self.runs_dir / Path(baseline).name if baseline else None,
        )
        return (*self.open_run(run, note=text), gr.Dropdown(choices=self.run_choices(), value=run),
                self.baselines())
