"""The models x prompts table printed at the end of a pytest run (pure, no pytest).

Its latency columns are the metric catalogue's TERMINAL_FIGURES.
"""

from __future__ import annotations

from pytest_foundry.metric_catalog import TERMINAL_FIGURES, Figure
from pytest_foundry.report.formatting import duration, rate
from pytest_foundry.results import CellRecord, Results
from pytest_foundry.status import is_measured, with_reason

COLUMNS = ("model", "prompt", "n", *(figure.label for figure in TERMINAL_FIGURES), "load", "status")
STATUS_WIDTH = 60


def _figure_text(cell: CellRecord, figure: Figure) -> str:
    summary = cell["summary"].get(figure.metric.field)
    value = None if summary is None else float(summary[figure.statistic])
    text = duration(value) if figure.unit == "s" else rate(value)
    # A tail statistic of few samples carries a dagger and a footnote.
    if summary is not None and figure.statistic != "median" and summary["tail_unreliable"]:
        text += "†"
    return text


def results_table(results: Results) -> list[str]:
    """Fixed-width table lines; a small-n p95 carries a dagger and a footnote."""
    load = {m["slug"]: m["load_s"] for m in results["models"]}
    rows: list[tuple[str, ...]] = []
    for cell in results["cells"]:
        if not cell["samples"] and is_measured(cell["status"]):
            continue  # an output-only cell: no latency rounds to show
        status = with_reason(cell["status"], cell["reason"])
        rows.append(
            (
                cell["model"],
                cell["prompt"],
                str(len(cell["samples"])),
                *(_figure_text(cell, figure) for figure in TERMINAL_FIGURES),
                duration(load.get(cell["model"])),
                status if len(status) <= STATUS_WIDTH else status[: STATUS_WIDTH - 1] + "…",
            )
        )
    if not rows:
        return []
    widths = [max(len(COLUMNS[i]), *(len(r[i]) for r in rows)) for i in range(len(COLUMNS))]
    lines = ["  ".join(name.ljust(widths[i]) for i, name in enumerate(COLUMNS)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip() for row in rows)
    if any("†" in value for row in rows for value in row):
        lines.append("† n < 20: p95 interpolates between few samples (unreliable)")
    return lines
