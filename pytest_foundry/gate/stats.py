"""Bootstrap confidence intervals of the ratio head/base of a statistic, and the verdict rule.

Pure: no pytest.  Resample each run's raw samples with replacement, take the statistic
(median or p95) of every resample, and read the CI of the ratio of the two from the
percentiles of the resampled ratios.

The plain percentile interval is too narrow for small samples (a resample never leaves the
range of the few values it has), which makes a noisy runner cry wolf.  We use Hesterberg's
*expanded* percentile interval (Hesterberg 2015, "What teachers should know about the
bootstrap", The American Statistician 69(4)): the percentiles are taken at
alpha' = 2 * Phi(-sqrt(n / (n - 1)) * t[1 - alpha/2, n - 1]), with n the smaller sample.
At n = 10 and 95 % that is the 0.85th and 99.15th percentiles; as n grows it tends to 2.5/97.5.

Every comparison draws from its own Generator seeded from the policy seed and the
comparison's key, so a verdict does not depend on which other cells were compared, and
reruns give the same verdicts.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt

from pytest_foundry.gate.policy import MetricRule, Tier
from pytest_foundry.metric_catalog import Better, Statistic

Verdict = Literal["regressed", "improved", "unchanged", "inconclusive"]
FloatArray = npt.NDArray[np.float64]

# Tolerance for comparisons at exactly the threshold or floor (1.0 - 0.9 != 0.1 in floats).
_EPSILON = 1e-9
_PERCENTILE: dict[Statistic, float] = {"median": 50.0, "p95": 95.0, "p99": 99.0}
_NORMAL = NormalDist()


@dataclass(frozen=True)
class RatioEstimate:
    base: float  # the statistic of the base samples
    head: float
    ratio: float  # head / base
    ci_low: float
    ci_high: float
    tail: float  # the percentile the CI was read at (expanded for small n)
    n_base: int
    n_head: int
    # The resampled ratios, kept to combine cells into a per-model CI.
    replicates: FloatArray


def rng_for(seed: int, *key: str) -> np.random.Generator:
    """A Generator that depends only on the seed and the comparison's key."""
    digest = zlib.crc32("\x1f".join(key).encode("utf-8"))
    return np.random.default_rng([seed, digest])


def statistic_of(values: FloatArray, statistic: Statistic) -> float:
    # Linear interpolation, as metrics.summarize does, so the values match the report's.
    return float(np.percentile(values, _PERCENTILE[statistic]))


def bootstrap_statistic(
    values: FloatArray, statistic: Statistic, resamples: int, rng: np.random.Generator
) -> FloatArray:
    """The statistic of ``resamples`` resamples of ``values`` (vectorised: one matrix).

    Sorting the rows and interpolating by hand is numpy's "linear" percentile, several times
    faster than np.percentile(axis=1) on many short rows.
    """
    n = values.size
    rows = np.sort(values[rng.integers(0, n, size=(resamples, n))], axis=1)
    position = _PERCENTILE[statistic] / 100.0 * (n - 1)
    below = int(np.floor(position))
    above = min(below + 1, n - 1)
    fraction = position - below
    return np.asarray(rows[:, below] * (1.0 - fraction) + rows[:, above] * fraction, dtype=np.float64)


@cache
def expanded_tail(confidence: float, n: int) -> float:
    """The percentile (0..100) of the lower CI bound, widened for small n (see module doc)."""
    alpha = 1.0 - confidence
    if n < 2:
        return 0.0
    widened_z = math.sqrt(n / (n - 1)) * student_t_quantile(1.0 - alpha / 2.0, n - 1)
    return (1.0 - _NORMAL.cdf(widened_z)) * 100.0


def student_t_quantile(p: float, df: int) -> float:
    """Quantile of Student's t: exact for df 1 and 2, else the Cornish-Fisher expansion
    (Abramowitz & Stegun 26.7.5), within 0.2 % of the exact value for df >= 3 at p <= 0.99.

    Saves importing scipy.stats (most of a second) for one number per comparison.
    """
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2.0 * p - 1.0) / math.sqrt(2.0 * p * (1.0 - p))
    z = _NORMAL.inv_cdf(p)
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
        + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * df**4)
    )


def bootstrap_ratio(
    base: Sequence[float] | FloatArray,
    head: Sequence[float] | FloatArray,
    statistic: Statistic,
    *,
    resamples: int,
    confidence: float,
    rng: np.random.Generator,
) -> RatioEstimate | None:
    """CI of statistic(head) / statistic(base); None when a ratio cannot be formed (base <= 0)."""
    base_values = np.asarray(base, dtype=np.float64)
    head_values = np.asarray(head, dtype=np.float64)
    base_stat = statistic_of(base_values, statistic)
    head_stat = statistic_of(head_values, statistic)
    base_boot = bootstrap_statistic(base_values, statistic, resamples, rng)
    head_boot = bootstrap_statistic(head_values, statistic, resamples, rng)
    if base_stat <= 0 or np.any(base_boot <= 0):
        return None
    replicates = head_boot / base_boot
    n_base, n_head = int(base_values.size), int(head_values.size)
    tail = expanded_tail(confidence, min(n_base, n_head))
    low, high = ci_bounds(replicates, tail)
    return RatioEstimate(
        base_stat, head_stat, head_stat / base_stat, low, high, tail, n_base, n_head, replicates
    )


