"""The gate's statistics on synthetic samples: regressions, noise, small n, floors."""

from __future__ import annotations

import numpy as np
import pytest
from gate_factory import noisy_requests, synthetic_run

from pytest_foundry.gate.catalog import METRICS_BY_NAME
from pytest_foundry.gate.compare import GateReport, GateRow, compare_results
from pytest_foundry.gate.policy import GatePolicy, MetricRule, parse_gate_spec
from pytest_foundry.gate.stats import bootstrap_ratio, decide, expanded_tail, rng_for, student_t_quantile

RULE = MetricRule(warn=0.05, fail=0.10, floor=1.0)


def row(report: GateReport, metric: str, prompt: str | None = "hello", model: str = "tiny") -> GateRow:
    matches = [r for r in report.rows if (r.model, r.prompt, r.metric) == (model, prompt, metric)]
    assert len(matches) == 1, f"no single row for {model} {prompt} {metric}"
    return matches[0]


# These tests judge the statistics of single prompts, so per-prompt rows may fail here;
# by default they only warn (see test_per_prompt_rows_warn_and_the_model_row_decides).
PROMPTS_FAIL = parse_gate_spec("prompts:fail")


def test_clear_regression_fails() -> None:
    report = compare_results(
        synthetic_run(1, noise=0.02), synthetic_run(2, noise=0.02, slowdown=1.2), PROMPTS_FAIL
    )

    ttft = row(report, "ttft_p50")
    assert (ttft.verdict, ttft.tier) == ("regressed", "fail")
    assert ttft.ci_low is not None
    assert ttft.ci_high is not None
    assert 1.1 < ttft.ci_low <= ttft.ratio <= ttft.ci_high < 1.3  # type: ignore[operator]
    assert (ttft.n_base, ttft.n_head) == (10, 10)
    assert row(report, "ttft_p50", prompt=None).verdict == "regressed"  # the model-level row
    assert report.failed
    assert report.exit_code == 1


def test_clear_improvement_is_not_a_failure() -> None:
    report = compare_results(synthetic_run(1, noise=0.02), synthetic_run(2, noise=0.02, slowdown=0.8))

    assert row(report, "ttft_p50").verdict == "improved"
    assert row(report, "decode_tps").verdict == "improved"
    assert row(report, "ttft_p50").tier is None
    assert not report.failed
    assert report.exit_code == 0


def test_throughput_falling_is_a_regression() -> None:
    """decode tok/s is higher-is-better: a slower head lowers it, and that is the bad way."""
    report = compare_results(synthetic_run(1), synthetic_run(2, slowdown=1.25), PROMPTS_FAIL)

    decode = row(report, "decode_tps")
    assert decode.ratio is not None
    assert decode.ratio < 0.85
    assert (decode.verdict, decode.tier) == ("regressed", "fail")


@pytest.mark.parametrize("noise", [0.05, 0.10])
def test_noise_alone_almost_never_fails(noise: float) -> None:
    """200 A/A pairs (same distribution on both sides) of the median and the p95, each
    alone (the model row averages several prompts and is steadier): at most 1 false fail
    and 1 % false warnings."""
    false_alarms = {"warn": 0, "fail": 0}
    for seed in range(200):
        rng = np.random.default_rng(seed)
        base = 50.0 * rng.lognormal(0.0, noise, 10)
        head = 50.0 * rng.lognormal(0.0, noise, 10)
        for statistic in ("median", "p95"):
            estimate = bootstrap_ratio(
                base, head, statistic, resamples=2000, confidence=0.95, rng=rng_for(7, str(seed), statistic)
            )
            assert estimate is not None
            verdict, tier = decide(
                base=estimate.base,
                head=estimate.head,
                ratio=estimate.ratio,
                ci_low=estimate.ci_low,
                ci_high=estimate.ci_high,
                better="lower",
                rule=RULE,
            )
            if verdict == "regressed":
                assert tier is not None
                false_alarms[tier] += 1
    assert false_alarms["fail"] <= 1
    assert false_alarms["warn"] <= 4


def test_a_15_percent_slowdown_fails_the_default_gate() -> None:
    """The model row of 6 prompts x 20 rounds with 5 % noise catches +15 % every time."""
    prompts = tuple(f"p{index}" for index in range(6))
    caught = {"tpot_median": 0, "e2e_p50": 0, "e2e_p95": 0}
    for seed in range(20):
        report = compare_results(
            synthetic_run(seed, n=20, noise=0.05, prompts=prompts),
            synthetic_run(seed + 100, n=20, noise=0.05, slowdown=1.15, prompts=prompts),
        )
        for metric in caught:
            model_row = row(report, metric, prompt=None)
            caught[metric] += (model_row.verdict, model_row.tier) == ("regressed", "fail")
    assert caught == {"tpot_median": 20, "e2e_p50": 20, "e2e_p95": 20}


def test_noisy_runs_of_the_same_model_pass_the_gate() -> None:
    reports = [
        compare_results(synthetic_run(seed, noise=0.10), synthetic_run(seed + 1000, noise=0.10))
        for seed in range(30)
    ]
    assert not any(report.failed for report in reports)


