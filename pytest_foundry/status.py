"""The statuses a model and a model x prompt cell can end in, in one place.

Pure: no pytest.  results.json, the schema, the report, the gate and the terminal table
all read these names from here.
"""

from __future__ import annotations

from typing import Literal, get_args

# A model: resolved and loaded, or why not.  "error": it loaded, then failed (its host
# died, or it stopped answering), so its remaining cells failed at once.
ModelStatus = Literal["ok", "load-failed", "error", "skipped"]
# A model x prompt cell.  "truncated" = ok, but the output reached max_tokens.
CellStatus = Literal["ok", "truncated", "skipped", "load-failed", "timeout", "error"]

MODEL_STATUSES: tuple[str, ...] = get_args(ModelStatus)
CELL_STATUSES: tuple[str, ...] = get_args(CellStatus)
# Cells with these statuses were measured; "truncated" hit max_tokens but is timed.
MEASURED_STATUSES: tuple[str, ...] = ("ok", "truncated")


def is_measured(status: str) -> bool:
    return status in MEASURED_STATUSES


def with_reason(status: str, reason: str | None) -> str:
    """``status`` alone when it is a measured one, ``status (reason)`` otherwise."""
    return status if is_measured(status) or not reason else f"{status} ({reason})"
