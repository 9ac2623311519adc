"""End to end: save a baseline, compare against it, and gate the run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.support.slow_proxy import SlowProxy


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
    # (benchmarks/gate_accuracy.py measures false alarms at the default thresholds).  The
    # embedded model's tokens take ~20 µs, so a scheduling hiccup multiplies its TPOT:
    # measured ×8.8 between two back-to-back runs on a loaded 2-core box.
    head = gated.run(*_gate_args(gated, "--foundry-compare=main", "--foundry-gate=*:2000%:fail"))
    head.assert_outcomes(passed=4)
    assert head.ret == 0
    gate_md = (gated.report / "gate.md").read_text(encoding="utf-8")
    # "pass" or "pass with warnings" (the warn tier keeps its 5 %): never a fail row.
    assert gate_md.splitlines()[0].startswith("## pytest-foundry gate: pass")
    assert "| **FAIL** |" not in gate_md
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
    # Compared across different settings: the gate says so.
    assert "runs differ in max_tokens (32 in the baseline, 12 now)" in head.stdout.str()


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
        *_gate_args(gated, "--foundry-compare=main", "--foundry-compare-force", "--foundry-gate=*:2000%:fail")
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
        head_args = (f"--foundry-endpoint={slow.url}/catalogs/local/v1", *endpoint_args)
        # Measured apart (not in lockstep), the default gate only warns on wall-clock
        # figures, and says why; the proxy's delay costs the server no CPU time.
        warned = gated.run(*_gate_args(gated, "--foundry-compare=main"), *head_args)
        warned.assert_outcomes(passed=4)
        assert warned.ret == 0
        warned.stdout.re_match_lines(
            [
                r"foundry gate vs baseline .*: pass with warnings - \d+ regressed",
                r".*not measured in lockstep.*",
            ]
        )
        # A spec that asks for wall-clock gating gets it.
        head = gated.run(
            *_gate_args(gated, "--foundry-compare=main", "--foundry-gate=*:10%:fail"), *head_args
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


def run_in_lockstep(inner, envs: dict[str, dict[str, str]]) -> tuple[dict, dict[str, str]]:
    """Start one inner run per side at once, all with the same lockstep file; each
    reports into a folder named after its side.  Returns (return codes, outputs)."""
    lockstep = inner.pytester.path / "pair.lock"
    processes = {
        side: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                *inner.args(f"--foundry-lockstep={lockstep}", f"--foundry-report={side}"),
                f"--basetemp={inner.basetemp / side}",
            ],
            cwd=inner.pytester.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **env},
        )
        for side, env in envs.items()
    }
    outputs = {side: process.communicate(timeout=180)[0] for side, process in processes.items()}
    return {side: process.returncode for side, process in processes.items()}, outputs


def test_lockstep_runs_take_turns_and_compare(inner):
    """Base and head started together with one lockstep file alternate request by request;
    the standalone compare then gates head against base."""
    inner.write_prompts(inner.FOUR_PROMPTS[:2])
    inner.pytester.makepyfile(test_latency=inner.LATENCY_TEST)
    inner.fast = ["--foundry-rounds=5", "--foundry-warmup=1", "--foundry-max-tokens=16"]
    sides = ("base", "head")
    codes, outputs = run_in_lockstep(inner, {side: {} for side in sides})
    assert codes == {"base": 0, "head": 0}, outputs

    records = {
        side: json.loads((inner.pytester.path / side / "results.json").read_text(encoding="utf-8"))
        for side in sides
    }
    turns = [records[side]["run"]["lockstep"] for side in sides]
    # 3 cold starts (each a load + a cold request) + 1 warm-up, then per prompt 1 warm-up
    # round + 5 rounds.
    assert [t["partnered_turns"] for t in turns] == [19, 19]
    assert [t["solo_turns"] for t in turns] == [0, 0]
    assert sorted(t["seat"] for t in turns) == [0, 1]
    for output in outputs.values():
        assert re.search(r"^lockstep \((host|guest)\): 19 turns with the partner, 0 alone$", output, re.M)
        assert "Traceback" not in output
    assert not (inner.pytester.path / "pair.lock").exists()

    compared = subprocess.run(
        [sys.executable, "-m", "pytest_foundry", "compare", "base", "head", "--gate", "*:2000%:fail"],
        cwd=inner.pytester.path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert compared.returncode == 0, compared.stdout + compared.stderr
    assert "foundry gate vs baseline" in compared.stdout


# The head side stops with Ctrl-C at its third prompt; the base side must finish alone.
INTERRUPTIBLE_TEST = """
import os


def test_answer(foundry_generate, foundry_prompt):
    if foundry_prompt.id == os.environ.get("INTERRUPT_AT"):
        raise KeyboardInterrupt
    for _ in range(3):
        assert foundry_generate(foundry_prompt).metrics.output_tokens > 0
"""


def test_a_partner_interrupted_mid_run_leaves_the_other_to_finish_alone(inner):
    inner.write_prompts()
    inner.pytester.makepyfile(test_answer=INTERRUPTIBLE_TEST)
    inner.fast = [
        "--foundry-rounds=3",
        "--foundry-warmup=0",
        "--foundry-model-warmup=0",
        "--foundry-cold-starts=1",
        "--foundry-max-tokens=16",
    ]
    codes, outputs = run_in_lockstep(inner, {"base": {}, "head": {"INTERRUPT_AT": "size_latency"}})

    assert codes["head"] == pytest.ExitCode.INTERRUPTED, outputs["head"]
    assert codes["base"] == 0, outputs["base"]
    base = json.loads((inner.pytester.path / "base" / "results.json").read_text(encoding="utf-8"))
    turns = base["run"]["lockstep"]
    # Load, cold request, then 3 requests per prompt: the head took its turns up to the
    # third prompt, the base the rest alone.
    assert turns["partnered_turns"] + turns["solo_turns"] == 2 + 4 * 3
    assert turns["partnered_turns"] >= 2 + 2 * 3
    assert turns["solo_turns"] >= 3
    assert turns["note"] == "the partner run stopped before it finished (failed or interrupted)"
    assert all(cell["status"] in ("ok", "truncated") for cell in base["cells"])
    assert "Traceback" not in outputs["base"]
