"""Latency metrics of one streamed request, and statistics over rounds.

Pure: no pytest, no network.  Definitions follow AIPerf / vLLM's serving benchmark:

* TTFT: request sent -> first *non-empty* content delta (the empty role chunk is skipped);
* E2E: request sent -> end of stream;
* N_out: ``usage.completion_tokens`` from the server; estimated (and flagged) without usage;
* TPOT: (E2E - TTFT) / (N_out - 1), excluding the first token; decode tok/s = 1 / TPOT;
* end-to-end tok/s: N_out / E2E (never labelled plain "tok/s").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from pytest_foundry.metric_catalog import GAP, REQUEST_METRICS

# Below this many samples p95/p99 interpolate between too few points to mean much.
TAIL_PERCENTILE_MIN_SAMPLES = 20
NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class StreamTiming:
    """Raw clock readings (``time.perf_counter_ns``) of one streamed request."""

    start_ns: int
    end_ns: int
    # One entry per non-empty content delta, in arrival order.
    content_ns: tuple[int, ...]
    completion_tokens: int | None
    estimated_tokens: int
    finish_reason: str | None = None
    # A reasoning model's stream: when the first *answer* token came (after the thinking),
    # and how many of the output tokens were reasoning (None when no reasoning was seen).
    answer_ns: int | None = None
    reasoning_tokens: int | None = None


@dataclass(frozen=True)
class RequestMetrics:
    """Metrics of one streamed request, in seconds and tokens."""

    ttft_s: float | None
    e2e_s: float
    output_tokens: int
    tokens_estimated: bool
    tpot_s: float | None
    decode_tps: float | None
    e2e_tps: float | None
    gaps_s: tuple[float, ...] = field(default_factory=tuple)
    finish_reason: str | None = None
    # CPU time the serving process spent on this request per output token: a speed figure
    # that other load on the machine barely moves (wall time stretches, CPU time does not).
    cpu_per_token_s: float | None = None
    # Time to the first answer token: TTFT plus the thinking of a reasoning model (equal to
    # TTFT for any other); and the reasoning tokens, counted apart (None: no reasoning).
    ttfa_s: float | None = None
    reasoning_tokens: int | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["gaps_s"] = list(self.gaps_s)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestMetrics:
        return cls(**{**data, "gaps_s": tuple(data.get("gaps_s", ()))})

    def with_cpu(self, cpu_s: float | None) -> RequestMetrics:
        """These metrics with the serving process's CPU time per output token."""
        per_token = cpu_s / self.output_tokens if cpu_s is not None and self.output_tokens > 0 else None
        return replace(self, cpu_per_token_s=per_token)


def compute_request_metrics(timing: StreamTiming) -> RequestMetrics:
    """Turn the clock readings of one request into its metrics."""
    if timing.end_ns < timing.start_ns:
        raise ValueError("stream ended before it started")
    e2e_s = (timing.end_ns - timing.start_ns) / NS_PER_S
    ttft_s = (timing.content_ns[0] - timing.start_ns) / NS_PER_S if timing.content_ns else None
    estimated = timing.completion_tokens is None
    n_out = timing.estimated_tokens if estimated else int(timing.completion_tokens or 0)
    gaps = tuple(
        (later - earlier) / NS_PER_S
        for earlier, later in zip(timing.content_ns, timing.content_ns[1:], strict=False)
    )
    tpot_s: float | None = None
    if ttft_s is not None and n_out > 1:
        tpot_s = (e2e_s - ttft_s) / (n_out - 1)
    decode_tps = 1.0 / tpot_s if tpot_s else None
    e2e_tps = n_out / e2e_s if e2e_s > 0 and n_out > 0 else None
    if timing.answer_ns is not None:
        ttfa_s: float | None = (timing.answer_ns - timing.start_ns) / NS_PER_S
    else:
        ttfa_s = ttft_s if timing.reasoning_tokens is None else None
    return RequestMetrics(
        ttft_s=ttft_s,
        e2e_s=e2e_s,
        output_tokens=n_out,
        tokens_estimated=estimated,
        tpot_s=tpot_s,
        decode_tps=decode_tps,
        e2e_tps=e2e_tps,
        gaps_s=gaps,
        finish_reason=timing.finish_reason,
        ttfa_s=ttfa_s,
        reasoning_tokens=timing.reasoning_tokens,
    )


@dataclass(frozen=True)
class Summary:
    """Distribution of one metric over the measured rounds."""

    n: int
    mean: float
    median: float
    p90: float
    p95: float
    p99: float
    stdev: float
    cv: float | None
    min: float
    max: float
    # True when n is below TAIL_PERCENTILE_MIN_SAMPLES: p95/p99 are then unreliable.
    tail_unreliable: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(values: Iterable[float | None]) -> Summary | None:
    """Statistics of the non-missing values, or None when there are none.

    Percentiles use numpy's linear interpolation, so they never leave [min, max]
    (unlike ``statistics.quantiles``, which gives 3.8 as the "p95" of [1, 2, 3]).
    The stdev is the sample standard deviation (ddof=1); 0 for a single value.
    """
    data = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if data.size == 0:
        return None
    mean = float(data.mean())
    stdev = float(data.std(ddof=1)) if data.size > 1 else 0.0
    p90, p95, p99, median = (float(x) for x in np.percentile(data, [90, 95, 99, 50]))
    return Summary(
        n=int(data.size),
        mean=mean,
        median=median,
        p90=p90,
        p95=p95,
        p99=p99,
        stdev=stdev,
        cv=stdev / mean if mean else None,
        min=float(data.min()),
        max=float(data.max()),
        tail_unreliable=bool(data.size < TAIL_PERCENTILE_MIN_SAMPLES),
    )


def summarize_requests(requests: Sequence[RequestMetrics]) -> dict[str, Summary]:
    """One Summary per metric of the catalogue's REQUEST_METRICS, plus the gaps
    (``gap_s``, over every gap of every request); metrics with no values are left out."""
    summaries: dict[str, Summary] = {}
    for metric in REQUEST_METRICS:
        name = metric.field
        summary = summarize(
            float(getattr(r, name)) if getattr(r, name) is not None else None for r in requests
        )
        if summary is not None:
            summaries[name] = summary
    gaps = [gap for r in requests for gap in r.gaps_s]
    gap_summary = summarize(gaps)
    if gap_summary is not None:
        summaries[GAP.field] = gap_summary
    return summaries
