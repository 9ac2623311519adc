"""Reading the gate's metrics out of a results record, in display units.

Pure: no pytest.  Reads defensively: a missing or non-numeric value is None (or left out),
since quality scores in particular are only present on some runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pytest_foundry.gate.catalog import GateMetric
from pytest_foundry.results import CellRecord, ModelRecord


def sample_values(cell: CellRecord, metric: GateMetric) -> list[float]:
    """The metric's value of every measured request that has one (TTFT is None without content)."""
    numbers = (lookup(sample, metric.field) for sample in cell.get("samples", []))
    return [number * metric.scale for number in numbers if number is not None]


def lookup(record: Mapping[str, Any] | None, dotted: str) -> float | None:
    """A number at a dotted path of nested dicts, or None when absent or not a finite number."""
    value: Any = record
    for key in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def model_value(model: ModelRecord, metric: GateMetric) -> float | None:
    value = lookup(model, metric.field)
    return None if value is None else value * metric.scale


def quality_value(cell: CellRecord, metric: GateMetric) -> float | None:
    output = cell.get("output")
    quality = output.get("quality") if output else None
    value = lookup(quality, metric.field)
    return None if value is None else value * metric.scale
