"""The gate's outputs for people: gate.md (a PR comment / job summary) and terminal lines.

Pure: no pytest.  No emoji: verdicts are words (FAIL, warn, regressed, improved ...), so
the output reads the same in a terminal, a log and GitHub.
"""

from __future__ import annotations

import html
import math
import os
import re

from pytest_foundry.atomic_files import atomic_write_text
from pytest_foundry.gate.changed_outputs import SnapshotChange
from pytest_foundry.gate.compare import GateReport, GateRow, RunInfo

# Row order in tables: what needs attention first.
_ORDER = {("regressed", "fail"): 0, ("regressed", "warn"): 1, ("regressed", None): 2, ("improved", None): 3}


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    number = _number(value)
    return f"{number} {unit}" if unit and unit != "score" else number


def _number(value: float) -> str:
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def format_change(row: GateRow) -> str:
    """ "+9.5 ms (+18.9%)"."""
    delta = row.delta
    if delta is None:
        return "–"
    unit = row.gate_metric.unit
    sign = "+" if delta > 0 else ""
    absolute = f"{sign}{format_value(delta, unit)}"
    if row.ratio is None or math.isinf(row.ratio):
        return absolute
    return f"{absolute} ({(row.ratio - 1.0) * 100.0:+.1f}%)"


def format_ratio(row: GateRow) -> str:
    """ "1.19 [1.17, 1.22]"; single values have no CI."""
    if row.ratio is None:
        return "–"
    if row.ci_low is None or row.ci_high is None:
        return _ratio(row.ratio)
    return f"{_ratio(row.ratio)} [{_ratio(row.ci_low)}, {_ratio(row.ci_high)}]"


def _ratio(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.3f}"


def verdict_word(row: GateRow) -> str:
    if row.verdict == "regressed" and row.tier == "fail":
        return "FAIL"
    if row.verdict == "regressed" and row.tier == "warn":
        return "warn"
    return row.verdict


def where(model: str, prompt: str | None) -> str:
    return f"{model} × {prompt}" if prompt is not None else f"{model} (all prompts)"


def _run_label(run: RunInfo | None) -> str:
    if run is None or not run.commit:
        return "(no commit)"
    return run.commit[:10] + (" (dirty)" if run.dirty else "")


def _outcome_word(report: GateReport) -> str:
    if report.outcome == "empty":
        return "NOTHING COMPARED" + (" (allowed)" if report.allow_empty else "")
    return {"fail": "FAIL", "warn": "pass with warnings", "pass": "pass"}[report.outcome]


def summary_counts(report: GateReport) -> str:
    """ "3 regressed (2 fail, 1 warn), 1 improved, 20 unchanged, 2 inconclusive"."""
    counts = report.counts()
    regressed = report.rows_with("regressed")
    fails = sum(row.tier == "fail" for row in regressed)
    warns = sum(row.tier == "warn" for row in regressed)
    tiers = ", ".join(
        part for part in (f"{fails} fail" if fails else "", f"{warns} warn" if warns else "") if part
    )
    text = f"{counts['regressed']} regressed" + (f" ({tiers})" if tiers else "")
    text += f", {counts['improved']} improved, {counts['unchanged']} unchanged"
    if counts["inconclusive"]:
        text += f", {counts['inconclusive']} inconclusive"
    if report.snapshot_changes:
        changed = len(report.snapshot_changes)
        text += f"; {changed} output{'s' if changed != 1 else ''} changed"
    return text


def _notable(report: GateReport) -> list[GateRow]:
    rows = [row for row in report.rows if (row.verdict, row.tier) in _ORDER]
    return sorted(rows, key=lambda row: _ORDER[(row.verdict, row.tier)])


# --- terminal ------------------------------------------------------------------------------


def terminal_lines(report: GateReport) -> list[str]:
    """A short verdict: one summary line, then the regressed and improved rows, then notes."""
    lines = [
        f"foundry gate vs baseline {_run_label(report.base_run)}: {_outcome_word(report)}"
        f" - {summary_counts(report)}"
    ]
    table = [
        [
            verdict_word(row),
            where(row.model, row.prompt),
            row.gate_metric.label,
            f"{format_value(row.base, row.gate_metric.unit)} -> "
            f"{format_value(row.head, row.gate_metric.unit)}",
            format_change(row),
            f"ratio {format_ratio(row)}",
        ]
        for row in _notable(report)
    ]
    lines += _aligned(table)
    for change in report.snapshot_changes:
        tier = f" ({change.tier})" if change.tier else ""
        lines.append(f"  output changed{tier}: {where(change.model, change.prompt)}: {change.reason}")
    for item in report.missing:
        lines.append(
            f"  not compared: {where(item.model, item.prompt)}: {_missing_text(item.missing_in, item.reason)}"
        )
    lines += [f"  warning: {warning}" for warning in report.warnings]
    return lines


