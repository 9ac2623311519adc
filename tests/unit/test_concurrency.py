"""The concurrency sweep's statistics on hand-built timelines (pytest_foundry/concurrency.py)."""

from __future__ import annotations

import pytest
from gate_factory import model, results

from pytest_foundry.concurrency import (
    SERIAL_MAX_OVERLAP,
    TimedRequest,
    from_clock,
    level_record,
    level_stats,
    requests_for_level,
    sweep_record,
    time_with_at_least,
)
from pytest_foundry.results_file import validate_results


def req(stream: int, start: float, first: float | None, end: float, tokens: int = 10, error=None):
    return TimedRequest(
        stream=stream,
        start_s=start,
        end_s=end,
        first_s=first,
        output_tokens=0 if error else tokens,
        ttft_s=None if first is None else first - start,
        tpot_s=None if first is None else (end - first) / (tokens - 1),
        error=error,
    )


def serial_timeline(streams: int, per_stream: int, answer_s: float = 1.0, ttft_s: float = 0.1):
    """A server that answers one request at a time: every stream sends at 0, the server
    works through them in turn; a queued request's first token comes after the previous end."""
    requests, clock = [], 0.0
    sent = [0.0] * streams
    for _ in range(per_stream):
        for stream in range(streams):
            first, end = clock + ttft_s, clock + answer_s
            requests.append(req(stream, sent[stream], first, end))
            sent[stream], clock = end, end
    return requests


def parallel_timeline(streams: int, per_stream: int, answer_s: float = 1.0, ttft_s: float = 0.1):
    """A server that decodes every stream at full speed at once."""
    return [
        req(stream, k * answer_s, k * answer_s + ttft_s, (k + 1) * answer_s)
        for k in range(per_stream)
        for stream in range(streams)
    ]


# -- the sweep line ---------------------------------------------------------------------
def test_time_with_at_least_counts_overlaps_and_not_touching_ends():
    intervals = [(0.0, 2.0), (1.0, 3.0), (3.0, 4.0), (5.0, 5.0)]
    assert time_with_at_least(intervals, 1) == pytest.approx(4.0)
    assert time_with_at_least(intervals, 2) == pytest.approx(1.0)  # 1..2 only; 3.0 touches
    assert time_with_at_least(intervals, 3) == 0.0
    assert time_with_at_least([], 1) == 0.0


# -- one level --------------------------------------------------------------------------
def test_a_serialising_server_has_no_decode_overlap_and_flat_throughput():
    single = level_stats(1, serial_timeline(1, 4))
    double = level_stats(2, serial_timeline(2, 2))
    assert single.system_tps == pytest.approx(40 / 4.0)
    assert double.system_tps == pytest.approx(single.system_tps)
    assert double.decode_overlap == 0.0
    # Both streams are in flight (one queued) nearly all the time; only one decodes.
    assert double.mean_in_flight == pytest.approx((1 + 2 + 2 + 2) / 4.0)
    assert double.mean_decoding == pytest.approx(4 * 0.9 / 4.0)
    # Queueing shows in TTFT: the second stream's first request waits a whole answer.
    assert double.ttft is not None
    assert double.ttft.max == pytest.approx(1.1)


def test_a_parallel_server_overlaps_fully_and_doubles_throughput():
    single = level_stats(1, parallel_timeline(1, 4))
    double = level_stats(2, parallel_timeline(2, 4))
    assert double.system_tps == pytest.approx(2 * single.system_tps)
    assert double.decode_overlap == pytest.approx(1.0)
    assert double.mean_in_flight == pytest.approx(2.0)
    assert double.e2e is not None
    assert double.e2e.median == pytest.approx(1.0)
    assert double.tpot is not None
    assert double.tpot.median == pytest.approx(0.1)


def test_failed_requests_count_as_errors_and_add_no_tokens():
    requests = [req(0, 0.0, 0.1, 1.0), req(1, 0.0, None, 0.5, error="tiny: HTTP 503 busy")]
    stats = level_stats(2, requests)
    assert (stats.requests, stats.errors, stats.output_tokens) == (2, 1, 10)
    assert stats.first_error == "tiny: HTTP 503 busy"
    assert stats.system_tps == pytest.approx(10.0)
    assert stats.decode_overlap == 0.0


def test_a_level_with_nothing_answered_has_no_rates():
    stats = level_stats(1, [req(0, 0.0, None, 2.0, error="timeout")])
    assert (stats.system_tps, stats.mean_decoding, stats.decode_overlap, stats.e2e) == (
        None,
        None,
        None,
        None,
    )
    assert level_stats(3, []).requests == 0
    with pytest.raises(ValueError, match="at least one stream"):
        level_stats(0, [])


