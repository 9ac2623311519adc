"""Gate thresholds: defaults, and the ``foundry_gate`` spec that overrides them.

Pure: no pytest.  Grammar (entries separated by commas or newlines)::

    entry     := [MODEL "/"] TARGET ":" rule
    TARGET    := a metric name | "*" (every metric) | "snapshots"
    rule      := THRESHOLD ":" TIER [":floor=" VALUE]   set one tier's threshold (metrics)
               | "floor=" VALUE                         set the absolute floor only
               | "off"                                  never warn or fail (still reported)
               | TIER                                   snapshots only: tier of an output change
    THRESHOLD := ["+" | "-"] NUMBER "%"                 the sign, if any, must be the bad direction
    TIER      := "warn" | "fail"
    VALUE     := NUMBER [UNIT]                          in the metric's unit unless UNIT says

Resolution for a model and metric, later steps winning field by field: the defaults,
``*``, the metric, ``MODEL/*``, ``MODEL/metric``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from pytest_foundry.errors import ConfigError, one_line
from pytest_foundry.gate.catalog import GATE_METRICS, METRICS_BY_NAME, GateMetric, floor_unit_factor

Tier = Literal["warn", "fail"]
TIERS: tuple[Tier, ...] = ("warn", "fail")
ALL_METRICS = "*"
SNAPSHOTS = "snapshots"
# Target for the per-prompt rows' highest tier.  Each prompt is its own comparison, so
# with several prompts x metrics one of them crosses a threshold by chance far more
# often than the model's pooled row does: by default per-prompt rows warn and the
# per-model rows decide ("prompts:fail" lets per-prompt rows fail too).
PROMPT_ROWS = "prompts"
DEFAULT_PROMPT_ROWS_TIER: Tier = "warn"
DEFAULT_SNAPSHOT_TIER: Tier | None = "warn"

DEFAULT_CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 20240917
# Fewer samples than this on either side: no bootstrap, the verdict is "inconclusive".
# Below 5, resamples cannot reach past the few values measured and noise passes for change.
DEFAULT_MIN_SAMPLES = 5

# Between runs measured at different times (not in lockstep), every wall-clock difference
# holds the machine's drift too, which no bootstrap of one run's samples can see: there,
# by default, wall-clock figures only warn and CPU time per token fails at this threshold.
# CPU time drifts too, less: ×0.889-1.103 between sequential SmolLM2 runs on the CI box,
# so +20 % (docs/gate.md: "Runs measured apart").
APART_CPU_FAIL = 0.20

_THRESHOLD = re.compile(r"^(?P<sign>[+-]?)(?P<number>\d+(?:\.\d*)?|\.\d+)%$")
_FLOOR = re.compile(r"^(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[A-Za-z]*)$")


@dataclass(frozen=True)
class MetricRule:
    """The resolved rule of one metric for one model."""

    warn: float | None  # relative threshold as a fraction, None: no warn tier
    fail: float | None
    floor: float  # absolute floor in the metric's display unit

    @property
    def gated(self) -> bool:
        return self.warn is not None or self.fail is not None

    @property
    def smallest_threshold(self) -> float:
        """The change that counts as a regression or improvement at all (0 when ungated)."""
        thresholds = [t for t in (self.warn, self.fail) if t is not None]
        return min(thresholds) if thresholds else 0.0


@dataclass(frozen=True)
class RuleOverride:
    """What one scope (global or a model) sets for one target; None = not set here."""

    warn: float | None = None
    fail: float | None = None
    floor: float | None = None
    off: bool = False
    snapshot_tier: Tier | None = None

    def apply(self, rule: MetricRule) -> MetricRule:
        if self.off:
            rule = replace(rule, warn=None, fail=None)
        if self.warn is not None:
            rule = replace(rule, warn=self.warn)
        if self.fail is not None:
            rule = replace(rule, fail=self.fail)
        if self.floor is not None:
            rule = replace(rule, floor=self.floor)
        return rule


@dataclass(frozen=True)
class GatePolicy:
    """Thresholds plus the bootstrap settings; build it with :func:`parse_gate_spec`."""

    # (model slug or None for every model, metric name / "*" / "snapshots") -> override
    overrides: dict[tuple[str | None, str], RuleOverride] = field(default_factory=dict)
    spec: str = ""
    confidence: float = DEFAULT_CONFIDENCE
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    min_samples: int = DEFAULT_MIN_SAMPLES

    def rule_for(
        self,
        metric: GateMetric,
        model: str | None = None,
        *,
        apart: bool = False,
        shared_memory: bool = False,
    ) -> MetricRule:
        """The rule of ``metric`` for ``model``; ``apart``: the runs were not measured in
        lockstep, so the defaults shift from wall-clock figures to CPU time;
        ``shared_memory``: a side's memory is a shared server's, not the model's own, so
        memory only warns by default.  A rule the spec sets explicitly applies as written."""
        rule = default_rule(metric, apart=apart, shared_memory=shared_memory)
        for key in _scopes(model, metric.name):
            override = self.overrides.get(key)
            if override is not None:
                rule = override.apply(rule)
        return rule

    def snapshot_tier(self, model: str | None = None) -> Tier | None:
        tier = DEFAULT_SNAPSHOT_TIER
        scopes: list[str | None] = [None] if model is None else [None, model]
        for scope in scopes:
            override = self.overrides.get((scope, SNAPSHOTS))
            if override is not None:
                tier = None if override.off else override.snapshot_tier
        return tier

    def prompt_rows_tier(self, model: str | None = None) -> Tier:
        """The highest tier a per-prompt row may reach."""
        tier = DEFAULT_PROMPT_ROWS_TIER
        for scope in [None] if model is None else [None, model]:
            override = self.overrides.get((scope, PROMPT_ROWS))
            if override is not None and override.snapshot_tier is not None:
                tier = override.snapshot_tier
        return tier

    def models_named(self) -> set[str]:
        """Model slugs the spec names, to warn about ones neither run has."""
        return {model for model, _ in self.overrides if model is not None}


def default_rule(metric: GateMetric, *, apart: bool = False, shared_memory: bool = False) -> MetricRule:
    # A server that served other work (the other run, earlier models) keeps its heap: its
    # peak is not this model's.  Between runs measured apart, wall clocks hold the drift.
    if (shared_memory and metric.unit_family == "memory") or (apart and metric.clock == "wall"):
        warn_only = metric.warn if metric.warn is not None else metric.fail
        return MetricRule(warn=warn_only, fail=None, floor=metric.floor)
    if apart and metric.clock == "cpu":
        return MetricRule(warn=metric.warn, fail=APART_CPU_FAIL, floor=metric.floor)
    return MetricRule(warn=metric.warn, fail=metric.fail, floor=metric.floor)


def _scopes(model: str | None, metric_name: str) -> list[tuple[str | None, str]]:
    scopes: list[tuple[str | None, str]] = [(None, ALL_METRICS), (None, metric_name)]
    if model is not None:
        scopes += [(model, ALL_METRICS), (model, metric_name)]
    return scopes


def split_entries(spec: str) -> list[str]:
    return [entry.strip() for entry in re.split(r"[,\n]", spec) if entry.strip()]


def parse_gate_spec(spec: str | Iterable[str] | None, *, option: str = "foundry_gate") -> GatePolicy:
    """Build a GatePolicy from a spec string (or ini lines); None or "" = the defaults.

    Raises ConfigError with one line naming the option, the entry and the problem.
    """
    if spec is None:
        text = ""
    elif isinstance(spec, str):
        text = spec
    else:
        text = "\n".join(spec)
    overrides: dict[tuple[str | None, str], RuleOverride] = {}
    for entry in split_entries(text):
        try:
            key, override = _parse_entry(entry)
            overrides[key] = _merge(overrides.get(key), override)
        except ValueError as error:
            raise ConfigError(one_line(f"{option} entry {entry!r}: {error}")) from None
    return GatePolicy(overrides=overrides, spec=", ".join(split_entries(text)))


def _parse_entry(entry: str) -> tuple[tuple[str | None, str], RuleOverride]:
    model: str | None = None
    entry_rest = entry
    if "/" in entry:
        # Rules hold no "/", so the model (which may hold ":") ends at the last one.
        slash = entry.rindex("/")
        model = entry[:slash].strip()
        entry_rest = entry[slash + 1 :]
        if not model:
            raise ValueError("empty model name before '/'")
    if ":" not in entry_rest:
        raise ValueError("expected TARGET:RULE, e.g. ttft_p95:+10%:fail")
    target, _, rule_text = (part.strip() for part in entry_rest.partition(":"))
    parts = [part.strip() for part in rule_text.split(":")]
    if target == SNAPSHOTS:
        return (model, target), _parse_snapshot_rule(parts)
    if target == PROMPT_ROWS:
        if parts not in (["warn"], ["fail"]):
            raise ValueError("prompts take warn or fail (the highest tier of per-prompt rows)")
        return (model, target), RuleOverride(snapshot_tier="warn" if parts == ["warn"] else "fail")
    if target != ALL_METRICS and target not in METRICS_BY_NAME:
        known = ", ".join([*METRICS_BY_NAME, ALL_METRICS, SNAPSHOTS, PROMPT_ROWS])
        raise ValueError(f"unknown metric {target!r} (known: {known})")
    metric = METRICS_BY_NAME.get(target)
    return (model, target), _parse_metric_rule(metric, parts, rule_text)


def _parse_snapshot_rule(parts: list[str]) -> RuleOverride:
    if len(parts) != 1 or parts[0] not in ("warn", "fail", "off"):
        raise ValueError("snapshots take one of warn, fail or off")
    if parts[0] == "off":
        return RuleOverride(off=True)
    tier: Tier = "warn" if parts[0] == "warn" else "fail"
    return RuleOverride(snapshot_tier=tier)


def _parse_metric_rule(metric: GateMetric | None, parts: list[str], rule_text: str) -> RuleOverride:
    if parts == ["off"]:
        return RuleOverride(off=True)
    if len(parts) == 1 and parts[0].startswith("floor="):
        return RuleOverride(floor=_parse_floor(metric, parts[0]))
    if len(parts) not in (2, 3):
        raise ValueError(
            f"cannot read rule {rule_text!r}: expected THRESHOLD:TIER[:floor=VALUE], floor=VALUE or off"
        )
    threshold = _parse_threshold(metric, parts[0])
    if parts[1] not in TIERS:
        raise ValueError(f"unknown tier {parts[1]!r} (use warn or fail)")
    floor = _parse_floor(metric, parts[2]) if len(parts) == 3 else None
    if parts[1] == "warn":
        return RuleOverride(warn=threshold, floor=floor)
    return RuleOverride(fail=threshold, floor=floor)


def _parse_threshold(metric: GateMetric | None, text: str) -> float:
    match = _THRESHOLD.match(text)
    if match is None:
        raise ValueError(f"cannot read threshold {text!r}: expected a percentage such as +10% or -5%")
    fraction = float(match["number"]) / 100.0
    sign = match["sign"]
    if metric is None:
        if sign:
            raise ValueError("'*' covers metrics that get worse in both directions: give no sign (e.g. 10%)")
    elif sign:
        bad_sign = "+" if metric.better == "lower" else "-"
        if sign != bad_sign:
            worse = "grows" if metric.better == "lower" else "shrinks"
            raise ValueError(
                f"{metric.name} gets worse when it {worse}: write {bad_sign}{match['number']}%, not {text}"
            )
    if metric is not None and metric.better == "higher" and fraction >= 1.0:
        raise ValueError(f"{metric.name} cannot drop by {text}: use less than 100%")
    return fraction


def _parse_floor(metric: GateMetric | None, text: str) -> float:
    if not text.startswith("floor="):
        raise ValueError(f"cannot read {text!r}: expected floor=VALUE")
    if metric is None:
        raise ValueError("'*' mixes units: set floor= per metric")
    value = text.removeprefix("floor=").strip()
    match = _FLOOR.match(value)
    if match is None:
        raise ValueError(f"cannot read floor {value!r}: expected a number, optionally with a unit")
    number = float(match["number"])
    unit = match["unit"]
    if not unit:
        factor: float | None = 1.0
    else:
        factor = floor_unit_factor(metric, unit)
        if factor is None:
            raise ValueError(f"unit {unit!r} does not fit {metric.name} (in {metric.unit})")
    assert factor is not None
    floor = number * factor
    if not math.isfinite(floor):
        raise ValueError(f"floor {value!r} is not a finite number")
    return floor


def _merge(earlier: RuleOverride | None, later: RuleOverride) -> RuleOverride:
    if earlier is None:
        return later
    if earlier.off or later.off:
        raise ValueError("'off' conflicts with another entry for the same target")
    clashes = [
        name
        for name in ("warn", "fail", "floor", "snapshot_tier")
        if getattr(earlier, name) is not None and getattr(later, name) is not None
    ]
    if clashes:
        raise ValueError(f"sets {clashes[0]} again for the same target")
    return RuleOverride(
        warn=later.warn if later.warn is not None else earlier.warn,
        fail=later.fail if later.fail is not None else earlier.fail,
        floor=later.floor if later.floor is not None else earlier.floor,
        snapshot_tier=later.snapshot_tier if later.snapshot_tier is not None else earlier.snapshot_tier,
    )


def default_rules_table(*, apart: bool = False) -> list[tuple[GateMetric, MetricRule]]:
    """The default rule of every metric (for docs and report footers)."""
    policy = GatePolicy()
    return [(metric, policy.rule_for(metric, apart=apart)) for metric in GATE_METRICS]
