"""Compare a run with a baseline, metric by metric, into a GateReport.

Pure: no pytest.  Per model x prompt, the raw samples of both runs are compared with a
bootstrap CI of the ratio head/base of the statistic (see stats.py); per model, the cells
are combined into the geometric mean of their ratios, with a stratified bootstrap CI.
Load time, peak memory and quality scores have one value per run: threshold and floor only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from pytest_foundry.gate.catalog import CONCURRENCY_E2E_P95, CONCURRENCY_TPS, GATE_METRICS, GateMetric
from pytest_foundry.gate.changed_outputs import output_change
from pytest_foundry.gate.fingerprints import APART_NOTE, check_comparable, measured_in_lockstep

# The report's values are defined in gate_report.py; re-exported as this module's results.
from pytest_foundry.gate.gate_report import NO_CI_NOTE as NO_CI_NOTE
from pytest_foundry.gate.gate_report import GateReport as GateReport
from pytest_foundry.gate.gate_report import GateRow as GateRow
from pytest_foundry.gate.gate_report import MissingItem as MissingItem
from pytest_foundry.gate.gate_report import RunInfo as RunInfo
from pytest_foundry.gate.gate_report import Side
from pytest_foundry.gate.policy import GatePolicy, MetricRule, Tier
from pytest_foundry.gate.stats import (
    RatioEstimate,
    bootstrap_rate_ratio,
    bootstrap_ratio,
    decide,
    geometric_mean_ratio,
    rng_for,
    statistic_of,
)
from pytest_foundry.gate.values import model_value, quality_value, sample_values
from pytest_foundry.metrics import TAIL_PERCENTILE_MIN_SAMPLES
from pytest_foundry.results import CellRecord, ConcurrencyLevelRecord, ModelRecord, Results
from pytest_foundry.status import MEASURED_STATUSES


def compare_results(
    base: Results,
    head: Results,
    policy: GatePolicy | None = None,
    force: bool = False,
    allow_empty: bool = False,
) -> GateReport:
    """Compare ``head`` with the baseline ``base``.

    Raises BaselineError when the runs come from a different CPU, runtime versions or model
    files, unless ``force`` (the report then carries a "compared across different ..." warning).
    """
    policy = policy or GatePolicy()
    report = GateReport(
        warnings=check_comparable(base, head, force=force),
        base_run=RunInfo.of(base),
        head_run=RunInfo.of(head),
        spec=policy.spec,
        confidence=policy.confidence,
        allow_empty=allow_empty,
    )
    base_models = {model["slug"]: model for model in base["models"]}
    head_models = {model["slug"]: model for model in head["models"]}
    base_cells = _cells_by_model(base["cells"])
    head_cells = _cells_by_model(head["cells"])
    apart = not measured_in_lockstep(base, head)
    if apart:
        report.warnings.append(APART_NOTE)
    for name in sorted(policy.models_named() - set(base_models) - set(head_models)):
        report.warnings.append(f"the gate spec names model {name!r}, which neither run has")
    for slug in _union(base_models, head_models):
        base_model, head_model = base_models.get(slug), head_models.get(slug)
        if base_model is None or head_model is None:
            side: Side = "base" if base_model is None else "head"
            report.missing.append(MissingItem(slug, None, side, f"model not in the {_run_name(side)}"))
            continue
        _compare_model(
            report, policy, base_model, head_model, base_cells.get(slug, {}), head_cells.get(slug, {}), apart
        )
        if base_model["status"] == "ok" and head_model["status"] == "ok":
            _compare_sweep(report, policy, slug, _levels_of(base, slug), _levels_of(head, slug), apart)
    return report


SHARED_MEMORY_NOTE = (
    "{slug}: memory was measured in a server shared with other work, not a process of the "
    "model's own: peak memory only warns by default"
)


def _compare_model(
    report: GateReport,
    policy: GatePolicy,
    base_model: ModelRecord,
    head_model: ModelRecord,
    base_cells: dict[str, CellRecord],
    head_cells: dict[str, CellRecord],
    apart: bool,
) -> None:
    slug = base_model["slug"]
    sides: tuple[tuple[Side, ModelRecord], ...] = (("base", base_model), ("head", head_model))
    for side, model in sides:
        if model["status"] != "ok":
            report.missing.append(
                MissingItem(slug, None, side, _status_reason(model["status"], model["reason"]))
            )
    if base_model["status"] != "ok" or head_model["status"] != "ok":
        return
    pairs = _paired_cells(report, slug, base_cells, head_cells)
    report.paired_cells += len(pairs)

    cell_rows: list[GateRow] = []
    model_rows: list[GateRow] = []
    # Memory measured in a server that is not the model's own process (an endpoint).
    shared = any(model["memory"] is not None and model["memory"]["scope"] != "host" for _, model in sides)
    if shared:
        report.warnings.append(SHARED_MEMORY_NOTE.format(slug=slug))
    for metric in GATE_METRICS:
        rule = policy.rule_for(metric, slug, apart=apart, shared_memory=shared)
        if metric.source == "model":
            row = _single_value_row(
                metric, rule, slug, None, model_value(base_model, metric), model_value(head_model, metric)
            )
            model_rows += [row] if row else []
        elif metric.source == "concurrency":
            continue  # the sweep's levels: _compare_sweep
        elif metric.source == "samples":
            estimates: list[RatioEstimate] = []
            for base_cell, head_cell in pairs:
                row, estimate = _samples_row(metric, rule, policy, base_cell, head_cell)
                cell_rows += [row] if row else []
                estimates += [estimate] if estimate else []
            had_rows = any(r.metric == metric.name for r in cell_rows)
            aggregate = _aggregate_samples_row(metric, rule, policy, slug, estimates, pairs, had_rows)
            model_rows += [aggregate] if aggregate else []
        else:
            quality_rows = [
                row
                for base_cell, head_cell in pairs
                if (row := _quality_row(metric, rule, base_cell, head_cell)) is not None
            ]
            cell_rows += quality_rows
            aggregate = _mean_row(metric, rule, slug, quality_rows)
            model_rows += [aggregate] if aggregate else []
    report.rows += model_rows
    # Cell rows grouped by prompt, metrics in catalogue order within a prompt.
    prompt_order = {base_cell["prompt"]: index for index, (base_cell, _) in enumerate(pairs)}
    report.rows += sorted(cell_rows, key=lambda row: prompt_order[row.prompt or ""])

    for base_cell, head_cell in pairs:
        change = output_change(base_cell, head_cell, policy.snapshot_tier(slug))
        if change is not None:
            report.snapshot_changes.append(change)


def _paired_cells(
    report: GateReport, slug: str, base_cells: dict[str, CellRecord], head_cells: dict[str, CellRecord]
) -> list[tuple[CellRecord, CellRecord]]:
    """The cells measured in both runs; the others go to report.missing."""
    pairs: list[tuple[CellRecord, CellRecord]] = []
    for prompt in _union(base_cells, head_cells):
        base_cell, head_cell = base_cells.get(prompt), head_cells.get(prompt)
        if base_cell is None or head_cell is None:
            side: Side = "base" if base_cell is None else "head"
            report.missing.append(MissingItem(slug, prompt, side, f"prompt not in the {_run_name(side)}"))
            continue
        sides: tuple[tuple[Side, CellRecord], ...] = (("base", base_cell), ("head", head_cell))
        unmeasured = [(side, cell) for side, cell in sides if cell["status"] not in MEASURED_STATUSES]
        for side, cell in unmeasured:
            report.missing.append(
                MissingItem(slug, prompt, side, _status_reason(cell["status"], cell["reason"]))
            )
        if not unmeasured:
            pairs.append((base_cell, head_cell))
    return pairs


def _samples_row(
    metric: GateMetric, rule: MetricRule, policy: GatePolicy, base_cell: CellRecord, head_cell: CellRecord
) -> tuple[GateRow | None, RatioEstimate | None]:
    model, prompt = base_cell["model"], base_cell["prompt"]
    base_values = sample_values(base_cell, metric)
    head_values = sample_values(head_cell, metric)
    if not base_values and not head_values:
        return None, None
    assert metric.statistic is not None
    counts = {"n_base": len(base_values), "n_head": len(head_values)}
    if min(len(base_values), len(head_values)) < policy.min_samples:
        base_stat, head_stat = (
            _statistic_or_none(base_values, metric),
            _statistic_or_none(head_values, metric),
        )
        row = GateRow(
            model, prompt, metric.name, base_stat, head_stat,
            _point_ratio(base_stat, head_stat), None, None, **counts, verdict="inconclusive", tier=None,
            note=f"n<{policy.min_samples}: too few samples for a CI",
        )  # fmt: skip
        return row, None
    estimate = bootstrap_ratio(
        base_values,
        head_values,
        metric.statistic,
        resamples=policy.resamples,
        confidence=policy.confidence,
        rng=rng_for(policy.seed, model, prompt, metric.name),
    )
    if estimate is None:
        row = GateRow(
            model, prompt, metric.name,
            _statistic_or_none(base_values, metric), _statistic_or_none(head_values, metric),
            None, None, None, **counts, verdict="inconclusive", tier=None,
            note="the baseline value is 0: no ratio",
        )  # fmt: skip
        return row, None
    max_tier, note = _tail_cap(metric, min(estimate.n_base, estimate.n_head))
    if policy.prompt_rows_tier(model) == "warn" and max_tier == "fail":
        max_tier = "warn"
        note = "per-prompt rows warn; the model row decides"
    verdict, tier = decide(
        base=estimate.base,
        head=estimate.head,
        ratio=estimate.ratio,
        ci_low=estimate.ci_low,
        ci_high=estimate.ci_high,
        better=metric.better,
        rule=rule,
        max_tier=max_tier,
    )
    row = GateRow(
        model, prompt, metric.name, estimate.base, estimate.head,
        estimate.ratio, estimate.ci_low, estimate.ci_high, **counts,
        verdict=verdict, tier=tier, note=note,
    )  # fmt: skip
    return row, estimate


def _aggregate_samples_row(
    metric: GateMetric,
    rule: MetricRule,
    policy: GatePolicy,
    slug: str,
    estimates: list[RatioEstimate],
    pairs: list[tuple[CellRecord, CellRecord]],
    had_rows: bool,
) -> GateRow | None:
    if not had_rows:
        return None
    if not estimates:
        n_base = sum(len(sample_values(base_cell, metric)) for base_cell, _ in pairs)
        n_head = sum(len(sample_values(head_cell, metric)) for _, head_cell in pairs)
        return GateRow(
            slug, None, metric.name, None, None, None, None, None, n_base, n_head,
            verdict="inconclusive", tier=None, note="no prompt with enough samples on both sides",
        )  # fmt: skip
    base, head, ratio, low, high = geometric_mean_ratio(estimates)
    max_tier, tail_note = _tail_cap(metric, min(min(e.n_base, e.n_head) for e in estimates))
    verdict, tier = decide(
        base=base,
        head=head,
        ratio=ratio,
        ci_low=low,
        ci_high=high,
        better=metric.better,
        rule=rule,
        max_tier=max_tier,
    )
    note = f"geometric mean over {plural(len(estimates), 'prompt')}" + (f"; {tail_note}" if tail_note else "")
    n_base, n_head = sum(e.n_base for e in estimates), sum(e.n_head for e in estimates)
    return GateRow(
        slug, None, metric.name, base, head, ratio, low, high, n_base, n_head,
        verdict=verdict, tier=tier, note=note,
    )  # fmt: skip


# -- the concurrency sweep ---------------------------------------------------------------
def level_label(level: int) -> str:
    """Where a sweep row sits, in the prompt's place: "2 streams" (a space, so it can
    never be a prompt id)."""
    return f"{level} stream" + ("" if level == 1 else "s")


def _levels_of(results: Results, slug: str) -> dict[int, ConcurrencyLevelRecord]:
    sweep = results.get("concurrency")
    levels = sweep["levels"] if sweep else []
    return {level["level"]: level for level in levels if level["model"] == slug}


def _compare_sweep(
    report: GateReport,
    policy: GatePolicy,
    slug: str,
    base_levels: dict[int, ConcurrencyLevelRecord],
    head_levels: dict[int, ConcurrencyLevelRecord],
    apart: bool,
) -> None:
    """Per level: system tok/s and E2E p95, each with a bootstrap CI over the level's
    requests; per model: their geometric mean over the levels, which decides (level rows
    warn at most, like prompt rows).  A level in one run only, or failed, is missing.
    Both are wall-clock figures: between runs measured apart they only warn by default."""
    if not base_levels and not head_levels:
        return
    pairs: list[tuple[ConcurrencyLevelRecord, ConcurrencyLevelRecord]] = []
    for level in sorted(set(base_levels) | set(head_levels)):
        base_level, head_level = base_levels.get(level), head_levels.get(level)
        if base_level is None or head_level is None:
            side: Side = "base" if base_level is None else "head"
            report.missing.append(
                MissingItem(slug, level_label(level), side, f"concurrency level not in the {_run_name(side)}")
            )
            continue
        sides: tuple[tuple[Side, ConcurrencyLevelRecord], ...] = (("base", base_level), ("head", head_level))
        failed = [(failed_side, record) for failed_side, record in sides if record["status"] != "ok"]
        for failed_side, record in failed:
            reason = _status_reason(record["status"], record["reason"])
            report.missing.append(MissingItem(slug, level_label(level), failed_side, reason))
        if not failed:
            pairs.append((base_level, head_level))
    report.paired_cells += len(pairs)
    level_rows: list[GateRow] = []
    model_rows: list[GateRow] = []
    for metric in (CONCURRENCY_TPS, CONCURRENCY_E2E_P95):
        rule = policy.rule_for(metric, slug, apart=apart)
        estimates: list[RatioEstimate] = []
        for base_level, head_level in pairs:
            row, estimate = _level_row(metric, rule, policy, slug, base_level, head_level)
            level_rows.append(row)
            estimates += [estimate] if estimate else []
        if not pairs:
            continue
        if not estimates:
            model_rows.append(
                GateRow(
                    slug,
                    None,
                    metric.name,
                    None,
                    None,
                    None,
                    None,
                    None,
                    sum(row.n_base for row in level_rows if row.metric == metric.name),
                    sum(row.n_head for row in level_rows if row.metric == metric.name),
                    verdict="inconclusive",
                    tier=None,
                    note="no level with enough requests on both sides",
                )
            )
            continue
        base, head, ratio, low, high = geometric_mean_ratio(estimates)
        max_tier, tail_note = _tail_cap(metric, min(min(e.n_base, e.n_head) for e in estimates))
        verdict, tier = decide(
            base=base, head=head, ratio=ratio, ci_low=low, ci_high=high,
            better=metric.better, rule=rule, max_tier=max_tier,
        )  # fmt: skip
        note = f"concurrency sweep: geometric mean over {plural(len(estimates), 'level')}"
        model_rows.append(
            GateRow(
                slug,
                None,
                metric.name,
                base,
                head,
                ratio,
                low,
                high,
                sum(e.n_base for e in estimates),
                sum(e.n_head for e in estimates),
                verdict=verdict,
                tier=tier,
                note=note + (f"; {tail_note}" if tail_note else ""),
            )
        )
    report.rows += model_rows + sorted(level_rows, key=lambda row: int((row.prompt or "0").split()[0]))


def _level_row(
    metric: GateMetric,
    rule: MetricRule,
    policy: GatePolicy,
    slug: str,
    base_level: ConcurrencyLevelRecord,
    head_level: ConcurrencyLevelRecord,
) -> tuple[GateRow, RatioEstimate | None]:
    where = level_label(base_level["level"])
    base_ok = [sample for sample in base_level["samples"] if sample["error"] is None]
    head_ok = [sample for sample in head_level["samples"] if sample["error"] is None]
    counts = {"n_base": len(base_ok), "n_head": len(head_ok)}
    rng = rng_for(policy.seed, slug, where, metric.name)
    if metric.statistic is None:  # system tok/s: the level's rate
        base_value, head_value = base_level["system_tps"], head_level["system_tps"]
    else:
        base_value, head_value = (
            _statistic_or_none([s["e2e_s"] * metric.scale for s in samples], metric)
            for samples in (base_ok, head_ok)
        )
    if min(len(base_ok), len(head_ok)) < policy.min_samples:
        row = GateRow(
            slug, where, metric.name, base_value, head_value, _point_ratio(base_value, head_value),
            None, None, **counts, verdict="inconclusive", tier=None,
            note=f"n<{policy.min_samples}: too few requests for a CI",
        )  # fmt: skip
        return row, None
    if metric.statistic is None:
        assert base_value is not None and head_value is not None
        estimate = bootstrap_rate_ratio(
            (base_value, [s["output_tokens"] for s in base_ok], [s["e2e_s"] for s in base_ok]),
            (head_value, [s["output_tokens"] for s in head_ok], [s["e2e_s"] for s in head_ok]),
            resamples=policy.resamples,
            confidence=policy.confidence,
            rng=rng,
        )
    else:
        estimate = bootstrap_ratio(
            [s["e2e_s"] * metric.scale for s in base_ok],
            [s["e2e_s"] * metric.scale for s in head_ok],
            metric.statistic,
            resamples=policy.resamples,
            confidence=policy.confidence,
            rng=rng,
        )
    if estimate is None:
        row = GateRow(
            slug, where, metric.name, base_value, head_value, None, None, None, **counts,
            verdict="inconclusive", tier=None, note="the baseline value is 0: no ratio",
        )  # fmt: skip
        return row, None
    max_tier, note = _tail_cap(metric, min(estimate.n_base, estimate.n_head))
    if policy.prompt_rows_tier(slug) == "warn" and max_tier == "fail":
        max_tier, note = "warn", "per-level rows warn; the model row decides"
    verdict, tier = decide(
        base=estimate.base, head=estimate.head, ratio=estimate.ratio,
        ci_low=estimate.ci_low, ci_high=estimate.ci_high,
        better=metric.better, rule=rule, max_tier=max_tier,
    )  # fmt: skip
    row = GateRow(
        slug, where, metric.name, estimate.base, estimate.head, estimate.ratio,
        estimate.ci_low, estimate.ci_high, **counts, verdict=verdict, tier=tier, note=note,
    )  # fmt: skip
    return row, estimate


def _tail_cap(metric: GateMetric, n: int) -> tuple[Tier, str | None]:
    """p95 from fewer than TAIL_PERCENTILE_MIN_SAMPLES is unreliable (metrics.md): warn at most."""
    if metric.statistic in ("p95", "p99") and n < TAIL_PERCENTILE_MIN_SAMPLES:
        return "warn", f"p95 of n<{TAIL_PERCENTILE_MIN_SAMPLES}: warns, never fails"
    return "fail", None


def _single_value_row(
    metric: GateMetric,
    rule: MetricRule,
    model: str,
    prompt: str | None,
    base: float | None,
    head: float | None,
    note: str = NO_CI_NOTE,
) -> GateRow | None:
    if base is None and head is None:
        return None
    n_base, n_head = int(base is not None), int(head is not None)
    if base is None or head is None:
        side = "base" if base is None else "head"
        return GateRow(
            model, prompt, metric.name, base, head, None, None, None, n_base, n_head,
            verdict="inconclusive", tier=None, note=f"no value in the {_run_name(side)}",
        )  # fmt: skip
    ratio = _ratio(base, head)
    verdict, tier = decide(
        base=base, head=head, ratio=ratio, ci_low=ratio, ci_high=ratio, better=metric.better, rule=rule
    )
    return GateRow(
        model, prompt, metric.name, base, head, ratio, None, None, n_base, n_head,
        verdict=verdict, tier=tier, note=note,
    )  # fmt: skip


def _quality_row(
    metric: GateMetric, rule: MetricRule, base_cell: CellRecord, head_cell: CellRecord
) -> GateRow | None:
    base, head = quality_value(base_cell, metric), quality_value(head_cell, metric)
    # Quality is scored only on some runs: compare it only when both runs have it.
    if base is None or head is None:
        return None
    return _single_value_row(
        metric, rule, base_cell["model"], base_cell["prompt"], base, head, "no CI (1 score)"
    )


def _mean_row(metric: GateMetric, rule: MetricRule, slug: str, rows: list[GateRow]) -> GateRow | None:
    paired = [(row.base, row.head) for row in rows if row.base is not None and row.head is not None]
    if not paired:
        return None
    base = sum(b for b, _ in paired) / len(paired)
    head = sum(h for _, h in paired) / len(paired)
    row = _single_value_row(
        metric, rule, slug, None, base, head, f"mean over {plural(len(paired), 'prompt')}, no CI"
    )
    assert row is not None
    return row


def _point_ratio(base: float | None, head: float | None) -> float | None:
    """The ratio shown for an inconclusive row (no CI): only when both sides have a positive value."""
    return head / base if base is not None and head is not None and base > 0 else None


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _ratio(base: float, head: float) -> float:
    if base > 0:
        return head / base
    # A zero baseline has no ratio: any growth counts as beyond every threshold.
    return 1.0 if head == base else math.inf


def _statistic_or_none(values: list[float], metric: GateMetric) -> float | None:
    if not values or metric.statistic is None:
        return None
    return statistic_of(np.asarray(values, dtype=np.float64), metric.statistic)


def _cells_by_model(cells: Iterable[CellRecord]) -> dict[str, dict[str, CellRecord]]:
    by_model: dict[str, dict[str, CellRecord]] = {}
    for cell in cells:
        by_model.setdefault(cell["model"], {})[cell["prompt"]] = cell
    return by_model


def _union(first: Iterable[str], second: Iterable[str]) -> list[str]:
    """Keys of both, in the first's order then the second's new ones."""
    return list(dict.fromkeys([*first, *second]))


def _run_name(side: str) -> str:
    return "baseline run" if side == "base" else "head run"


def _status_reason(status: str, reason: str | None) -> str:
    return f"status {status}" + (f": {reason}" if reason else "")
