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

from importlib import import_module
from typing import Any

# Public names, by module.  Imported on first use (PEP 562): the plugin imports
# gate.policy at configure time, and that must not pull in numpy and the renderers.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "baselines": (
        "DEFAULT_BASELINE_DIR",
        "BaselineInfo",
        "fingerprint_sha256",
        "list_baselines",
        "load_baseline",
        "resolve_baseline",
        "save_baseline",
    ),
    "github_benchmark": ("benchmark_entries", "benchmark_json", "write_benchmark_json"),
    "catalog": ("GATE_METRICS", "METRICS_BY_NAME", "GateMetric"),
    "compare": ("GateReport", "GateRow", "MissingItem", "RunInfo", "compare_results"),
    "policy": ("GatePolicy", "MetricRule", "parse_gate_spec"),
    "render": ("render_markdown", "terminal_lines", "write_markdown"),
    "changed_outputs": ("SnapshotChange",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)


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
