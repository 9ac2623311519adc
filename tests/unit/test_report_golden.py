"""report.md and results.csv of the fixture run, compared byte for byte with golden files.

After an intended change, regenerate them and review the diff:

    FOUNDRY_UPDATE_GOLDEN=1 python -m pytest tests/unit/test_report_golden.py
"""

from __future__ import annotations

import copy
import csv
import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_foundry.report.csv_table import render_csv
from pytest_foundry.report.markdown import render_markdown
from pytest_foundry.report.selection import DETAIL_COLUMNS
from pytest_foundry.results import Results
from pytest_foundry.results_file import load_results

HERE = Path(__file__).parent
FIXTURE = HERE / "data" / "results.json"
GOLDEN = HERE / "golden"
UPDATE = os.environ.get("FOUNDRY_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize(
    ("name", "render"), [("report.md", render_markdown), ("results.csv", render_csv)], ids=["md", "csv"]
)
def test_matches_golden_file(name: str, render: Callable[[Results], str]) -> None:
    actual = render(load_results(FIXTURE))
    golden = GOLDEN / name
    if UPDATE:
        golden.write_text(actual, encoding="utf-8", newline="\n")
    expected = golden.read_text(encoding="utf-8")
    assert actual == expected, (
        f"{name} differs from {golden}; if the change is intended, regenerate with "
        "FOUNDRY_UPDATE_GOLDEN=1 python -m pytest tests/unit/test_report_golden.py"
    )


def test_csv_has_one_row_per_cell_and_the_detail_columns() -> None:
    rows = list(csv.reader(io.StringIO(render_csv(load_results(FIXTURE)))))
    assert rows[0] == [column.csv_header for column in DETAIL_COLUMNS]
    assert len(rows) == 1 + 12
    assert all(len(row) == len(DETAIL_COLUMNS) for row in rows)
    # No markers in machine-readable output.
    assert not any(marker in field for row in rows for field in row for marker in "★†‡")


def test_markdown_sections_and_marks() -> None:
    text = render_markdown(load_results(FIXTURE))
    selection = text.index("## Model selection")
    detail = text.index("## Per prompt")
    assert selection < detail < text.index("## Models")
    assert "| qwen2.5-0.5b | ok · 3/4 prompts | 15 | **1.32 s** ★ | **1.47 s†** ★ |" in text
    assert "Cost per 1M output tokens is an estimate" in text


def test_markdown_cells_cannot_break_the_table() -> None:
    results = copy.deepcopy(load_results(FIXTURE))
    results["models"][2]["reason"] = "bad | pipe\nand *stars* <b>html</b>"
    text = render_markdown(results)
    line = next(line for line in text.splitlines() if line.startswith("| broken | load-failed"))
    assert "bad \\| pipe and \\*stars\\* \\<b\\>html\\</b\\>" in line
    header = next(line for line in text.splitlines() if line.startswith("| Model | Status"))
    # Same number of unescaped cell separators as the header.
    assert line.replace("\\|", "").count("|") == header.count("|")
