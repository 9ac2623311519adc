"""The recorder: every model x prompt cell's requests, output and snapshot outcome.

Pure: no pytest, and it holds plain values only (RequestMetrics, OutputRecord, status
strings): the plugin layer turns pytest-benchmark and syrupy objects into these before
they reach it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_foundry.errors import one_line
from pytest_foundry.metric_catalog import EXTRA_INFO_FIGURES
from pytest_foundry.prompts import PromptSpec
from pytest_foundry.quality.annotations import output_sha256
from pytest_foundry.results import OutputRecord
from pytest_foundry.status import CellStatus

if TYPE_CHECKING:
    from pytest_foundry.level_runner import LevelRun
    from pytest_foundry.metrics import RequestMetrics
    from pytest_foundry.quality.annotations import Annotations
    from pytest_foundry.runtime.streaming import Generation


@dataclass
class CellState:
    """One model x prompt: its requests and output, as the tests recorded them."""

    model: str
    prompt: str
    max_tokens: int
    seed: int
    warmup: list[RequestMetrics] = field(default_factory=list)
    samples: list[RequestMetrics] = field(default_factory=list)
    output: OutputRecord | None = None
    status: CellStatus | None = None  # set for failures; otherwise derived
    reason: str | None = None
    detail: str | None = None  # the whole text behind reason


@dataclass
class LevelState:
    """One model x concurrency level of the sweep, as its test ran it."""

    model: str
    level: int
    prompt: str
    max_tokens: int
    seed: int
    warmup: int = 0  # untimed requests per stream before the measured ones
    run: LevelRun | None = None  # None: the level could not start (reason says why)
    reason: str | None = None


@dataclass(frozen=True)
class SnapshotOutcome:
    """How one snapshot assertion ended: matched, changed, created or updated."""

    status: str
    diff: str | None


class Recorder:
    """Cells by (model slug, prompt id), in the order the tests first touched them."""

    def __init__(self, max_tokens: int, seed: int, annotations: Annotations | None = None) -> None:
        self._max_tokens = max_tokens
        self._seed = seed
        self._annotations = annotations
        self.cells: dict[tuple[str, str], CellState] = {}
        # (model slug, prompt id) of every case whose test asserted a snapshot in this run.
        self.asserted_snapshots: set[tuple[str, str]] = set()
        # The concurrency sweep, by (model slug, level), in the order the tests ran them.
        self.levels: dict[tuple[str, int], LevelState] = {}

    def cell(self, model: str, prompt: PromptSpec) -> CellState:
        key = (model, prompt.id)
        if key not in self.cells:
            self.cells[key] = CellState(
                model=model,
                prompt=prompt.id,
                max_tokens=prompt.max_tokens or self._max_tokens,
                seed=self._seed,
            )
        return self.cells[key]

    def record_failure(
        self, model: str, prompt: PromptSpec, status: CellStatus, reason: str, detail: str | None = None
    ) -> None:
        cell = self.cell(model, prompt)
        cell.status, cell.reason = status, one_line(reason)
        cell.detail = detail if detail and detail != cell.reason else None

    def record_level(self, state: LevelState) -> None:
        """A concurrency level's run (a rerun of the same model x level replaces it)."""
        self.levels[(state.model, state.level)] = state

    def record_latency(self, model: str, calls: Sequence[tuple[PromptSpec, Generation]], warmup: int) -> None:
        """A latency test's calls: the first ``warmup`` are warm-up rounds, kept apart."""
        for index, (prompt, generation) in enumerate(calls):
            cell = self.cell(model, prompt)
            (cell.warmup if index < warmup else cell.samples).append(generation.metrics)

    def latency_info(
        self, model: str, prompt: PromptSpec, last: Generation, model_variant: str | None
    ) -> dict[str, Any]:
        """pytest-benchmark ``extra_info`` of a cell: run facts and the catalogue's figures."""
        from pytest_foundry.metrics import summarize_requests  # numpy: only once measuring

        cell = self.cell(model, prompt)
        info: dict[str, Any] = {
            "model_id": last.model_id,
            "model_variant": model_variant,
            "prompt": prompt.id,
            "max_tokens": cell.max_tokens,
            "seed": cell.seed,
            "temperature": last.temperature,
            "rounds": len(cell.samples),
            "output_tokens": last.metrics.output_tokens,
            "tokens_estimated": last.metrics.tokens_estimated,
        }
        summaries = summarize_requests(cell.samples)
        for figure in EXTRA_INFO_FIGURES:
            summary = summaries.get(figure.metric.field)
            if summary is not None:
                info[figure.extra_info_key] = getattr(summary, figure.statistic)
        return info

    def record_output(self, model: str, prompt: PromptSpec, generation: Generation) -> list[str]:
        """An output test's generation (the last one per prompt is the cell's output),
        with its deterministic checks and annotation; returns the failed checks."""
        from pytest_foundry.quality import evaluate_output

        cell = self.cell(model, prompt)
        previous = cell.output
        sha256 = output_sha256(generation.text)
        quality = evaluate_output(
            generation.text,
            prompt.checks,
            model=model,
            prompt=prompt.id,
            sha256=sha256,
            annotations=self._annotations,
        )
        cell.output = OutputRecord(
            text=generation.text,
            sha256=sha256,
            output_tokens=generation.metrics.output_tokens,
            finish_reason=generation.finish_reason,
            snapshot=previous["snapshot"] if previous else None,
            snapshot_diff=previous["snapshot_diff"] if previous else None,
            quality=quality,
        )
        return [
            f"{check['name']}: {check['detail']}" if check.get("detail") else str(check["name"])
            for check in quality.get("checks", [])
            if not check["passed"]
        ]

    def record_snapshots(self, model: str, prompt_id: str, outcomes: Iterable[SnapshotOutcome]) -> None:
        """How each snapshot assertion of a model x prompt ended (the last one counts)."""
        outcomes = list(outcomes)
        if not outcomes:
            return
        self.asserted_snapshots.add((model, prompt_id))
        cell = self.cells.get((model, prompt_id))
        if cell is None or cell.output is None:
            return
        for outcome in outcomes:
            cell.output["snapshot"] = outcome.status
            cell.output["snapshot_diff"] = outcome.diff

    def outputs(self) -> Iterable[CellState]:
        """The cells that hold an output (for the judge)."""
        return (cell for cell in self.cells.values() if cell.output is not None)
