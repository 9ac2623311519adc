"""The metrics the regression gate compares: where each comes from, its unit and direction.

Pure: no pytest.  Values are converted to display units when read (seconds -> ms,
bytes -> MiB) so thresholds, floors, reports and benchmark JSON all speak one unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pytest_foundry.metric_catalog import (
    CPU_PER_TOKEN_MEDIAN,
    DECODE,
    E2E_P50,
    E2E_P95,
    TPOT_MEDIAN,
    TTFT_P50,
    TTFT_P95,
    Better,
    Figure,
    Statistic,
)

# Where a metric's value comes from:
#   samples: one value per measured request (cell["samples"]), compared with a bootstrap CI;
#   cell: one value per model x prompt (the quality scores), no CI;
#   model: one value per model and run (load time, peak memory), no CI;
#   concurrency: one row per model x level of the concurrency sweep, from that level's
#   requests (results["concurrency"]), with a bootstrap CI over them.
Source = Literal["samples", "cell", "model", "concurrency"]

MS_PER_S = 1000.0
BYTES_PER_MIB = 1024.0 * 1024.0


@dataclass(frozen=True)
class GateMetric:
    name: str  # the name used in the foundry_gate spec and in reports
    label: str  # human label
    unit: str  # display unit
    better: Better
    source: Source
    field: str  # RequestRecord key, ModelRecord path ("memory.peak_rss_bytes") or quality key
    statistic: Statistic | None  # for samples metrics: what is compared
    scale: float  # raw value x scale = display value
    # Defaults: relative thresholds as fractions (0.10 = 10 %), floor in display units.
    warn: float | None
    fail: float | None
    floor: float
    # Family of units accepted by "floor=" suffixes.
    unit_family: Literal["time", "memory", "plain"] = "plain"
    # What the figure is timed with.  Wall-clock figures of two runs measured at different
    # times differ by the machine's drift as well; CPU time per token barely moves with it.
    clock: Literal["wall", "cpu"] | None = None


def _latency(
    figure: Figure, floor: float, fail: float | None = 0.10, clock: Literal["wall", "cpu"] = "wall"
) -> GateMetric:
    """A gated latency figure of the metric catalogue: per-request samples, bootstrap CI."""
    is_time = figure.unit == "s"
    return GateMetric(
        figure.name,
        figure.label,
        "ms" if is_time else figure.unit,
        figure.better,
        "samples",
        figure.metric.field,
        figure.statistic,
        MS_PER_S if is_time else 1.0,
        warn=0.05,
        fail=fail,
        floor=floor,
        unit_family="time" if is_time else "plain",
        clock=clock,
    )


GATE_METRICS: tuple[GateMetric, ...] = (
    _latency(TTFT_P50, floor=1.0),
    _latency(TTFT_P95, floor=1.0),
    _latency(TPOT_MEDIAN, floor=0.1),
    _latency(DECODE, floor=0.5),
    _latency(E2E_P50, floor=1.0),
    _latency(E2E_P95, floor=1.0),
    # The serving process's CPU time per output token: robust to other load on the
    # machine.  Between lockstep runs it only warns (the wall-clock figures gate speed);
    # between runs measured at different times it gates speed instead (policy.py).
    _latency(CPU_PER_TOKEN_MEDIAN, floor=0.1, fail=None, clock="cpu"),
    # Load time is one cold measurement per run and swings with the disk cache: no warn tier.
    GateMetric(
        "load_time",
        "load time",
        "s",
        "lower",
        "model",
        "load_s",
        None,
        1.0,
        warn=None,
        fail=0.25,
        floor=0.1,
        unit_family="time",
        clock="wall",
    ),
    GateMetric(
        "peak_memory",
        "peak memory",
        "MiB",
        "lower",
        "model",
        "memory.peak_rss_bytes",
        None,
        1.0 / BYTES_PER_MIB,
        warn=0.05,
        fail=0.10,
        floor=32.0,
        unit_family="memory",
    ),
    # Deterministic checks move in steps of 1/number-of-checks, so one flipped check fails.
    GateMetric(
        "checks_pass_rate",
        "checks pass rate",
        "score",
        "higher",
        "cell",
        "checks_score",
        None,
        1.0,
        warn=None,
        fail=0.10,
        floor=0.05,
    ),
    # An LLM judge is itself noisy: wider thresholds and half a point of floor on its 1..5 scale.
    GateMetric(
        "judge_mean",
        "judge mean",
        "score",
        "higher",
        "cell",
        "judge.mean",
        None,
        1.0,
        warn=0.10,
        fail=0.20,
        floor=0.5,
    ),
)

# The concurrency sweep, per model x level; the level rows warn, the per-model row (the
# geometric mean over levels) decides, as for prompts.
CONCURRENCY_TPS = GateMetric(
    "concurrency_tps",
    "system tok/s",
    "tok/s",
    "higher",
    "concurrency",
    "system_tps",
    None,  # a rate of the whole level: Σ tokens / wall span, not a statistic of samples
    1.0,
    warn=0.05,
    fail=0.10,
    floor=0.5,
    clock="wall",
)
CONCURRENCY_E2E_P95 = GateMetric(
    "concurrency_e2e_p95",
    "E2E p95 under concurrency",
    "ms",
    "lower",
    "concurrency",
    "e2e_s",
    "p95",
    MS_PER_S,
    warn=0.05,
    fail=0.10,
    floor=1.0,
    unit_family="time",
    clock="wall",
)
GATE_METRICS += (CONCURRENCY_TPS, CONCURRENCY_E2E_P95)

METRICS_BY_NAME: dict[str, GateMetric] = {metric.name: metric for metric in GATE_METRICS}

# Floor suffixes per unit family, as factors to the family's display unit (ms, MiB).
FLOOR_UNITS: dict[str, dict[str, float]] = {
    "time": {"us": 1e-3, "ms": 1.0, "s": MS_PER_S},
    "memory": {
        "b": 1.0 / BYTES_PER_MIB,
        "kib": 1.0 / 1024.0,
        "mib": 1.0,
        "gib": 1024.0,
        "kb": 1e3 / BYTES_PER_MIB,
        "mb": 1e6 / BYTES_PER_MIB,
        "gb": 1e9 / BYTES_PER_MIB,
    },
    "plain": {},
}


def floor_unit_factor(metric: GateMetric, suffix: str) -> float | None:
    """Factor from a floor written with ``suffix`` to the metric's display unit (None: unknown)."""
    factors = FLOOR_UNITS[metric.unit_family]
    if suffix.lower() not in factors:
        return None
    factor = factors[suffix.lower()]
    # The time family's factors are relative to ms; load time is displayed in seconds.
    if metric.unit_family == "time" and metric.unit == "s":
        factor /= MS_PER_S
    return factor
