"""The gate on the concurrency sweep: system tok/s and E2E p95 per level and per model."""

from __future__ import annotations

import numpy as np
from gate_factory import model, results
from test_concurrency import req, sweep

from pytest_foundry.gate.compare import compare_results
from pytest_foundry.gate.github_benchmark import benchmark_entries


def noisy_level(rng, streams: int, per_stream: int, answer_s: float, noise: float = 0.02):
    """Every stream sends back to back; each answer takes answer_s ± noise."""
    requests = []
    for stream in range(streams):
        clock = 0.0
        for _ in range(per_stream):
            took = answer_s * (1 + rng.normal(0, noise))
            requests.append(req(stream, clock, clock + 0.1 * took, clock + took, tokens=32))
            clock += took
    return requests


def run(seed: int, slowdown: float = 1.0, levels=(1, 2), lockstep: bool = True):
    rng = np.random.default_rng(seed)
    record = results([model("tiny")], [], lockstep=lockstep)
    record["concurrency"] = sweep({n: noisy_level(rng, n, 10 // n, 0.5 * slowdown) for n in levels})
    return record


def rows_of(report, metric):
    return {row.prompt: row for row in report.rows if row.metric == metric}


def test_a_slower_sweep_fails_on_the_model_row_and_warns_per_level():
    report = compare_results(run(1), run(2, slowdown=1.3))
    tps = rows_of(report, "concurrency_tps")
    assert set(tps) == {None, "1 stream", "2 streams"}
    assert (tps[None].verdict, tps[None].tier) == ("regressed", "fail")
    assert tps[None].ratio < 0.8
    assert tps[None].note == "concurrency sweep: geometric mean over 2 levels"
    assert (tps["2 streams"].verdict, tps["2 streams"].tier) == ("regressed", "warn")
    e2e = rows_of(report, "concurrency_e2e_p95")
    # p95 of 10 requests is unreliable: it warns, never fails.
    assert (e2e[None].verdict, e2e[None].tier) == ("regressed", "warn")
    assert report.failed
    assert report.paired_cells == 2  # the two levels: a sweep-only run is something compared


def test_between_runs_measured_apart_a_slower_sweep_only_warns():
    report = compare_results(run(1, lockstep=False), run(2, slowdown=1.3, lockstep=False))
    tps = rows_of(report, "concurrency_tps")
    assert (tps[None].verdict, tps[None].tier) == ("regressed", "warn")
    assert not report.failed


def test_the_same_speed_is_unchanged():
    report = compare_results(run(1), run(2))
    verdicts = {row.verdict for row in report.rows if row.metric.startswith("concurrency_")}
    assert verdicts == {"unchanged"}
    assert not report.failed


def test_the_reported_rate_is_the_level_system_tps():
    base = run(1)
    report = compare_results(base, run(2))
    level_two = next(level for level in base["concurrency"]["levels"] if level["level"] == 2)
    assert rows_of(report, "concurrency_tps")["2 streams"].base == level_two["system_tps"]


def test_a_level_in_one_run_only_or_failed_is_missing():
    head = run(2, levels=(1, 2, 4))
    head["concurrency"]["levels"][0]["status"] = "error"
    head["concurrency"]["levels"][0]["reason"] = "tiny: HTTP 503"
    report = compare_results(run(1), head)
    missing = {(item.prompt, item.missing_in, item.reason) for item in report.missing}
    assert missing == {
        ("4 streams", "base", "concurrency level not in the baseline run"),
        ("1 stream", "head", "status error: tiny: HTTP 503"),
    }
    assert set(rows_of(report, "concurrency_tps")) == {None, "2 streams"}


def test_too_few_requests_are_inconclusive():
    report = compare_results(run(1, levels=(1,)), run(2, levels=(1,)))
    assert report.rows  # 10 requests at level 1: enough
    few_base, few_head = run(1, levels=(4,)), run(2, levels=(4,))  # 2 requests per stream = 8
    for record in (few_base, few_head):
        record["concurrency"]["levels"][0]["samples"] = record["concurrency"]["levels"][0]["samples"][:4]
    tps = rows_of(compare_results(few_base, few_head), "concurrency_tps")
    assert tps["4 streams"].verdict == "inconclusive"
    assert tps[None].note == "no level with enough requests on both sides"


def test_benchmark_json_has_an_entry_per_level():
    _, bigger = benchmark_entries(run(1))
    names = [entry["name"] for entry in bigger if "system tok/s" in entry["name"]]
    assert names == ["tiny / 1 stream / system tok/s", "tiny / 2 streams / system tok/s"]
