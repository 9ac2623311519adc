"""The recorder: latency rounds apart from warm-ups, outputs with checks, snapshot outcomes."""

from __future__ import annotations

import re
from pathlib import Path

from fake_runtime import generation

from pytest_foundry.prompts import PromptSpec
from pytest_foundry.recorder import Recorder, SnapshotOutcome

PROMPT = PromptSpec(id="p1", prompt="Say hi.", max_tokens=32)
CHECKED = PromptSpec(
    id="p2", prompt="JSON please", checks=({"name": "has_json", "type": "contains", "value": "{"},)
)
README = Path(__file__).parents[2] / "README.md"


def test_warm_up_rounds_are_kept_apart_from_the_measured_ones():
    recorder = Recorder(max_tokens=16, seed=7)
    calls = [(PROMPT, generation("m", ttft_ms=t)) for t in (99.0, 10.0, 12.0, 14.0)]
    recorder.record_latency("m", calls, warmup=1)
    cell = recorder.cells[("m", "p1")]
    assert [round(m.ttft_s * 1000) for m in cell.warmup] == [99]
    assert [round(m.ttft_s * 1000) for m in cell.samples] == [10, 12, 14]
    # A prompt's own max_tokens wins over the run's.
    assert cell.max_tokens == 32
    assert cell.seed == 7


def test_latency_info_holds_the_run_facts_and_the_catalogue_figures():
    recorder = Recorder(max_tokens=16, seed=7)
    calls = [(PROMPT, generation("m", ttft_ms=t)) for t in (10.0, 12.0, 14.0)]
    recorder.record_latency("m", calls, warmup=0)
    info = recorder.latency_info("m", PROMPT, calls[-1][1], "m-generic-cpu:1")
    assert info["ttft_median_s"] == 0.012
    assert info["rounds"] == 3
    assert info["model_variant"] == "m-generic-cpu:1"
    assert info["tokens_estimated"] is False


def test_the_extra_info_keys_are_the_ones_the_readme_promises():
    """README: "`benchmark.extra_info` keys: `a`, `b`, ...": the list users script against."""
    text = README.read_text(encoding="utf-8")
    paragraph = text[text.index("extra_info` keys:") :].split("\n\n", 1)[0]
    promised = set(re.findall(r"`([a-z0-9_]+)`", paragraph.split("keys:", 1)[1]))
    recorder = Recorder(max_tokens=16, seed=7)
    calls = [(PROMPT, generation("m", ttft_ms=t)) for t in (10.0, 12.0)]
    recorder.record_latency("m", calls, warmup=0)
    keys = set(recorder.latency_info("m", PROMPT, calls[-1][1], None))
    # CPU time per token appears only where the serving process could be watched.
    assert keys == promised - {"cpu_per_token_median_s"}
    measured = [(PROMPT, generation("m")) for _ in range(2)]
    for _, g in measured:
        object.__setattr__(g, "metrics", g.metrics.with_cpu(0.5))
    with_cpu = Recorder(max_tokens=16, seed=7)
    with_cpu.record_latency("m", measured, warmup=0)
    assert set(with_cpu.latency_info("m", PROMPT, measured[-1][1], None)) == promised


def test_an_output_is_recorded_with_its_hash_and_the_failed_checks_are_returned():
    recorder = Recorder(max_tokens=16, seed=7)
    failed = recorder.record_output("m", CHECKED, generation("m", text="no braces here"))
    assert len(failed) == 1
    assert failed[0].startswith("has_json")
    output = recorder.cells[("m", "p2")].output
    assert output is not None
    assert output["text"] == "no braces here"
    assert len(output["sha256"]) == 64
    assert recorder.record_output("m", CHECKED, generation("m", text='{"a": 1}')) == []


def test_snapshot_outcomes_land_on_the_output_and_mark_the_case_asserted():
    recorder = Recorder(max_tokens=16, seed=7)
    recorder.record_output("m", PROMPT, generation("m"))
    recorder.record_snapshots("m", "p1", [SnapshotOutcome("changed", "-a\n+b\n")])
    output = recorder.cells[("m", "p1")].output
    assert output is not None
    assert (output["snapshot"], output["snapshot_diff"]) == ("changed", "-a\n+b\n")
    assert ("m", "p1") in recorder.asserted_snapshots
    # No assertion ran: nothing is marked.
    recorder.record_snapshots("m", "p9", [])
    assert ("m", "p9") not in recorder.asserted_snapshots


def test_a_failure_is_recorded_in_one_line():
    recorder = Recorder(max_tokens=16, seed=7)
    recorder.record_failure("m", PROMPT, "timeout", "request ran past\n120 s")
    cell = recorder.cells[("m", "p1")]
    assert (cell.status, cell.reason) == ("timeout", "request ran past 120 s")