def test_from_clock_places_a_request_on_the_level_timeline():
    request = from_clock(1, 1_000_000_000, 1_500_000_000, 2_500_000_000, ttft_s=0.25, tpot_s=0.01)
    assert (request.start_s, request.first_s, request.end_s, request.e2e_s) == (0.5, 0.75, 1.5, 1.0)


def test_every_stream_sends_at_least_two_requests():
    assert requests_for_level(1, 10) == 10
    assert requests_for_level(8, 10) == 16


# -- the sweep and its verdict ------------------------------------------------------------
def sweep(timelines: dict[int, list[TimedRequest]], model_slug: str = "tiny"):
    records = [level_record(model_slug, n, "hello", 64, 42, timeline) for n, timeline in timelines.items()]
    return sweep_record(records, sorted(timelines))


def test_a_serialising_runtime_is_called_so():
    record = sweep({1: serial_timeline(1, 4), 2: serial_timeline(2, 2), 4: serial_timeline(4, 1)})
    assert [level["speedup"] for level in record["levels"]] == pytest.approx([1.0, 1.0, 1.0])
    (verdict,) = record["verdicts"]
    assert verdict["verdict"] == "serialises"
    assert verdict["text"].startswith("serialises requests (2 streams: throughput ×1.00 of 1")


def test_a_parallel_runtime_is_called_parallel():
    record = sweep({2: parallel_timeline(2, 2), 1: parallel_timeline(1, 4)})
    assert [level["level"] for level in record["levels"]] == [1, 2]  # ordered by level
    assert record["levels"][1]["speedup"] == pytest.approx(2.0)
    assert record["verdicts"][0]["verdict"] == "parallel"


def test_streams_decoding_together_without_more_throughput_share_the_machine():
    # Two streams decode together, each at half speed: full overlap, no gain.
    shared = [req(s, 2.0 * k, 2.0 * k + 0.1, 2.0 * (k + 1)) for k in range(2) for s in range(2)]
    record = sweep({1: parallel_timeline(1, 4), 2: shared})
    assert record["levels"][1]["decode_overlap"] > SERIAL_MAX_OVERLAP
    assert record["levels"][1]["speedup"] == pytest.approx(1.0)
    assert record["verdicts"][0]["verdict"] == "shares"


def test_no_verdict_without_level_one_or_without_a_level_of_two():
    assert sweep({2: parallel_timeline(2, 2)})["verdicts"][0]["verdict"] is None
    only_one = sweep({1: parallel_timeline(1, 2)})
    assert only_one["verdicts"][0] == {
        "model": "tiny",
        "verdict": None,
        "text": "no answered level with 2 or more streams",
    }


def test_a_level_that_could_not_run_is_an_error_record():
    record = level_record("tiny", 2, "hello", 64, 42, None, reason="tiny: model host exited")
    assert (record["status"], record["reason"], record["requests"], record["samples"]) == (
        "error",
        "tiny: model host exited",
        0,
        [],
    )
    failed = level_record("tiny", 1, "hello", 64, 42, [req(0, 0.0, None, 1.0, error="tiny: HTTP 500 boom")])
    assert (failed["status"], failed["reason"], failed["errors"]) == ("error", "tiny: HTTP 500 boom", 1)


def test_the_concurrency_section_validates_against_the_schema():
    run = results([model("tiny")], [])
    run["concurrency"] = sweep({1: serial_timeline(1, 4), 2: serial_timeline(2, 2)})
    run["concurrency"]["levels"][1]["cpu_per_token_s"] = 0.001
    validate_results(run, "built")
    run["concurrency"]["levels"][0]["decode_overlap"] = 1.5
    with pytest.raises(Exception, match="decode_overlap"):
        validate_results(run, "built")


def test_a_gain_in_the_middle_of_the_sweep_alone_is_not_parallel():
    # Level 2 gained (level 1 met a slow minute), the most streams did not: it shares.
    shared_two = [req(s, 1.6 * k, 1.6 * k + 0.1, 1.6 * (k + 1)) for k in range(2) for s in range(2)]
    shared_four = [req(s, 4.0 * k, 4.0 * k + 0.1, 4.0 * (k + 1)) for k in range(2) for s in range(4)]
    record = sweep({1: parallel_timeline(1, 4), 2: shared_two, 4: shared_four})
    assert [round(level["speedup"], 2) for level in record["levels"]] == [1.0, 1.25, 1.0]
    assert record["verdicts"][0]["verdict"] == "shares"
