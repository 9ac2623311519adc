"""github-action-benchmark input: one run's metrics as customSmallerIsBetter / customBiggerIsBetter.

Pure: no pytest.  Each entry is ``{"name", "unit", "value", "range", "extra"}``; the name
``"<model> / <prompt> / <metric>"`` is the series key, so it must stay stable between runs.
``range`` is "±" half the width of the bootstrap CI of the run's own statistic; ``extra``
holds n and, when a GateReport is given, the verdict against the baseline.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from pytest_foundry.atomic_files import atomic_write_text
from pytest_foundry.gate.catalog import GATE_METRICS, GateMetric
from pytest_foundry.gate.compare import GateReport, GateRow, plural
from pytest_foundry.gate.policy import GatePolicy
from pytest_foundry.gate.render import format_ratio, verdict_word
from pytest_foundry.gate.stats import bootstrap_statistic, ci_bounds, expanded_tail, rng_for, statistic_of
from pytest_foundry.gate.values import model_value, quality_value, sample_values
from pytest_foundry.results import CellRecord, Results
from pytest_foundry.status import MEASURED_STATUSES

SMALLER_FILE = "customSmallerIsBetter.json"
BIGGER_FILE = "customBiggerIsBetter.json"
ALL_PROMPTS = "all prompts"

Entry = dict[str, Any]


def benchmark_entries(
    results: Results, report: GateReport | None = None, policy: GatePolicy | None = None
) -> tuple[list[Entry], list[Entry]]:
    """(customSmallerIsBetter entries, customBiggerIsBetter entries) of one run."""
    policy = policy or GatePolicy()
    verdicts = {(row.model, row.prompt, row.metric): row for row in report.rows} if report else {}
    smaller: list[Entry] = []
    bigger: list[Entry] = []
    cells_by_model: dict[str, list[CellRecord]] = {}
    for cell in results["cells"]:
        if cell["status"] in MEASURED_STATUSES:
            cells_by_model.setdefault(cell["model"], []).append(cell)
    for model in results["models"]:
        if model["status"] != "ok":
            continue
        slug = model["slug"]
        cells = cells_by_model.get(slug, [])
        for metric in GATE_METRICS:
            entries: list[Entry] = []
            if metric.source == "model":
                value = model_value(model, metric)
                if value is not None:
                    entries.append(_entry(metric, slug, None, value, None, "1 sample", verdicts))
            elif metric.source == "samples":
                entries += _samples_entries(metric, slug, cells, policy, verdicts)
            elif metric.source == "concurrency":
                entries += _sweep_entries(results, metric, slug, verdicts)
            else:
                scores = [(cell["prompt"], quality_value(cell, metric)) for cell in cells]
                known = [(prompt, score) for prompt, score in scores if score is not None]
                entries += [
                    _entry(metric, slug, prompt, score, None, "1 score", verdicts) for prompt, score in known
                ]
                if known:
                    mean = sum(score for _, score in known) / len(known)
                    entries.append(_entry(metric, slug, None, mean, None, f"mean of {len(known)}", verdicts))
            (smaller if metric.better == "lower" else bigger).extend(entries)
    return smaller, bigger


def _samples_entries(
    metric: GateMetric,
    slug: str,
    cells: list[CellRecord],
    policy: GatePolicy,
    verdicts: dict[tuple[str, str | None, str], GateRow],
) -> list[Entry]:
    assert metric.statistic is not None
    entries: list[Entry] = []
    log_replicates: list[Any] = []
    log_values: list[float] = []
    tails: list[float] = []
    for cell in cells:
        values = np.asarray(sample_values(cell, metric), dtype=np.float64)
        if values.size == 0:
            continue
        value = statistic_of(values, metric.statistic)
        half_width = None
        if values.size >= policy.min_samples and value > 0:
            replicates = bootstrap_statistic(
                values,
                metric.statistic,
                policy.resamples,
                rng_for(policy.seed, slug, cell["prompt"], metric.name),
            )
            tail = expanded_tail(policy.confidence, int(values.size))
            low, high = ci_bounds(replicates, tail)
            half_width = (high - low) / 2.0
            log_replicates.append(np.log(replicates))
            log_values.append(math.log(value))
            tails.append(tail)
        entries.append(_entry(metric, slug, cell["prompt"], value, half_width, f"n={values.size}", verdicts))
    if log_values:
        # The model's value: the geometric mean over prompts, as in the gate's model rows.
        value = math.exp(sum(log_values) / len(log_values))
        low, high = ci_bounds(np.exp(np.mean(np.stack(log_replicates), axis=0)), min(tails))
        extra = f"geometric mean over {plural(len(log_values), 'prompt')}"
        entries.append(_entry(metric, slug, None, value, (high - low) / 2.0, extra, verdicts))
    return entries


def _sweep_entries(
    results: Results, metric: GateMetric, slug: str, verdicts: dict[tuple[str, str | None, str], GateRow]
) -> list[Entry]:
    """One entry per answered concurrency level: its system tok/s or E2E p95."""
    from pytest_foundry.gate.compare import level_label

    sweep = results.get("concurrency")
    entries: list[Entry] = []
    for level in sweep["levels"] if sweep else []:
        if level["model"] != slug or level["status"] != "ok":
            continue
        summary = level["summary"].get("e2e_s")
        value = level["system_tps"] if metric.statistic is None else (summary["p95"] if summary else None)
        if value is not None:
            where = level_label(level["level"])
            extra = f"{level['requests']} requests"
            entries.append(_entry(metric, slug, where, value * metric.scale, None, extra, verdicts))
    return entries


def _entry(
    metric: GateMetric,
    model: str,
    prompt: str | None,
    value: float,
    half_width: float | None,
    extra: str,
    verdicts: dict[tuple[str, str | None, str], GateRow],
) -> Entry:
    entry: Entry = {
        "name": f"{model} / {prompt if prompt is not None else ALL_PROMPTS} / {metric.label}",
        "unit": metric.unit,
        "value": _rounded(value),
    }
    if half_width is not None:
        entry["range"] = f"±{_rounded(half_width)}"
    row = verdicts.get((model, prompt, metric.name))
    if row is not None:
        extra += f"; vs baseline: {verdict_word(row)}, ratio {format_ratio(row)}"
    entry["extra"] = extra
    return entry


def _rounded(value: float) -> float:
    """Six significant digits: enough for a chart, without float noise in the file."""
    return float(f"{value:.6g}")


def benchmark_json(
    results: Results, report: GateReport | None = None, policy: GatePolicy | None = None
) -> tuple[str, str]:
    """The two files' JSON texts: (customSmallerIsBetter, customBiggerIsBetter)."""
    smaller, bigger = benchmark_entries(results, report, policy)
    return _dumps(smaller), _dumps(bigger)


def write_benchmark_json(
    results: Results,
    directory: str | os.PathLike[str],
    report: GateReport | None = None,
    policy: GatePolicy | None = None,
) -> tuple[Path, Path]:
    """Write customSmallerIsBetter.json and customBiggerIsBetter.json (atomically) into ``directory``."""
    smaller_text, bigger_text = benchmark_json(results, report, policy)
    folder = Path(directory)
    smaller_path, bigger_path = folder / SMALLER_FILE, folder / BIGGER_FILE
    atomic_write_text(smaller_path, smaller_text)
    atomic_write_text(bigger_path, bigger_text)
    return smaller_path, bigger_path


def _dumps(entries: list[Entry]) -> str:
    return json.dumps(entries, indent=2, ensure_ascii=False) + "\n"
