"""An estimate of the energy cost of generating one million output tokens.

Pure: no pytest.  The estimate charges a constant power draw for the measured decode time
only (TPOT, which excludes the first token), so it ignores idle power, prefill and load::

    energy_kWh = power_W × (1,000,000 × TPOT_median_s) / 3600 / 1000
    cost       = energy_kWh × price_per_kWh

The power and price come from the run record (``RunRecord.power_watts``, ``price_per_kwh``);
the price has no currency: the cost is in whatever currency the price was given in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pytest_foundry.errors import ConfigError

TOKENS = 1_000_000
SECONDS_PER_HOUR = 3600
WH_PER_KWH = 1000


@dataclass(frozen=True)
class CostEstimate:
    """Energy and cost of generating ``TOKENS`` output tokens at the measured decode speed."""

    energy_kwh: float
    cost: float
    tpot_median_s: float
    power_watts: float
    price_per_kwh: float


def _check_non_negative(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name}: {value!r} must be a finite number >= 0")


def estimate_cost(
    tpot_median_s: float | None, power_watts: float, price_per_kwh: float
) -> CostEstimate | None:
    """Cost per 1M output tokens, or None when the decode time is unknown.

    A bad power or price (negative, NaN) raises ConfigError: it comes from user options.
    """
    _check_non_negative("power_watts", power_watts)
    _check_non_negative("price_per_kwh", price_per_kwh)
    if tpot_median_s is None or not math.isfinite(tpot_median_s) or tpot_median_s <= 0:
        return None
    energy_kwh = power_watts * (TOKENS * tpot_median_s) / SECONDS_PER_HOUR / WH_PER_KWH
    return CostEstimate(
        energy_kwh=energy_kwh,
        cost=energy_kwh * price_per_kwh,
        tpot_median_s=tpot_median_s,
        power_watts=power_watts,
        price_per_kwh=price_per_kwh,
    )


def formula_text(power_watts: float, price_per_kwh: float) -> str:
    """The formula with this run's constants, for the report's footnote."""
    return (
        f"Cost per 1M output tokens is an estimate: energy (kWh) = {power_watts:g} W × "
        f"(1,000,000 × median TPOT in s) / 3600 / 1000; cost = energy × {price_per_kwh:g} per kWh. "
        "It counts decode time only (no idle, prefill or load power)."
    )
