"""What a finished run tells: one RunSummary value, and the terminal lines it prints as.

Pure: no pytest.  Like syrupy's SnapshotReport: the session's ``finish`` returns it, the
plugin prints ``summary_lines`` in the terminal summary and sets the exit status from
``failed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_foundry.post_run import StepOutcome
from pytest_foundry.results import Results

if TYPE_CHECKING:
    from pytest_foundry.gate.compare import GateReport


@dataclass(frozen=True)
class RunSummary:
    results: Results | None  # None when no foundry test ran, or the record broke
    load_counts: tuple[tuple[str, int], ...] = ()  # (model slug, loads), models under test
    steps: tuple[StepOutcome, ...] = ()
    notes: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()  # problems outside any step (the record itself)
    report_dir: Path | None = None

    @property
    def failed(self) -> bool:
        """Whether a step the user asked for failed, or the record could not be built."""
        return bool(self.errors) or any(step.fails_run for step in self.steps)

    @property
    def gate_report(self) -> GateReport | None:
        return next((step.gate_report for step in self.steps if step.gate_report is not None), None)

    @property
    def written(self) -> tuple[Path, ...]:
        return tuple(path for step in self.steps for path in step.written)


EMPTY_SUMMARY = RunSummary(results=None)


def summary_lines(summary: RunSummary) -> list[str]:
    """The foundry section of the terminal summary."""
    lines: list[str] = []
    if summary.results is not None:
        from pytest_foundry.report.concurrency_section import terminal_lines as sweep_lines
        from pytest_foundry.terminal_table import results_table

        lines.extend(results_table(summary.results))
        lines.extend(sweep_lines(summary.results))
        loads = ", ".join(f"{slug} x{count}" for slug, count in summary.load_counts if count)
        lines.append(f"model loads: {sum(c for _, c in summary.load_counts)} ({loads or 'none'})")
    if summary.gate_report is not None:
        from pytest_foundry.gate.render import terminal_lines

        lines.extend(terminal_lines(summary.gate_report))
    lines.extend(summary.notes)
    lines.extend(note for step in summary.steps for note in step.notes)
    lines.extend(f"error: {message}" for message in summary.errors)
    lines.extend(f"error: {step.label}: {step.error}" for step in summary.steps if step.error)
    if summary.results is not None and summary.report_dir is not None and summary.written:
        from pytest_foundry.report.writer import summary_lines as report_lines

        # Only its last line, the report's path: the table above already has the figures.
        lines.append(report_lines(summary.results, summary.report_dir, list(summary.written))[-1])
    return lines