def bootstrap_rate_ratio(
    base: tuple[float, Sequence[float], Sequence[float]],
    head: tuple[float, Sequence[float], Sequence[float]],
    *,
    resamples: int,
    confidence: float,
    rng: np.random.Generator,
) -> RatioEstimate | None:
    """CI of the ratio head/base of two *rates*, each given as (rate, amounts, durations):
    the rate is scale × Σ amounts / Σ durations, and a replicate resamples the pairs of
    amount and duration, with the scale held at its measured value.

    A concurrency level's system tok/s is Σ tokens / wall span = (mean in flight) ×
    Σ tokens / Σ request times: the requests' spread gives the CI, the rate itself is the
    one reported.  None when a ratio cannot be formed (a zero rate or duration)."""

    def replicates(rate: float, amounts: Sequence[float], durations: Sequence[float]) -> FloatArray | None:
        tokens = np.asarray(amounts, dtype=np.float64)
        seconds = np.asarray(durations, dtype=np.float64)
        if rate <= 0 or tokens.size == 0 or seconds.sum() <= 0:
            return None
        scale = rate / (tokens.sum() / seconds.sum())
        rows = rng.integers(0, tokens.size, size=(resamples, tokens.size))
        return np.asarray(scale * tokens[rows].sum(axis=1) / seconds[rows].sum(axis=1), dtype=np.float64)

    base_boot = replicates(*base)
    head_boot = replicates(*head)
    if base_boot is None or head_boot is None or np.any(base_boot <= 0):
        return None
    n_base, n_head = len(base[1]), len(head[1])
    tail = expanded_tail(confidence, min(n_base, n_head))
    ratios = head_boot / base_boot
    low, high = ci_bounds(ratios, tail)
    return RatioEstimate(base[0], head[0], head[0] / base[0], low, high, tail, n_base, n_head, ratios)


def ci_bounds(replicates: FloatArray, tail: float) -> tuple[float, float]:
    """The (tail, 100 - tail) percentiles of the replicates."""
    low, high = np.percentile(replicates, [tail, 100.0 - tail])
    return float(low), float(high)


def geometric_mean_ratio(estimates: Sequence[RatioEstimate]) -> tuple[float, float, float, float, float]:
    """Combine cells: geometric means of base, head and ratio, and the CI of the latter.

    Every prompt weighs the same whatever its length or sample count, and the CI comes from
    the cells' own resampled ratios (a stratified bootstrap: the prompt set is fixed, each
    prompt is a stratum), so it narrows as prompts agree.  It is read at the widest tail of
    the cells (the one with the fewest samples).  Drift of the runner between two runs is
    not in any run's samples: measure both runs in lockstep to cancel it (docs/gate.md).
    Returns (base, head, ratio, ci_low, ci_high).
    """
    base = math.exp(sum(math.log(e.base) for e in estimates) / len(estimates))
    head_values = [e.head for e in estimates]
    head = math.exp(sum(math.log(v) for v in head_values) / len(estimates)) if min(head_values) > 0 else 0.0
    log_replicates = np.mean(np.log(np.stack([e.replicates for e in estimates])), axis=0)
    low, high = ci_bounds(np.exp(log_replicates), min(e.tail for e in estimates))
    return base, head, head / base, low, high


def decide(
    *,
    base: float,
    head: float,
    ratio: float,
    ci_low: float,
    ci_high: float,
    better: Better,
    rule: MetricRule,
    max_tier: Tier = "fail",
) -> tuple[Verdict, Tier | None]:
    """The verdict and tier of one comparison.

    A change *reaches* a threshold t the bad way when both hold:
      * the measured ratio is at or beyond it (1 + t for lower-is-better, 1 - t for
        higher-is-better);
      * the whole CI lies beyond half of it (1 + t/2, or 1 - t/2), so noise alone cannot
        carry a change over the line; at t = 0 the CI must exclude 1.
    Regressed: the head moved the bad way by at least the floor and the change reaches the
    smallest threshold; its tier is the highest one reached, capped at ``max_tier``.
    Improved: the same, the good way.  Otherwise unchanged.  Single values pass
    ci_low = ci_high = ratio.
    """
    delta = head - base
    if abs(delta) + _EPSILON < rule.floor or delta == 0:
        return "unchanged", None
    lower = better == "lower"

    def reaches(threshold: float, bad: bool) -> bool:
        upward = lower == bad  # the ratio grows when lower-is-better gets worse
        if upward:
            margin = ci_low > 1.0 if threshold == 0 else ci_low >= 1.0 + threshold / 2 - _EPSILON
            return ratio >= 1.0 + threshold - _EPSILON and margin
        margin = ci_high < 1.0 if threshold == 0 else ci_high <= 1.0 - threshold / 2 + _EPSILON
        return ratio <= 1.0 - threshold + _EPSILON and margin

    worse_by = delta if lower else -delta
    smallest = rule.smallest_threshold
    if worse_by > 0 and reaches(smallest, bad=True):
        if rule.fail is not None and reaches(rule.fail, bad=True):
            return "regressed", max_tier
        if rule.warn is not None and reaches(rule.warn, bad=True):
            return "regressed", "warn"
        return "regressed", None
    if worse_by < 0 and reaches(smallest, bad=False):
        return "improved", None
    return "unchanged", None
