"""Measurement maths on synthetic timings: StreamTiming -> RequestMetrics, and summarize().

Clock readings are integers in nanoseconds, as ``time.perf_counter_ns`` returns them; the
expected values are worked out by hand in each test.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from pytest_foundry.metric_catalog import SUMMARISED_METRICS
from pytest_foundry.metrics import (
    TAIL_PERCENTILE_MIN_SAMPLES,
    RequestMetrics,
    StreamTiming,
    compute_request_metrics,
    summarize,
    summarize_requests,
)

MS = 1_000_000  # nanoseconds in a millisecond
T0 = 5_000_000_000  # an arbitrary perf_counter origin: metrics must only use differences


def timing(
    *,
    ttft_ms: float | None = 50,
    e2e_ms: float = 850,
    chunks_ms: tuple[float, ...] | None = None,
    completion_tokens: int | None = 9,
    estimated_tokens: int = 0,
    finish_reason: str | None = "stop",
) -> StreamTiming:
    """A request sent at T0 whose content deltas arrive at the given offsets."""
    if chunks_ms is None:
        chunks_ms = () if ttft_ms is None else (ttft_ms, ttft_ms + 100, ttft_ms + 300)
    return StreamTiming(
        start_ns=T0,
        end_ns=T0 + round(e2e_ms * MS),
        content_ns=tuple(T0 + round(c * MS) for c in chunks_ms),
        completion_tokens=completion_tokens,
        estimated_tokens=estimated_tokens,
        finish_reason=finish_reason,
    )


# -- one request -------------------------------------------------------------------------
def test_ttft_is_the_first_content_delta_and_e2e_the_end_of_stream():
    metrics = compute_request_metrics(timing(ttft_ms=50, e2e_ms=850))
    assert metrics.ttft_s == pytest.approx(0.050)
    assert metrics.e2e_s == pytest.approx(0.850)


def test_tpot_excludes_the_first_token():
    # 9 tokens: the first arrives at TTFT, the other 8 share (E2E - TTFT) = 800 ms.
    metrics = compute_request_metrics(timing(ttft_ms=50, e2e_ms=850, completion_tokens=9))
    assert metrics.tpot_s == pytest.approx(0.100)
    # Not E2E / N_out (GuideLLM's TPOT, which includes the TTFT) ...
    assert metrics.tpot_s != pytest.approx(0.850 / 9)
    # ... and not (E2E - TTFT) / N_out either.
    assert metrics.tpot_s != pytest.approx(0.800 / 9)


def test_decode_rate_is_the_inverse_of_tpot():
    metrics = compute_request_metrics(timing(ttft_ms=50, e2e_ms=850, completion_tokens=9))
    assert metrics.decode_tps == pytest.approx(10.0)


def test_end_to_end_rate_is_output_tokens_over_e2e():
    metrics = compute_request_metrics(timing(ttft_ms=50, e2e_ms=850, completion_tokens=9))
    assert metrics.e2e_tps == pytest.approx(9 / 0.850)


def test_a_slow_first_token_lowers_the_end_to_end_rate_only():
    fast = compute_request_metrics(timing(ttft_ms=50, e2e_ms=150, completion_tokens=11))
    slow = compute_request_metrics(timing(ttft_ms=500, e2e_ms=600, completion_tokens=11))
    assert slow.decode_tps == pytest.approx(fast.decode_tps) == pytest.approx(100.0)
    assert slow.e2e_tps == pytest.approx(11 / 0.600)
    assert slow.e2e_tps < fast.e2e_tps


def test_output_tokens_come_from_usage_not_from_chunk_count():
    # Three content chunks, but the server reports 9 completion tokens.
    metrics = compute_request_metrics(timing(chunks_ms=(50, 150, 350), completion_tokens=9))
    assert metrics.output_tokens == 9
    assert metrics.tokens_estimated is False


def test_without_usage_the_estimate_is_used_and_flagged():
    metrics = compute_request_metrics(timing(completion_tokens=None, estimated_tokens=5, e2e_ms=450))
    assert metrics.output_tokens == 5
    assert metrics.tokens_estimated is True
    # The rates still follow from the (estimated) count.
    assert metrics.tpot_s == pytest.approx((0.450 - 0.050) / 4)
    assert metrics.e2e_tps == pytest.approx(5 / 0.450)


def test_usage_of_zero_is_not_replaced_by_the_estimate():
    metrics = compute_request_metrics(timing(chunks_ms=(), completion_tokens=0, estimated_tokens=3))
    assert metrics.output_tokens == 0
    assert metrics.tokens_estimated is False


def test_single_token_output_has_no_tpot_but_an_end_to_end_rate():
    metrics = compute_request_metrics(timing(chunks_ms=(40,), e2e_ms=80, completion_tokens=1))
    assert metrics.ttft_s == pytest.approx(0.040)
    assert metrics.output_tokens == 1
    assert metrics.tpot_s is None
    assert metrics.decode_tps is None
    assert metrics.e2e_tps == pytest.approx(1 / 0.080)
    assert metrics.gaps_s == ()


def test_no_content_gives_no_ttft_and_no_rates():
    metrics = compute_request_metrics(timing(ttft_ms=None, e2e_ms=30, completion_tokens=0))
    assert metrics.ttft_s is None
    assert metrics.e2e_s == pytest.approx(0.030)
    assert metrics.output_tokens == 0
    assert metrics.tpot_s is None
    assert metrics.decode_tps is None
    assert metrics.e2e_tps is None
    assert metrics.gaps_s == ()


def test_no_content_but_usage_still_has_no_tpot():
    # Tokens the server counted but never sent as text (e.g. only special tokens):
    # without a first content delta there is no TTFT, so no TPOT either.
    metrics = compute_request_metrics(timing(ttft_ms=None, e2e_ms=100, completion_tokens=4))
    assert metrics.ttft_s is None
    assert metrics.tpot_s is None
    assert metrics.decode_tps is None
    assert metrics.e2e_tps == pytest.approx(4 / 0.100)


def test_gaps_are_between_consecutive_content_deltas():
    metrics = compute_request_metrics(timing(chunks_ms=(50, 60, 90, 190), e2e_ms=200))
    assert metrics.gaps_s == pytest.approx((0.010, 0.030, 0.100))


def test_zero_length_stream_gives_no_division_by_zero():
    metrics = compute_request_metrics(timing(chunks_ms=(0,), e2e_ms=0, completion_tokens=3))
    assert metrics.e2e_s == 0
    assert metrics.e2e_tps is None
    assert metrics.decode_tps is None  # TPOT is 0: no finite rate


def test_a_stream_that_ends_before_it_starts_is_rejected():
    bad = StreamTiming(start_ns=T0, end_ns=T0 - 1, content_ns=(), completion_tokens=None, estimated_tokens=0)
    with pytest.raises(ValueError, match="ended before it started"):
        compute_request_metrics(bad)


def test_finish_reason_is_kept():
    assert compute_request_metrics(timing(finish_reason="length")).finish_reason == "length"
    assert compute_request_metrics(timing(finish_reason=None)).finish_reason is None


def test_request_metrics_round_trip_through_a_dict():
    metrics = compute_request_metrics(timing(chunks_ms=(50, 60, 90), completion_tokens=7))
    data = metrics.as_dict()
    assert data["gaps_s"] == pytest.approx([0.010, 0.030])
    assert isinstance(data["gaps_s"], list)  # JSON-friendly
    assert RequestMetrics.from_dict(data) == metrics


# -- statistics ----------------------------------------------------------------------------
def test_percentiles_of_three_values_stay_within_the_data():
    summary = summarize([1.0, 2.0, 3.0])
    assert summary is not None
    # The workshop's statistics.quantiles(n=20)[-1] gives 3.8 for this data.
    assert statistics.quantiles([1, 2, 3], n=20)[-1] == pytest.approx(3.8)
    assert summary.p95 == pytest.approx(2.9)
    assert summary.p99 == pytest.approx(2.98)
    assert summary.p90 == pytest.approx(2.8)
    assert summary.median == pytest.approx(2.0)
    assert summary.p99 <= summary.max == 3.0
    assert summary.min == 1.0


@pytest.mark.parametrize("n", [1, 2, 3, 5, 19, 20, 101])
def test_percentiles_never_leave_min_max_and_are_ordered(n):
    data = list(np.random.default_rng(n).lognormal(mean=-3, sigma=1, size=n))
    summary = summarize(data)
    assert summary is not None
    assert summary.min <= summary.median <= summary.p90 <= summary.p95 <= summary.p99 <= summary.max
    assert summary.max == max(data)
    assert summary.min == min(data)


def test_percentiles_use_numpy_linear_interpolation():
    data = [0.31, 0.12, 0.57, 0.44, 0.29, 0.90, 0.18]
    summary = summarize(data)
    assert summary is not None
    expected = np.percentile(np.array(data), [50, 90, 95, 99], method="linear")
    assert [summary.median, summary.p90, summary.p95, summary.p99] == pytest.approx(list(expected))


@pytest.mark.parametrize(
    ("n", "unreliable"),
    [
        (1, True),
        (3, True),
        (TAIL_PERCENTILE_MIN_SAMPLES - 1, True),
        (TAIL_PERCENTILE_MIN_SAMPLES, False),
        (50, False),
    ],
)
def test_tail_percentiles_are_flagged_below_twenty_samples(n, unreliable):
    summary = summarize([float(i) for i in range(n)])
    assert summary is not None
    assert summary.n == n
    assert summary.tail_unreliable is unreliable


def test_tail_threshold_is_twenty():
    assert TAIL_PERCENTILE_MIN_SAMPLES == 20


def test_stdev_is_the_sample_standard_deviation():
    data = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]  # population stdev 2, mean 5
    summary = summarize(data)
    assert summary is not None
    assert summary.mean == pytest.approx(5.0)
    assert summary.stdev == pytest.approx(math.sqrt(32 / 7))  # ddof=1
    assert summary.stdev != pytest.approx(2.0)
    assert summary.cv == pytest.approx(math.sqrt(32 / 7) / 5.0)


def test_single_value_has_zero_spread():
    summary = summarize([0.25])
    assert summary is not None
    assert summary.n == 1
    assert summary.stdev == 0.0
    assert summary.cv == 0.0
    assert summary.median == summary.p95 == summary.p99 == summary.min == summary.max == 0.25
    assert summary.tail_unreliable is True


def test_cv_is_none_when_the_mean_is_zero():
    summary = summarize([-1.0, 1.0])
    assert summary is not None
    assert summary.mean == 0
    assert summary.cv is None


def test_missing_and_non_finite_values_are_left_out():
    summary = summarize([1.0, None, float("nan"), 3.0, float("inf"), None])
    assert summary is not None
    assert summary.n == 2
    assert summary.mean == pytest.approx(2.0)
    assert summary.max == 3.0


@pytest.mark.parametrize("values", [[], [None], [None, float("nan")]])
def test_no_values_gives_no_summary(values):
    assert summarize(values) is None


def test_summary_as_dict_is_plain_data():
    summary = summarize([1.0, 2.0])
    assert summary is not None
    data = summary.as_dict()
    assert set(data) == {
        "n",
        "mean",
        "median",
        "p90",
        "p95",
        "p99",
        "stdev",
        "cv",
        "min",
        "max",
        "tail_unreliable",
    }
    assert all(type(v) in (int, float, bool) for v in data.values())


def test_summary_accepts_a_generator():
    summary = summarize(x / 10 for x in range(1, 4))
    assert summary is not None
    assert summary.n == 3


# -- summaries of requests -----------------------------------------------------------------
def requests_with(ttfts_ms: list[float]) -> list[RequestMetrics]:
    return [
        compute_request_metrics(timing(chunks_ms=(t, t + 10, t + 30), e2e_ms=t + 200, completion_tokens=11))
        for t in ttfts_ms
    ]


def test_summarize_requests_has_one_summary_per_metric_and_the_gaps():
    summaries = summarize_requests(requests_with([40, 50, 60]))
    assert set(summaries) == {
        "ttft_s",
        "tpot_s",
        "e2e_s",
        "decode_tps",
        "e2e_tps",
        "output_tokens",
        "gap_s",
        "ttfa_s",
    }
    # CPU time per token needs the serving process: absent here, so left out.
    assert set(summaries) == {metric.field for metric in SUMMARISED_METRICS} - {"cpu_per_token_s"}
    with_cpu = [r.with_cpu(0.01) for r in requests_with([40, 50, 60])]
    assert summarize_requests(with_cpu)["cpu_per_token_s"].n == 3


def test_summarize_requests_values():
    summaries = summarize_requests(requests_with([40, 50, 60]))
    assert summaries["ttft_s"].median == pytest.approx(0.050)
    assert summaries["ttft_s"].n == 3
    assert summaries["e2e_s"].max == pytest.approx(0.260)
    assert summaries["tpot_s"].median == pytest.approx(0.200 / 10)
    assert summaries["output_tokens"].mean == pytest.approx(11)
    # Gaps of all requests are pooled: two per request.
    assert summaries["gap_s"].n == 6
    assert summaries["gap_s"].max == pytest.approx(0.020)


def test_summarize_requests_leaves_out_metrics_without_values():
    single = [compute_request_metrics(timing(chunks_ms=(40,), e2e_ms=80, completion_tokens=1))] * 2
    summaries = summarize_requests(single)
    assert "tpot_s" not in summaries
    assert "decode_tps" not in summaries
    assert "gap_s" not in summaries
    assert summaries["ttft_s"].n == 2


def test_summarize_requests_of_nothing_is_empty():
    assert summarize_requests([]) == {}


def test_summaries_skip_requests_without_ttft():
    mixed = [*requests_with([40, 60]), compute_request_metrics(timing(ttft_ms=None, completion_tokens=0))]
    summaries = summarize_requests(mixed)
    assert summaries["ttft_s"].n == 2
    assert summaries["e2e_s"].n == 3
