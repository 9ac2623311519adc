"""The report's building blocks: columns, cells, rows, tables, and how a cell is made
from a statistic and marked best.  Pure: no pytest; see selection.py for the tables."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pytest_foundry.errors import one_line
from pytest_foundry.metric_catalog import (
    Better,
    Figure,
)
from pytest_foundry.metrics import TAIL_PERCENTILE_MIN_SAMPLES, Summary
from pytest_foundry.report import formatting as fmt
from pytest_foundry.results import SummaryRecord

BEST_MARK = "★"
NO_QUALITY = "—"
REASON_LIMIT = 160

# flag name -> (marker appended to the value, footnote)
FLAGS: dict[str, tuple[str, str]] = {
    "small_n": ("†", f"n < {TAIL_PERCENTILE_MIN_SAMPLES}: p95/p99 unreliable"),
    "estimated": ("‡", "token counts estimated: the server sent no usage"),
}


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # Markdown and HTML
    csv_header: str  # CSV: names the fixed unit of the column
    better: Better | None = None  # ranked for best marks when set
    numeric: bool = False  # right-aligned


def figure_column(figure: Figure, ranked: bool = True) -> Column:
    """The column of a latency figure of the metric catalogue."""
    header = figure.label[:1].upper() + figure.label[1:]
    return Column(figure.name, header, figure.table_key, figure.better if ranked else None, True)


@dataclass(frozen=True)
class Cell:
    text: str  # for people, without markers
    csv: str  # for tools, in the column's CSV unit
    value: float | None = None  # what best marks compare
    # How far the value could move from noise alone (same unit); None when unknown.
    noise: float | None = None
    best: bool = False
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    status: str  # the model's or the cell's status, for styling
    cells: Mapping[str, Cell]


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()

    def flags_used(self) -> list[str]:
        used = {flag for row in self.rows for cell in row.cells.values() for flag in cell.flags}
        return [flag for flag in FLAGS if flag in used]

    def has_best(self) -> bool:
        return any(cell.best for row in self.rows for cell in row.cells.values())

    def footnotes(self) -> list[str]:
        """Notes for the markers actually used, then the table's own notes."""
        lines: list[str] = []
        if self.has_best():
            lines.append(f"{BEST_MARK} best among {self._best_scope()}.")
        lines.extend(f"{FLAGS[flag][0]} {FLAGS[flag][1]}." for flag in self.flags_used())
        lines.extend(self.notes)
        return lines

    def _best_scope(self) -> str:
        return "measured cells of the same prompt" if self.key == "detail" else "models with status ok"


@dataclass(frozen=True)
class Report:
    title: str
    meta: tuple[tuple[str, str], ...]  # (label, text) lines of the header
    selection: Table
    models: Table
    detail: Table
    concurrency: Table | None = None  # only when the run swept concurrency levels

    @property
    def tables(self) -> tuple[Table, ...]:
        """In reading order: choose a model, then the per-prompt detail, the concurrency
        sweep if any, then where models came from."""
        sweep = () if self.concurrency is None else (self.concurrency,)
        return (self.selection, self.detail, *sweep, self.models)


def text_cell(text: str | None, missing: str = fmt.MISSING) -> Cell:
    value = missing if text is None or text == "" else text
    return Cell(text=value, csv=value)


# --- cells ---------------------------------------------------------------------------


def stat_cell(
    summary: Summary | SummaryRecord | None,
    stat: str,
    text: Callable[[float | None], str],
    csv: Callable[[float | None], str],
    tail: bool = False,
    estimated: bool = False,
) -> Cell:
    if summary is None:
        return Cell(text=fmt.MISSING, csv=fmt.MISSING)
    if isinstance(summary, Summary):
        value = float(getattr(summary, stat))
        n, stdev = summary.n, summary.stdev
    else:
        value = float(summary[stat])  # type: ignore[literal-required]
        n, stdev = summary["n"], float(summary["stdev"])
    flags: list[str] = []
    if tail and n < TAIL_PERCENTILE_MIN_SAMPLES:
        flags.append("small_n")
    if estimated:
        flags.append("estimated")
    return Cell(
        text=text(value), csv=csv(value), value=value, noise=_noise(stat, stdev, n), flags=tuple(flags)
    )


def _noise(stat: str, stdev: float, n: int) -> float:
    """The half-width of an approximate 95 % interval of a statistic of ``n`` samples:
    the median's standard error is about 1.25 sd/sqrt(n); tails are roughly twice as
    uncertain, and a mean has sd/sqrt(n)."""
    factor = {"mean": 1.0, "median": 1.2533}.get(stat, 2.5)
    return 1.96 * factor * stdev / math.sqrt(n) if n > 0 else math.inf


def number_cell(
    value: float | None, text: Callable[[float | None], str], csv: Callable[[float | None], str]
) -> Cell:
    return Cell(text=text(value), csv=csv(value), value=value)


# One measurement a run, so no spread to compute: the run-to-run agreement seen here
# (a cold load within 20 %; peak RSS within 16 MiB or 5 %) is the noise a ★ must beat.
LOAD_NOISE = (0.20, 0.0)
MEMORY_NOISE = (0.05, 16 * 1024 * 1024)


def one_off_cell(
    value: float | None,
    text: Callable[[float | None], str],
    csv: Callable[[float | None], str],
    noise: tuple[float, float],
) -> Cell:
    relative, absolute = noise
    spread = None if value is None else max(relative * value, absolute)
    return Cell(text=text(value), csv=csv(value), value=value, noise=spread)


def reason_text(text: str | None) -> str | None:
    return None if not text else one_line(text, REASON_LIMIT)


def mark_best(rows: list[dict[str, Cell]], columns: Sequence[Column]) -> None:
    """Mark the best value of each ranked column among ``rows`` (in place), only where it
    beats the runner-up by more than the noise of either: a ★ is a real difference."""
    for column in columns:
        if column.better is None:
            continue
        ranked = sorted(
            (row for row in rows if row[column.key].value is not None),
            key=lambda row: row[column.key].value or 0.0,
            reverse=column.better == "higher",
        )
        if len(ranked) < 2:
            continue
        best, runner_up = ranked[0][column.key], ranked[1][column.key]
        assert best.value is not None and runner_up.value is not None
        margin = max(best.noise or 0.0, runner_up.noise or 0.0)
        if abs(runner_up.value - best.value) <= margin:
            continue  # within the noise: no model is best on this column
        ranked[0][column.key] = dataclasses.replace(best, best=True)