def test_the_ci_is_widened_for_small_samples() -> None:
    """Hesterberg's expanded percentile interval: 0.85th/99.15th percentiles at n=10, 2.5/97.5 as n grows."""
    assert expanded_tail(0.95, 10) == pytest.approx(0.85, abs=0.05)
    assert expanded_tail(0.95, 5) < expanded_tail(0.95, 10) < expanded_tail(0.95, 1000) < 2.5
    assert expanded_tail(0.95, 1000) == pytest.approx(2.5, abs=0.05)


@pytest.mark.parametrize(
    ("p", "df", "expected"),
    [(0.975, 1, 12.7062), (0.975, 2, 4.3027), (0.975, 4, 2.7764), (0.975, 9, 2.2622), (0.95, 29, 1.6991)],
)
def test_student_t_quantile(p: float, df: int, expected: float) -> None:
    assert student_t_quantile(p, df) == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("n_head", [1, 2, 4])
def test_too_few_samples_are_inconclusive(n_head: int) -> None:
    base = synthetic_run(1, n=10)
    head = synthetic_run(2, n=n_head, slowdown=2.0)

    report = compare_results(base, head)

    ttft = row(report, "ttft_p50")
    assert ttft.verdict == "inconclusive"
    assert ttft.tier is None
    assert ttft.n_head == n_head
    assert ttft.note is not None
    assert "too few samples" in ttft.note
    assert ttft.ratio == pytest.approx(2.0, rel=0.2)  # the point ratio is still shown
    assert row(report, "ttft_p50", prompt=None).verdict == "inconclusive"
    assert not report.failed


def test_the_absolute_floor_keeps_tiny_changes_from_failing() -> None:
    """2.0 ms -> 2.2 ms is +10 % beyond doubt, but 0.2 ms is under the 1 ms floor."""
    rng = np.random.default_rng(3)
    base = synthetic_run(1)
    head = synthetic_run(2)
    for run, ttft in ((base, 0.0020), (head, 0.0022)):
        for cell in run["cells"]:
            cell["samples"] = noisy_requests(rng, 10, ttft_s=ttft, noise=0.005)

    report = compare_results(base, head)
    ttft_row = row(report, "ttft_p50")
    assert ttft_row.ci_low is not None
    assert ttft_row.ci_low > 1.05
    assert ttft_row.verdict == "unchanged"

    # The same data with the floor lowered: now the change counts.
    lowered = compare_results(base, head, parse_gate_spec("ttft_p50:+8%:fail:floor=0.1ms, prompts:fail"))
    assert (row(lowered, "ttft_p50").verdict, row(lowered, "ttft_p50").tier) == ("regressed", "fail")


def test_p95_from_fewer_than_20_samples_warns_but_never_fails() -> None:
    few = compare_results(synthetic_run(1, n=10), synthetic_run(2, n=10, slowdown=1.3), PROMPTS_FAIL)
    many = compare_results(synthetic_run(1, n=20), synthetic_run(2, n=20, slowdown=1.3), PROMPTS_FAIL)

    assert (row(few, "ttft_p95").verdict, row(few, "ttft_p95").tier) == ("regressed", "warn")
    assert "never fails" in (row(few, "ttft_p95").note or "")
    assert (row(many, "ttft_p95").verdict, row(many, "ttft_p95").tier) == ("regressed", "fail")


def test_model_row_is_the_geometric_mean_of_the_prompts() -> None:
    report = compare_results(
        synthetic_run(1, prompts=("a", "b", "c")), synthetic_run(2, prompts=("a", "b", "c"))
    )

    cells = [row(report, "tpot_median", prompt) for prompt in ("a", "b", "c")]
    model = row(report, "tpot_median", prompt=None)
    ratios = [c.ratio for c in cells if c.ratio is not None]
    assert model.ratio == pytest.approx(float(np.prod(ratios)) ** (1 / 3))
    assert model.n_base == 30
    assert model.note == "geometric mean over 3 prompts"


def test_prompts_that_agree_narrow_the_model_ci() -> None:
    """The model row pools the prompts' evidence: its CI is narrower than any prompt's."""
    prompts = ("a", "b", "c", "d")
    report = compare_results(
        synthetic_run(1, n=20, prompts=prompts), synthetic_run(2, n=20, slowdown=1.15, prompts=prompts)
    )

    def width(row: GateRow) -> float:
        assert row.ci_low is not None
        assert row.ci_high is not None
        return row.ci_high - row.ci_low

    model = row(report, "tpot_median", prompt=None)
    assert (model.verdict, model.tier) == ("regressed", "fail")
    assert width(model) < min(width(row(report, "tpot_median", p)) for p in prompts)


def test_verdicts_are_reproducible() -> None:
    base, head = synthetic_run(1, noise=0.1), synthetic_run(2, noise=0.1, slowdown=1.1)
    first = compare_results(base, head)
    second = compare_results(base, head)
    assert first.rows == second.rows


