"""The foundry_gate spec: defaults, overrides and one-line errors."""

from __future__ import annotations

import pytest

from pytest_foundry.errors import ConfigError
from pytest_foundry.gate.catalog import METRICS_BY_NAME
from pytest_foundry.gate.policy import GatePolicy, MetricRule, parse_gate_spec

TTFT_P95 = METRICS_BY_NAME["ttft_p95"]
DECODE = METRICS_BY_NAME["decode_tps"]
LOAD = METRICS_BY_NAME["load_time"]
MEMORY = METRICS_BY_NAME["peak_memory"]


def test_defaults() -> None:
    policy = parse_gate_spec(None)
    assert policy.rule_for(TTFT_P95) == MetricRule(warn=0.05, fail=0.10, floor=1.0)
    assert policy.rule_for(DECODE) == MetricRule(warn=0.05, fail=0.10, floor=0.5)
    assert policy.rule_for(LOAD) == MetricRule(warn=None, fail=0.25, floor=0.1)
    assert policy.rule_for(MEMORY).fail == 0.10
    assert policy.snapshot_tier() == "warn"
    assert parse_gate_spec("") == GatePolicy()


def test_the_issue_example() -> None:
    policy = parse_gate_spec("ttft_p95:+10%:fail, decode_tps:-5%:warn")
    assert policy.rule_for(TTFT_P95).fail == pytest.approx(0.10)
    assert policy.rule_for(DECODE).warn == pytest.approx(0.05)
    # What the spec does not name keeps its default.
    assert policy.rule_for(TTFT_P95).warn == 0.05
    assert policy.rule_for(DECODE).fail == 0.10


def test_newlines_and_unsigned_thresholds() -> None:
    policy = parse_gate_spec(["ttft_p95:20%:fail", "", "decode_tps:15%:fail"])
    assert policy.rule_for(TTFT_P95).fail == pytest.approx(0.20)
    assert policy.rule_for(DECODE).fail == pytest.approx(0.15)
    assert parse_gate_spec("ttft_p95:20%:fail\n\ndecode_tps:15%:fail") == GatePolicy(
        overrides=policy.overrides, spec=policy.spec
    )


def test_per_model_override_beats_global() -> None:
    policy = parse_gate_spec("*:30%:fail, ttft_p95:+20%:fail, phi-4-mini:3/ttft_p95:+50%:fail, qwen/*:off")
    assert policy.rule_for(TTFT_P95).fail == pytest.approx(0.20)
    assert policy.rule_for(DECODE).fail == pytest.approx(0.30)  # from "*"
    assert policy.rule_for(TTFT_P95, "phi-4-mini:3").fail == pytest.approx(0.50)  # the model id has a ':'
    assert policy.rule_for(DECODE, "phi-4-mini:3").fail == pytest.approx(0.30)
    assert not policy.rule_for(TTFT_P95, "qwen").gated
    assert policy.models_named() == {"phi-4-mini:3", "qwen"}


def test_off_then_reenabled_for_one_model() -> None:
    policy = parse_gate_spec("load_time:off, tiny/load_time:+50%:fail")
    assert not policy.rule_for(LOAD).gated
    assert policy.rule_for(LOAD, "tiny") == MetricRule(warn=None, fail=0.5, floor=0.1)


@pytest.mark.parametrize(
    ("entry", "metric", "floor"),
    [
        ("ttft_p95:+10%:fail:floor=2", TTFT_P95, 2.0),
        ("ttft_p95:+10%:fail:floor=2ms", TTFT_P95, 2.0),
        ("ttft_p95:floor=0.5s", TTFT_P95, 500.0),
        ("ttft_p95:floor=250us", TTFT_P95, 0.25),
        ("load_time:floor=500ms", LOAD, 0.5),
        ("peak_memory:floor=1GiB", MEMORY, 1024.0),
        ("peak_memory:floor=64MiB", MEMORY, 64.0),
        ("decode_tps:-5%:warn:floor=2", DECODE, 2.0),
    ],
)
def test_floors_with_units(entry: str, metric: object, floor: float) -> None:
    assert parse_gate_spec(entry).rule_for(metric).floor == pytest.approx(floor)  # type: ignore[arg-type]


def test_snapshot_tiers() -> None:
    policy = parse_gate_spec("snapshots:fail, tiny/snapshots:off")
    assert policy.snapshot_tier() == "fail"
    assert policy.snapshot_tier("other") == "fail"
    assert policy.snapshot_tier("tiny") is None


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("ttft_p95:-10%:fail", "gets worse when it grows: write +10%"),
        ("decode_tps:+5%:warn", "gets worse when it shrinks: write -5%"),
        ("ttft_p59:+10%:fail", "unknown metric 'ttft_p59'"),
        ("ttft_p95:+10%:error", "unknown tier 'error'"),
        ("ttft_p95:10:fail", "expected a percentage"),
        ("ttft_p95:+10%", "expected THRESHOLD:TIER"),
        ("ttft_p95", "expected TARGET:RULE"),
        ("*:+10%:fail", "give no sign"),
        ("*:floor=1", "set floor= per metric"),
        ("ttft_p95:floor=1MiB", "does not fit ttft_p95"),
        ("ttft_p95:floor=fast", "cannot read floor"),
        ("decode_tps:-100%:fail", "use less than 100%"),
        ("ttft_p95:+10%:fail, ttft_p95:+20%:fail", "sets fail again"),
        ("ttft_p95:off, ttft_p95:+20%:fail", "'off' conflicts"),
        ("snapshots:+10%:fail", "snapshots take one of"),
        ("/ttft_p95:+10%:fail", "empty model name"),
        ("ttft_p95:+10%:fail:floor=1:extra", "cannot read rule"),
    ],
)
def test_bad_entries_name_the_entry_and_the_problem(spec: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_gate_spec(spec)
    message = str(caught.value)
    assert message.startswith("foundry_gate entry '")
    assert problem in message
    assert "\n" not in message


def test_the_option_name_in_errors_is_the_callers() -> None:
    with pytest.raises(ConfigError, match=r"^--foundry-gate entry 'nope:1%:fail'"):
        parse_gate_spec("nope:1%:fail", option="--foundry-gate")
