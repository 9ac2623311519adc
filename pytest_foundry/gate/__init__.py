"""The noise-aware regression gate: compare a run with a baseline and decide, per metric.

Pure: no pytest.  What the plugin and the CLI call::

    policy = parse_gate_spec(ini_or_option_string)            # ConfigError on a bad entry
    base = load_baseline(resolve_baseline(name_or_path, baseline_dir))   # BaselineError
    report = compare_results(base, results, policy, force=force)        # BaselineError
    lines = terminal_lines(report); write_markdown(report, "gate.md")
    write_benchmark_json(results, folder, report, policy)
    save_baseline(results, name, baseline_dir)
    report.failed / report.exit_code

Design and defaults: docs/gate.md.
"""

from __future__ import annotations

from pytest_foundry.gate.baselines import (
    DEFAULT_BASELINE_DIR,
    BaselineInfo,
    fingerprint_sha256,
    list_baselines,
    load_baseline,
    resolve_baseline,
    save_baseline,
)
from pytest_foundry.gate.benchmark_json import benchmark_entries, benchmark_json, write_benchmark_json
from pytest_foundry.gate.catalog import GATE_METRICS, METRICS_BY_NAME, GateMetric
from pytest_foundry.gate.compare import GateReport, GateRow, MissingItem, RunInfo, compare_results
from pytest_foundry.gate.policy import GatePolicy, MetricRule, parse_gate_spec
from pytest_foundry.gate.render import render_markdown, terminal_lines, write_markdown
from pytest_foundry.gate.snapshots import SnapshotChange

__all__ = [
    "DEFAULT_BASELINE_DIR",
    "GATE_METRICS",
    "METRICS_BY_NAME",
    "BaselineInfo",
    "GateMetric",
    "GatePolicy",
    "GateReport",
    "GateRow",
    "MetricRule",
    "MissingItem",
    "RunInfo",
    "SnapshotChange",
    "benchmark_entries",
    "benchmark_json",
    "compare_results",
    "fingerprint_sha256",
    "list_baselines",
    "load_baseline",
    "parse_gate_spec",
    "render_markdown",
    "resolve_baseline",
    "save_baseline",
    "terminal_lines",
    "write_benchmark_json",
    "write_markdown",
]