def test_a_change_within_the_noise_is_unchanged() -> None:
    report = compare_results(synthetic_run(1, noise=0.10), synthetic_run(2, noise=0.10, slowdown=1.04))
    assert row(report, "ttft_p50").verdict == "unchanged"


class TestDecide:
    """The verdict rule on single values (ci_low = ci_high = ratio)."""

    @pytest.mark.parametrize(
        ("base", "head", "better", "expected"),
        [
            (100.0, 111.0, "lower", ("regressed", "fail")),
            (100.0, 106.0, "lower", ("regressed", "warn")),
            (100.0, 104.0, "lower", ("unchanged", None)),
            (100.0, 89.0, "lower", ("improved", None)),
            (100.0, 89.0, "higher", ("regressed", "fail")),
            (100.0, 111.0, "higher", ("improved", None)),
            (100.0, 100.0, "lower", ("unchanged", None)),
        ],
    )
    def test_thresholds(
        self, base: float, head: float, better: str, expected: tuple[str, str | None]
    ) -> None:
        ratio = head / base
        verdict = decide(
            base=base,
            head=head,
            ratio=ratio,
            ci_low=ratio,
            ci_high=ratio,
            better=better,
            rule=RULE,  # type: ignore[arg-type]
        )
        assert verdict == expected

    def test_exactly_at_the_threshold_and_floor_counts(self) -> None:
        """A pass rate falling from 1.0 to 0.9 is -10 % and 0.1 points, despite float rounding."""
        rule = MetricRule(warn=None, fail=0.10, floor=0.1)
        assert decide(base=1.0, head=0.9, ratio=0.9, ci_low=0.9, ci_high=0.9, better="higher", rule=rule) == (
            "regressed",
            "fail",
        )

    @pytest.mark.parametrize(
        ("ratio", "ci_low", "ci_high", "expected"),
        [
            # +20 % measured, but the CI reaches back to no change, or to +2 %: maybe noise.
            pytest.param(1.2, 0.98, 1.4, ("unchanged", None), id="ci-reaches-no-change"),
            pytest.param(1.2, 1.02, 1.4, ("unchanged", None), id="ci-below-half-of-warn"),
            # The CI clears +2.5 % (half the warn threshold) only: warn; +5 % (half of fail): fail.
            pytest.param(1.2, 1.03, 1.4, ("regressed", "warn"), id="ci-clears-half-of-warn"),
            pytest.param(1.2, 1.05, 1.4, ("regressed", "fail"), id="ci-clears-half-of-fail"),
            # A 15 % slowdown fails at +10 % even when its CI dips below 1.10.
            pytest.param(1.15, 1.07, 1.22, ("regressed", "fail"), id="tier-follows-the-ratio"),
            pytest.param(1.07, 1.03, 1.12, ("regressed", "warn"), id="between-warn-and-fail"),
            # Certainly slower, but by less than the threshold.
            pytest.param(1.04, 1.02, 1.06, ("unchanged", None), id="significant-but-small"),
            # Improvements need the same certainty.
            pytest.param(0.8, 0.7, 1.01, ("unchanged", None), id="improvement-not-certain"),
            pytest.param(0.8, 0.7, 0.95, ("improved", None), id="improvement"),
        ],
    )
    def test_the_ratio_reaches_the_threshold_and_the_ci_half_of_it(
        self, ratio: float, ci_low: float, ci_high: float, expected: tuple[str, str | None]
    ) -> None:
        verdict = decide(
            base=100, head=100 * ratio, ratio=ratio, ci_low=ci_low, ci_high=ci_high, better="lower", rule=RULE
        )
        assert verdict == expected

    def test_an_ungated_metric_still_reports_a_clear_change(self) -> None:
        off = MetricRule(warn=None, fail=None, floor=1.0)
        assert decide(base=100, head=150, ratio=1.5, ci_low=1.4, ci_high=1.6, better="lower", rule=off) == (
            "regressed",
            None,
        )
        assert decide(
            base=100, head=101, ratio=1.01, ci_low=0.95, ci_high=1.05, better="lower", rule=off
        ) == (
            "unchanged",
            None,
        )

    def test_the_cap_limits_the_tier(self) -> None:
        assert decide(
            base=100, head=150, ratio=1.5, ci_low=1.4, ci_high=1.6, better="lower", rule=RULE, max_tier="warn"
        ) == (
            "regressed",
            "warn",
        )


def test_every_metric_has_a_direction_and_floor() -> None:
    for metric in METRICS_BY_NAME.values():
        assert metric.better in ("lower", "higher")
        assert metric.floor > 0
        rule = GatePolicy().rule_for(metric)
        assert rule.gated


def test_per_prompt_rows_warn_and_the_model_row_decides() -> None:
    report = compare_results(synthetic_run(1, noise=0.02), synthetic_run(2, noise=0.02, slowdown=1.2))

    cell = row(report, "ttft_p50")
    assert (cell.verdict, cell.tier) == ("regressed", "warn")
    assert "model row decides" in (cell.note or "")
    model = row(report, "ttft_p50", prompt=None)
    assert (model.verdict, model.tier) == ("regressed", "fail")
    assert report.failed
