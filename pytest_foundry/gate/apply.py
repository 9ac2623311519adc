"""The gate sequence, shared by the pytest run and ``pytest-foundry compare``.

Pure: no pytest.  Compare HEAD with the baseline, then write what was asked for: the
verdict as Markdown and HEAD's metrics as github-action-benchmark files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_foundry.gate.compare import GateReport, compare_results
from pytest_foundry.gate.github_benchmark import write_benchmark_json
from pytest_foundry.gate.policy import GatePolicy
from pytest_foundry.gate.render import write_markdown
from pytest_foundry.results import Results


@dataclass(frozen=True)
class GateOutcome:
    report: GateReport
    written: tuple[Path, ...]


def apply_gate(
    base: Results,
    head: Results,
    policy: GatePolicy,
    *,
    force: bool = False,
    allow_empty: bool = False,
    markdown: Path | None = None,
    benchmark_dir: Path | None = None,
) -> GateOutcome:
    """The verdict of HEAD against BASE, with its files written (atomically)."""
    report = compare_results(base, head, policy, force=force, allow_empty=allow_empty)
    written: list[Path] = []
    if markdown is not None:
        write_markdown(report, markdown)
        written.append(markdown)
    if benchmark_dir is not None:
        written.extend(write_benchmark_json(head, benchmark_dir, report, policy))
    return GateOutcome(report, tuple(written))
