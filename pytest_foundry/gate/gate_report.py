"""The gate's verdict as values: a row per metric and scope, what one run lacks, the runs
compared, and the report that gathers them.  Pure: no pytest; compare.py fills it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pytest_foundry.gate.catalog import METRICS_BY_NAME, GateMetric
from pytest_foundry.gate.changed_outputs import SnapshotChange
from pytest_foundry.gate.policy import Tier
from pytest_foundry.gate.stats import Verdict
from pytest_foundry.results import Results

Side = Literal["base", "head"]
NO_CI_NOTE = "no CI (1 sample)"


@dataclass(frozen=True)
class GateRow:
    """One metric of one model (prompt None: the model-level row) compared across the runs."""

    model: str
    prompt: str | None
    metric: str  # GateMetric.name
    base: float | None  # display units (GateMetric.unit)
    head: float | None
    ratio: float | None  # head / base
    ci_low: float | None
    ci_high: float | None
    n_base: int
    n_head: int
    verdict: Verdict
    tier: Tier | None
    note: str | None = None

    @property
    def gate_metric(self) -> GateMetric:
        return METRICS_BY_NAME[self.metric]

    @property
    def delta(self) -> float | None:
        if self.base is None or self.head is None:
            return None
        return self.head - self.base


@dataclass(frozen=True)
class MissingItem:
    """A model or cell that one run lacks or could not measure."""

    model: str
    prompt: str | None
    missing_in: Side
    reason: str


@dataclass(frozen=True)
class RunInfo:
    commit: str | None
    dirty: bool
    created_at: str

    @classmethod
    def of(cls, results: Results) -> RunInfo:
        git = results.get("git")
        return cls(
            commit=git["commit"] if git else None,
            dirty=bool(git["dirty"]) if git else False,
            created_at=results.get("created_at", ""),
        )


@dataclass
class GateReport:
    rows: list[GateRow] = field(default_factory=list)
    snapshot_changes: list[SnapshotChange] = field(default_factory=list)
    missing: list[MissingItem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    base_run: RunInfo | None = None
    head_run: RunInfo | None = None
    spec: str = ""
    confidence: float = 0.95
    # Model x prompt cells measured in both runs.  None compared is no pass: the baseline
    # shares nothing with the run (other models, other prompts, every cell failed).
    paired_cells: int = 0
    allow_empty: bool = False

    @property
    def nothing_compared(self) -> bool:
        return self.paired_cells == 0

    @property
    def failed(self) -> bool:
        """Any fail-tier regression or fail-tier output change, or nothing compared
        (unless that is allowed)."""
        if self.nothing_compared and not self.allow_empty:
            return True
        return any(row.verdict == "regressed" and row.tier == "fail" for row in self.rows) or any(
            change.tier == "fail" for change in self.snapshot_changes
        )

    @property
    def warned(self) -> bool:
        return any(row.verdict == "regressed" and row.tier == "warn" for row in self.rows) or any(
            change.tier == "warn" for change in self.snapshot_changes
        )

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    @property
    def outcome(self) -> Literal["empty", "fail", "warn", "pass"]:
        if self.nothing_compared:
            return "empty"
        return "fail" if self.failed else "warn" if self.warned else "pass"

    def counts(self) -> dict[Verdict, int]:
        counts: dict[Verdict, int] = {"regressed": 0, "improved": 0, "unchanged": 0, "inconclusive": 0}
        for row in self.rows:
            counts[row.verdict] += 1
        return counts

    def rows_with(self, verdict: Verdict) -> list[GateRow]:
        return [row for row in self.rows if row.verdict == verdict]