def _aligned(table: list[list[str]]) -> list[str]:
    if not table:
        return []
    widths = [max(len(row[column]) for row in table) for column in range(len(table[0]))]
    return [
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]


def _missing_text(missing_in: str, reason: str) -> str:
    return f"{'baseline' if missing_in == 'base' else 'head'}: {reason}"


# --- markdown ------------------------------------------------------------------------------

_HEADER = (
    "| verdict | model | prompt | metric | base | head | change | ratio [{ci}] | n base/head | note |\n"
    "|---|---|---|---|--:|--:|--:|---|--:|---|"
)


def render_markdown(report: GateReport) -> str:
    """gate.md: GitHub-flavoured Markdown for a PR comment or $GITHUB_STEP_SUMMARY."""
    confidence = f"{report.confidence * 100:.0f}% CI"
    parts = [
        f"## pytest-foundry gate: {_outcome_word(report)}",
        "",
        f"Head `{_run_label(report.head_run)}` compared with baseline `{_run_label(report.base_run)}`"
        f" (recorded {report.base_run.created_at if report.base_run else 'unknown'}).",
        "",
        f"**{summary_counts(report)}.**",
        "",
    ]
    notable = _notable(report)
    if notable:
        parts += ["### Regressions and improvements", "", _HEADER.format(ci=confidence)]
        parts += [_markdown_row(row) for row in notable]
        parts.append("")
    if report.rows:
        parts += [
            f"<details><summary>All {len(report.rows)} comparisons</summary>",
            "",
            _HEADER.format(ci=confidence),
        ]
        parts += [_markdown_row(row) for row in report.rows]
        parts += ["", "</details>", ""]
    if report.snapshot_changes:
        parts += ["### Changed outputs", ""]
        for change in report.snapshot_changes:
            parts += _markdown_change(change)
    if report.missing:
        parts += ["### Not compared", ""]
        parts += [
            f"- {_cell(where(item.model, item.prompt))}: {_cell(_missing_text(item.missing_in, item.reason))}"
            for item in report.missing
        ]
        parts.append("")
    if report.warnings:
        parts += ["### Warnings", ""]
        parts += [f"- {_cell(warning)}" for warning in report.warnings]
        parts.append("")
    spec = f"`{report.spec}` over the defaults" if report.spec else "the defaults"
    parts.append(
        f"<sub>Regressed: the whole {confidence} of the ratio head/base lies beyond the threshold the bad way"
        f" and the change is at least the metric's floor. Gate: {_cell(spec)}.</sub>"
    )
    return "\n".join(parts) + "\n"


def _markdown_row(row: GateRow) -> str:
    unit = row.gate_metric.unit
    verdict = verdict_word(row)
    if row.verdict == "regressed":
        verdict = f"**{verdict}**" if verdict != "regressed" else verdict
    cells = [
        verdict,
        row.model,
        row.prompt if row.prompt is not None else "*all prompts*",
        row.gate_metric.label,
        format_value(row.base, unit),
        format_value(row.head, unit),
        format_change(row),
        format_ratio(row),
        f"{row.n_base}/{row.n_head}",
        row.note or "",
    ]
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def _cell(text: str) -> str:
    """Table-safe text: no pipes or line breaks, no raw HTML."""
    return html.escape(" ".join(text.split()), quote=False).replace("|", "\\|")


def _markdown_change(change: SnapshotChange) -> list[str]:
    tier = f" ({change.tier})" if change.tier else ""
    summary = html.escape(f"{where(change.model, change.prompt)}{tier}: {change.reason}", quote=False)
    lines = [f"<details><summary>{summary}</summary>", ""]
    if change.diff:
        fence = _fence(change.diff)
        lines += [f"{fence}diff", change.diff, fence]
    else:
        lines.append("(no text to diff)")
    lines += ["", "</details>", ""]
    return lines


def _fence(text: str) -> str:
    """A backtick fence longer than any run of backticks inside the text."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def write_markdown(report: GateReport, path: str | os.PathLike[str]) -> None:
    atomic_write_text(path, render_markdown(report))
