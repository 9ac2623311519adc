"""gate.md, the terminal verdict and the github-action-benchmark files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gate_factory import output, synthetic_run

from pytest_foundry.gate.compare import GateReport, compare_results
from pytest_foundry.gate.github_benchmark import (
    BIGGER_FILE,
    SMALLER_FILE,
    benchmark_entries,
    write_benchmark_json,
)
from pytest_foundry.gate.policy import parse_gate_spec
from pytest_foundry.gate.render import render_markdown, terminal_lines


@pytest.fixture(scope="module")
def regressed() -> GateReport:
    base, head = synthetic_run(1), synthetic_run(2, slowdown=1.2)
    base["cells"][1]["output"] = output("line one\nline ``` two")
    head["cells"][1]["output"] = output("line one\nline ``` 2")
    head["cells"][0]["prompt"] = "a|b"  # a pipe must not break the table
    base["cells"][0]["prompt"] = "a|b"
    return compare_results(base, head, parse_gate_spec("prompts:fail"))


@pytest.fixture(scope="module")
def unchanged() -> GateReport:
    return compare_results(synthetic_run(1), synthetic_run(2))


def test_markdown_headline_and_tables(regressed: GateReport) -> None:
    text = render_markdown(regressed)

    assert text.startswith("## pytest-foundry gate: FAIL\n")
    assert "Head `0123456789` compared with baseline `0123456789`" in text
    assert "### Regressions and improvements" in text
    assert (
        "| verdict | model | prompt | metric | base | head | change | ratio [95% CI] | n base/head | note |"
        in text
    )
    ttft = next(line for line in text.splitlines() if "| tiny | story | TTFT p50 |" in line)
    # Seeded: TTFT is 20.8 % slower with a CI of [1.160, 1.240], past the 10 % fail threshold.
    assert ttft.startswith("| **FAIL** |")
    assert "+10.4 ms (+20.8%)" in ttft
    decode = next(line for line in text.splitlines() if "| tiny | story | decode tok/s |" in line)
    assert decode.startswith("| **FAIL** |")
    assert "-8.40 tok/s (-16.8%)" in decode
    assert "| 10/10 |" in decode
    assert "| a\\|b |" in text
    assert "<details><summary>All " in text


def test_markdown_diff_block_is_collapsible_and_fenced_safely(regressed: GateReport) -> None:
    text = render_markdown(regressed)
    assert "<details><summary>tiny × story (warn): output differs from the baseline</summary>" in text
    # The output holds ``` itself, so the fence is longer.
    assert "````diff\n--- baseline/tiny/story\n+++ head/tiny/story\n" in text
    assert "-line ``` two\n+line ``` 2\n````" in text


def test_markdown_of_a_clean_run(unchanged: GateReport) -> None:
    text = render_markdown(unchanged)
    assert text.startswith("## pytest-foundry gate: pass\n")
    assert "### Regressions and improvements" not in text
    assert "### Changed outputs" not in text
    assert "Gate: the defaults." in text


def test_terminal_lines(regressed: GateReport) -> None:
    lines = terminal_lines(regressed)

    counts = regressed.counts()
    assert lines[0].startswith("foundry gate vs baseline 0123456789: FAIL - ")
    assert f"{counts['regressed']} regressed (" in lines[0]
    assert f"{counts['unchanged']} unchanged" in lines[0]
    assert "1 output changed" in lines[0]
    fail_lines = [line for line in lines if line.startswith("  FAIL ")]
    assert fail_lines
    assert all("ratio " in line and "[" in line for line in fail_lines)
    assert "  output changed (warn): tiny × story: output differs from the baseline" in lines
    # FAIL rows first.
    assert lines[1].startswith("  FAIL ")


def test_terminal_line_of_a_clean_run(unchanged: GateReport) -> None:
    assert terminal_lines(unchanged)[0].startswith("foundry gate vs baseline 0123456789: pass - 0 regressed")


def test_benchmark_entries_by_direction(regressed: GateReport) -> None:
    head = synthetic_run(2, slowdown=1.2)

    smaller, bigger = benchmark_entries(head, regressed)

    by_name = {entry["name"]: entry for entry in smaller}
    ttft = by_name["tiny / story / TTFT p50"]
    assert ttft["unit"] == "ms"
    assert ttft["value"] == pytest.approx(60.0, rel=0.05)
    assert ttft["range"].startswith("±")
    assert ttft["extra"].startswith("n=10; vs baseline: ")
    assert by_name["tiny / all prompts / load time"] == {
        "name": "tiny / all prompts / load time",
        "unit": "s",
        "value": 2.0,
        "extra": "1 sample; vs baseline: unchanged, ratio 1.000",
    }
    assert by_name["tiny / all prompts / peak memory"]["unit"] == "MiB"
    assert {entry["unit"] for entry in bigger} == {"tok/s"}
    assert "tiny / all prompts / decode tok/s" in {entry["name"] for entry in bigger}
    assert not any("decode" in name for name in by_name)


def test_benchmark_files_are_written(tmp_path: Path) -> None:
    smaller_path, bigger_path = write_benchmark_json(synthetic_run(1), tmp_path / "bench")

    assert (smaller_path.name, bigger_path.name) == (SMALLER_FILE, BIGGER_FILE)
    smaller = json.loads(smaller_path.read_text())
    bigger = json.loads(bigger_path.read_text())
    assert smaller
    assert bigger
    for entry in smaller + bigger:
        assert set(entry) <= {"name", "unit", "value", "range", "extra"}
        assert isinstance(entry["value"], float)
