"""Reading a results record for the report: prompts, a model's cells and pooled samples,
its statistics and its quality score.  Pure: no pytest."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pytest_foundry.metrics import Summary, summarize
from pytest_foundry.report import formatting as fmt
from pytest_foundry.report.table_cells import NO_QUALITY, Cell
from pytest_foundry.results import CellRecord, RequestRecord, Results, SummaryRecord
from pytest_foundry.status import MEASURED_STATUSES

# --- reading the record ------------------------------------------------------------


def prompt_order(results: Results) -> list[str]:
    """Prompt ids in the order the run first met them."""
    return list(dict.fromkeys(cell["prompt"] for cell in results["cells"]))


def cells_of(results: Results, slug: str) -> list[CellRecord]:
    return [cell for cell in results["cells"] if cell["model"] == slug]


def measured_cells(results: Results, slug: str) -> list[CellRecord]:
    return [cell for cell in cells_of(results, slug) if cell["status"] in MEASURED_STATUSES]


def pooled_samples(results: Results, slug: str) -> list[RequestRecord]:
    """The measured rounds of every prompt the model answered."""
    return [sample for cell in measured_cells(results, slug) for sample in cell["samples"]]


def metric_values(samples: Iterable[RequestRecord], metric: str) -> list[float]:
    values: list[float] = []
    for sample in samples:
        value = sample.get(metric)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            values.append(float(value))
    return values


def cell_summary(cell: CellRecord, metric: str) -> SummaryRecord | None:
    summary = cell["summary"].get(metric)
    if summary is not None:
        return summary
    # An older or hand-made record without this summary: compute it from the raw rounds.
    computed = summarize(metric_values(cell["samples"], metric))
    return None if computed is None else cast(SummaryRecord, computed.as_dict())


@dataclass(frozen=True)
class ModelStats:
    """One model's pooled statistics (None where it has no measured rounds)."""

    n: int
    e2e: Summary | None
    ttft: Summary | None
    decode: Summary | None
    tpot: Summary | None
    tokens_estimated: bool
    measured_prompts: int


def model_stats(results: Results, slug: str) -> ModelStats:
    samples = pooled_samples(results, slug)
    return ModelStats(
        n=len(samples),
        e2e=summarize(metric_values(samples, "e2e_s")),
        ttft=summarize(metric_values(samples, "ttft_s")),
        decode=summarize(metric_values(samples, "decode_tps")),
        tpot=summarize(metric_values(samples, "tpot_s")),
        tokens_estimated=any(sample.get("tokens_estimated") is True for sample in samples),
        measured_prompts=len(measured_cells(results, slug)),
    )


# --- quality (filled by the quality rubric; read defensively) ----------------------


def _score(value: Any, low: float, high: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and low <= number <= high else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class QualityScore:
    checks: float | None  # share of deterministic checks passed, 0..1
    judge: float | None  # LLM judge, 1..5
    manual: float | None  # human annotation, 1..5 (stale ones left out)
    stale: int  # annotations left out because the answer changed since

    @property
    def empty(self) -> bool:
        return self.checks is None and self.judge is None and self.manual is None and not self.stale


def quality_score(cells: Iterable[CellRecord]) -> QualityScore:
    """Mean of each quality source over the cells that have it."""
    checks: list[float] = []
    judges: list[float] = []
    manual: list[float] = []
    stale = 0
    for cell in cells:
        output = cell.get("output")
        quality = output.get("quality") if isinstance(output, dict) else None
        if not isinstance(quality, dict):
            continue
        if (score := _score(quality.get("checks_score"), 0.0, 1.0)) is not None:
            checks.append(score)
        judge = quality.get("judge")
        if isinstance(judge, dict) and (score := _score(judge.get("mean"), 1.0, 5.0)) is not None:
            judges.append(score)
        annotation = quality.get("annotation")
        if isinstance(annotation, dict) and (score := _score(annotation.get("score"), 1.0, 5.0)) is not None:
            if annotation.get("stale") is True:
                stale += 1
            else:
                manual.append(score)
    return QualityScore(_mean(checks), _mean(judges), _mean(manual), stale)


def quality_cell(score: QualityScore) -> Cell:
    if score.empty:
        return Cell(text=NO_QUALITY, csv=fmt.MISSING)
    parts: list[str] = []
    csv: list[str] = []
    if score.checks is not None:
        parts.append(f"checks {fmt.percent(score.checks)}")
        csv.append(f"checks={score.checks:.3f}")
    if score.judge is not None:
        parts.append(f"judge {score.judge:.1f}/5")
        csv.append(f"judge={score.judge:.2f}")
    if score.manual is not None:
        parts.append(f"manual {score.manual:.1f}/5")
        csv.append(f"manual={score.manual:.2f}")
    if score.stale:
        parts.append(f"{score.stale} stale")
        csv.append(f"stale={score.stale}")
    return Cell(text=" · ".join(parts), csv=";".join(csv))
