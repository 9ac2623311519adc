"""The one metric catalogue: every latency figure's name, unit, direction, statistic and label.

Pure: no pytest, no numpy.  The per-request metrics (``RequestMetrics`` fields) are
summarised over the measured rounds; a *figure* is one statistic of one of them
(TTFT p50 = the median of ``ttft_s``).  The summaries, pytest-benchmark's ``extra_info``
keys, the terminal table, the report's columns and the gate's latency metrics all read
their names from here, so one figure is spelled once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Better = Literal["lower", "higher"]
# The Summary fields a figure can be (see metrics.Summary).
Statistic = Literal["median", "p95", "p99"]
Unit = Literal["s", "tok/s", "tokens"]


@dataclass(frozen=True)
class RequestMetric:
    """A value every streamed request has (a ``RequestMetrics`` field)."""

    field: str  # RequestMetrics attribute and results.json sample / summary key
    label: str
    unit: Unit
    better: Better


TTFT = RequestMetric("ttft_s", "TTFT", "s", "lower")
TPOT = RequestMetric("tpot_s", "TPOT", "s", "lower")
E2E = RequestMetric("e2e_s", "E2E", "s", "lower")
DECODE_TPS = RequestMetric("decode_tps", "decode tok/s", "tok/s", "higher")
E2E_TPS = RequestMetric("e2e_tps", "end-to-end tok/s", "tok/s", "higher")
OUTPUT_TOKENS = RequestMetric("output_tokens", "output tokens", "tokens", "higher")
CPU_PER_TOKEN = RequestMetric("cpu_per_token_s", "CPU time/token", "s", "lower")
# Time to the first answer token: for a reasoning model, TTFT plus its thinking.
TTFA = RequestMetric("ttfa_s", "time to answer", "s", "lower")
# Gaps between content chunks: many per request (``gaps_s``), summarised together.
GAP = RequestMetric("gap_s", "inter-chunk gap", "s", "lower")

# Summarised per cell, in this order; GAP is summarised over every gap of every request.
REQUEST_METRICS: tuple[RequestMetric, ...] = (
    TTFT,
    TPOT,
    E2E,
    DECODE_TPS,
    E2E_TPS,
    OUTPUT_TOKENS,
    CPU_PER_TOKEN,
    TTFA,
)
SUMMARISED_METRICS: tuple[RequestMetric, ...] = (*REQUEST_METRICS, GAP)


@dataclass(frozen=True)
class Figure:
    """One statistic of one request metric, as reported and gated."""

    name: str  # the gate spec name and the report's column key
    metric: RequestMetric
    statistic: Statistic
    label: str  # terminal table, report and gate label
    extra_info_key: str  # key in pytest-benchmark's extra_info (seconds for times)
    table_key: str  # the report's CSV column (milliseconds for times)

    @property
    def better(self) -> Better:
        return self.metric.better

    @property
    def unit(self) -> Unit:
        return self.metric.unit


def _figure(
    name: str, metric: RequestMetric, statistic: Statistic, label: str, extra_info_key: str
) -> Figure:
    table_key = f"{name}_ms" if metric.unit == "s" else extra_info_key
    return Figure(name, metric, statistic, label, extra_info_key, table_key)


TTFT_P50 = _figure("ttft_p50", TTFT, "median", "TTFT p50", "ttft_median_s")
TTFT_P95 = _figure("ttft_p95", TTFT, "p95", "TTFT p95", "ttft_p95_s")
TPOT_MEDIAN = _figure("tpot_median", TPOT, "median", "TPOT median", "tpot_median_s")
DECODE = _figure("decode_tps", DECODE_TPS, "median", "decode tok/s", "decode_tps_median")
E2E_P50 = _figure("e2e_p50", E2E, "median", "E2E p50", "e2e_median_s")
E2E_P95 = _figure("e2e_p95", E2E, "p95", "E2E p95", "e2e_p95_s")
E2E_TPS_MEDIAN = _figure("e2e_tps", E2E_TPS, "median", "end-to-end tok/s", "e2e_tps_median")
OUTPUT_TOKENS_MEDIAN = _figure(
    "output_tokens", OUTPUT_TOKENS, "median", "output tokens", "output_tokens_median"
)
GAP_P99 = _figure("gap_p99", GAP, "p99", "gap p99", "gap_p99_s")
TTFA_P50 = _figure("ttfa_p50", TTFA, "median", "time to answer p50", "ttfa_median_s")
CPU_PER_TOKEN_MEDIAN = _figure(
    "cpu_per_token", CPU_PER_TOKEN, "median", "CPU time/token", "cpu_per_token_median_s"
)

FIGURES: tuple[Figure, ...] = (
    TTFT_P50,
    TTFT_P95,
    TPOT_MEDIAN,
    DECODE,
    E2E_P50,
    E2E_P95,
    E2E_TPS_MEDIAN,
    OUTPUT_TOKENS_MEDIAN,
    GAP_P99,
    CPU_PER_TOKEN_MEDIAN,
    TTFA_P50,
)
FIGURES_BY_NAME: dict[str, Figure] = {figure.name: figure for figure in FIGURES}
# What a latency test puts into pytest-benchmark's extra_info, next to the run facts.
EXTRA_INFO_FIGURES: tuple[Figure, ...] = FIGURES
# The columns of the terminal table printed after a run.
TERMINAL_FIGURES: tuple[Figure, ...] = (TTFT_P50, TTFT_P95, TPOT_MEDIAN, DECODE, E2E_P95)
