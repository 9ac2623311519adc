"""The energy-cost estimate per 1M output tokens."""

from __future__ import annotations

import math

import pytest

from pytest_foundry.cost import estimate_cost, formula_text
from pytest_foundry.errors import ConfigError


def test_cost_follows_the_stated_formula() -> None:
    # 15 W for 1e6 × 0.02 s = 20,000 s -> 300,000 J = 83.33 Wh = 0.08333 kWh; × 0.30 = 0.025.
    estimate = estimate_cost(0.02, power_watts=15, price_per_kwh=0.30)
    assert estimate is not None
    assert estimate.energy_kwh == pytest.approx(0.083333333, rel=1e-6)
    assert estimate.cost == pytest.approx(0.025, rel=1e-9)


def test_cost_scales_linearly_with_decode_time_and_price() -> None:
    slow = estimate_cost(0.08, 15, 0.30)
    fast = estimate_cost(0.02, 15, 0.30)
    pricier = estimate_cost(0.02, 15, 0.60)
    assert slow is not None
    assert fast is not None
    assert pricier is not None
    assert slow.cost == pytest.approx(4 * fast.cost)
    assert pricier.cost == pytest.approx(2 * fast.cost)


@pytest.mark.parametrize("tpot", [None, 0.0, -1.0, math.nan, math.inf])
def test_unknown_decode_time_gives_no_estimate_rather_than_zero(tpot: float | None) -> None:
    assert estimate_cost(tpot, 15, 0.30) is None


@pytest.mark.parametrize(("power", "price"), [(-1, 0.3), (15, -0.1), (math.nan, 0.3), (15, math.inf)])
def test_bad_power_or_price_is_a_config_error(power: float, price: float) -> None:
    with pytest.raises(ConfigError, match="must be a finite number"):
        estimate_cost(0.02, power, price)


def test_formula_text_names_the_constants_and_says_estimate() -> None:
    text = formula_text(15, 0.3)
    assert "estimate" in text
    assert "15 W" in text
    assert "0.3 per kWh" in text
    assert "/ 3600 / 1000" in text
