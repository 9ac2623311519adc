"""Which model x prompt outputs changed between two runs, with a unified diff of the texts.

Pure: no pytest.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_foundry.gate.policy import Tier
from pytest_foundry.results import CellRecord
from pytest_foundry.text_diff import unified_diff

# Diffs longer than this are cut, so one rewritten essay cannot blow up a PR comment.
MAX_DIFF_LINES = 200


@dataclass(frozen=True)
class SnapshotChange:
    model: str
    prompt: str
    reason: str
    diff: str  # unified diff, "" when the texts are not available
    tier: Tier | None


def output_change(base_cell: CellRecord, head_cell: CellRecord, tier: Tier | None) -> SnapshotChange | None:
    """The change of one cell's output, or None when it did not change."""
    base_output, head_output = base_cell.get("output"), head_cell.get("output")
    if base_output is None or head_output is None:
        return None
    model, prompt = head_cell["model"], head_cell["prompt"]
    if base_output.get("sha256") != head_output.get("sha256"):
        diff = _bounded_diff(base_output.get("text", ""), head_output.get("text", ""), model, prompt)
        return SnapshotChange(model, prompt, "output differs from the baseline", diff, tier)
    if head_output.get("snapshot") == "changed":
        diff = head_output.get("snapshot_diff") or ""
        return SnapshotChange(model, prompt, "output differs from its stored snapshot", diff, tier)
    return None


def _bounded_diff(before: str, after: str, model: str, prompt: str) -> str:
    lines = unified_diff(before, after, f"baseline/{model}/{prompt}", f"head/{model}/{prompt}").splitlines()
    if len(lines) > MAX_DIFF_LINES:
        cut = len(lines) - MAX_DIFF_LINES
        lines = [*lines[:MAX_DIFF_LINES], f"... ({cut} more diff lines)"]
    return "\n".join(lines)
