"""The Evaluate tab's views of a run: its report in a sandboxed iframe, its summary as a table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ui.escape import esc


def report_iframe(report_html: str, height: int = 640) -> str:
    """An eval report inside a sandboxed iframe: no script in it can run."""
    return (
        f'<iframe class="eval-report" sandbox="" style="width:100%;height:{int(height)}px;'
        f'border:1px solid var(--border-color-primary)" srcdoc="{esc(report_html)}"></iframe>'
    )


def summary_table(summary: Any) -> tuple[list[str], list[list[Any]]]:
    """Rows for a run's summary.json, whatever its exact shape (list of rows or per-model map)."""
    rows: list[Mapping[str, Any]] = []
    if isinstance(summary, list):
        rows = [r for r in summary if isinstance(r, Mapping)]
    elif isinstance(summary, Mapping):
        for key in ("models", "rows", "summary", "results"):
            value = summary.get(key)
            if isinstance(value, list) and all(isinstance(r, Mapping) for r in value):
                rows = value
                break
            if isinstance(value, Mapping) and all(isinstance(r, Mapping) for r in value.values()):
                rows = [_model_row(k, v) for k, v in value.items()]
                break
        else:
            if summary and all(isinstance(v, Mapping) for v in summary.values()):
                rows = [_model_row(k, v) for k, v in summary.items()]
            elif summary:
                rows = [summary]
    headers: list[str] = []
    for r in rows:
        for k, v in r.items():
            if k not in headers and (not isinstance(v, (list, dict)) or _is_interval(v)):
                headers.append(str(k))
    table = [[_cell(r.get(h)) for h in headers] for r in rows]
    return headers, table


def _model_row(model: str, data: Mapping[str, Any]) -> dict[str, Any]:
    # The eval runner nests each model's headline metrics under "overall".
    overall = data.get("overall")
    return {"model": model, **(overall if isinstance(overall, Mapping) else data)}


def _is_interval(value: Any) -> bool:
    """A [low, high] pair, such as accuracy_ci95."""
    return (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, (int, float)) for v in value))


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if _is_interval(value):
        return f"{value[0]:.3f}–{value[1]:.3f}"
    return "" if value is None else value
