"""End to end: save a baseline, compare against it, and gate the run."""

from __future__ import annotations

import json

import pytest

from pytest_foundry.slow_proxy import SlowProxy


@pytest.fixture
def gated(inner):
    inner.write_prompts(inner.FOUR_PROMPTS[:2])
    inner.pytester.makepyfile(test_latency=inner.LATENCY_TEST, test_outputs=inner.OUTPUT_TEST)
    inner.baselines = inner.pytester.path / "baselines"
    inner.report = inner.pytester.path / "out"
    inner.fast = ["--foundry-rounds=10", "--foundry-warmup=1", "--foundry-max-tokens=32"]
    return inner


def _gate_args(inner, *extra):
    return (f"--foundry-baseline-dir={inner.baselines}", f"--foundry-report={inner.report}", *extra)


def test_save_then_compare_unchanged_passes(gated):
    saved = gated.run(*_gate_args(gated, "--foundry-save=main", "--snapshot-update"))
    saved.assert_outcomes(passed=4)
    assert (gated.baselines / "main" / "results.json").is_file()
    # Loose thresholds: this checks the mechanics on a busy CI box, not the statistics
    # (benchmarks/gate_accuracy.py measures false alarms at the default thresholds).
    head = gated.run(*_gate_args(gated, "--foundry-compare=main", "--foundry-gate=*:100%:fail"))
    head.assert_outcomes(passed=4)
    assert head.ret == 0
    gate_md = (gated.report / "gate.md").read_text(encoding="utf-8")
    assert "regressed" not in gate_md.split("\n", 3)[0].lower() or "0 regressed" in gate_md.lower()
    assert (gated.report / "customSmallerIsBetter.json").is_file()
    assert json.loads((gated.report / "customBiggerIsBetter.json").read_text(encoding="utf-8"))


def test_changed_output_is_reported_with_its_diff(gated):
    gated.run(*_gate_args(gated, "--foundry-save=main", "--snapshot-update")).assert_outcomes(passed=4)
    # A shorter budget changes every output; the gate lists each change with a diff.
    head = gated.run(
        *_gate_args(gated, "--foundry-compare=main", "--foundry-max-tokens=12", "--snapshot-update")
    )
    gate_md = (gated.report / "gate.md").read_text(encoding="utf-8")
    assert "<details>" in gate_md
    assert "tiny" in gate_md
    assert "rag_principle" in gate_md
    assert "```diff" in gate_md
    assert "max_tokens" in head.stdout.str()  # compared across different settings: said so


def test_mismatched_fingerprint_is_refused_unless_forced(gated):
    gated.run(*_gate_args(gated, "--foundry-save=main", "--snapshot-update")).assert_outcomes(passed=4)
    saved = gated.baselines / "main" / "results.json"
    data = json.loads(saved.read_text(encoding="utf-8"))
    data["fingerprint"]["cpu"] = "Some Other CPU 9000"
    saved.write_text(json.dumps(data), encoding="utf-8")

    refused = gated.run(*_gate_args(gated, "--foundry-compare=main"))
    assert refused.ret == 1
    refused.stdout.re_match_lines([r".*gate: .*Some Other CPU 9000.*"])
    gated.assert_no_traceback(refused)

    forced = gated.run(
        *_gate_args(gated, "--foundry-compare=main", "--foundry-compare-force", "--foundry-gate=*:100%:fail")
    )
    assert forced.ret == 0
    assert "Some Other CPU 9000" in (gated.report / "gate.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_missing_or_corrupt_baseline_is_one_line(gated, damage):
    if damage == "corrupt":
        (gated.baselines / "main").mkdir(parents=True)
        (gated.baselines / "main" / "results.json").write_text('{"schema": ', encoding="utf-8")
    result = gated.run(*_gate_args(gated, "--foundry-compare=main"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    gated.assert_no_traceback(result)
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1
    assert "main" in errors[0]


def test_proxy_slowed_head_fails_the_run_with_a_verdict_table(gated, foundry_web_service):
    server, _, _ = foundry_web_service.partition("/catalogs/")
    endpoint_args = ("--foundry-models=pytest-foundry-tiny-generic-cpu:1", "--foundry-max-tokens=64")
    with SlowProxy(server, 0.0) as plain, SlowProxy(server, 3.0) as slow:
        base = gated.run(
            *_gate_args(gated, "--foundry-save=main", "--snapshot-update"),
            f"--foundry-endpoint={plain.url}/catalogs/local/v1",
            *endpoint_args,
        )
        base.assert_outcomes(passed=4)
        head = gated.run(
            *_gate_args(gated, "--foundry-compare=main"),
            f"--foundry-endpoint={slow.url}/catalogs/local/v1",
            *endpoint_args,
        )
    # The tests themselves pass (same outputs); the gate alone fails the run.
    head.assert_outcomes(passed=4)
    assert head.ret == 1
    head.stdout.re_match_lines(
        [r"foundry gate vs baseline .*: FAIL - \d+ regressed", r"\s+FAIL\s+tiny .*ratio \d"]
    )
    gate_md = (gated.report / "gate.md").read_text(encoding="utf-8")
    assert "regressed" in gate_md
    gated.assert_no_traceback(head)
