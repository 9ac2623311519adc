"""``pytest-foundry compare BASE HEAD``: exit codes, outputs and one-line errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
from gate_factory import synthetic_run

from pytest_foundry.gate.baselines import save_baseline
from pytest_foundry.gate.compare_command import add_parser


def write(path: Path, results: dict[str, Any]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results))
    return str(path)


def main(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="pytest-foundry")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, str]:
    other_cpu = synthetic_run(3)
    other_cpu["fingerprint"]["cpu"] = "Other CPU"
    return {
        "base": write(tmp_path / "base" / "results.json", synthetic_run(1)),
        "same": write(tmp_path / "same" / "results.json", synthetic_run(2)),
        "slower": write(tmp_path / "slower" / "results.json", synthetic_run(2, slowdown=1.3)),
        "other_cpu": write(tmp_path / "other" / "results.json", other_cpu),
    }


def test_pass_is_0(runs: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main("compare", runs["base"], runs["same"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("foundry gate vs baseline 0123456789: pass - 0 regressed")


def test_a_failing_gate_is_1(runs: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main("compare", runs["base"], runs["slower"]) == 1
    out = capsys.readouterr().out
    assert ": FAIL - " in out.splitlines()[0]
    assert "  FAIL " in out


def test_the_gate_option_changes_the_verdict(runs: dict[str, str]) -> None:
    assert main("compare", runs["base"], runs["slower"], "--gate", "*:off") == 0


def test_outputs_are_written(runs: dict[str, str], tmp_path: Path) -> None:
    markdown = tmp_path / "out" / "gate.md"
    bench = tmp_path / "bench"
    code = main(
        "compare", runs["base"], runs["slower"], "--markdown", str(markdown), "--benchmark-json", str(bench)
    )
    assert code == 1
    assert markdown.read_text().startswith("## pytest-foundry gate: FAIL")
    assert json.loads((bench / "customSmallerIsBetter.json").read_text())
    assert json.loads((bench / "customBiggerIsBetter.json").read_text())


def test_a_saved_name_resolves(runs: dict[str, str], tmp_path: Path) -> None:
    save_baseline(synthetic_run(1), "main", tmp_path / "baselines")
    assert main("compare", "main", runs["same"], "--baseline-dir", str(tmp_path / "baselines")) == 0


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (("{base}", "{missing}"), "no such file or folder"),
        (("{base}", "{same}", "--gate", "ttft_p95:-10%:fail"), "--gate entry 'ttft_p95:-10%:fail'"),
        (("{base}", "{other_cpu}"), "different CPU"),
        (("{base}", "{corrupt}"), "invalid JSON"),
    ],
)
def test_errors_are_2_with_one_line_on_stderr(
    runs: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    problem: str,
) -> None:
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{")
    paths = {**runs, "missing": str(tmp_path / "nope.json"), "corrupt": str(corrupt)}

    assert main("compare", *(arg.format(**paths) for arg in argv)) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("pytest-foundry compare: error: ")
    assert problem in captured.err
    assert captured.err.count("\n") == 1
    assert "Traceback" not in captured.err


def test_force_overrides_a_fingerprint_mismatch(
    runs: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main("compare", runs["base"], runs["other_cpu"], "--force") == 0
    assert "  warning: compared across different CPU" in capsys.readouterr().out


def test_an_unwritable_output_is_2(
    runs: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main("compare", runs["base"], runs["same"], "--markdown", str(blocker / "gate.md")) == 2
    assert "pytest-foundry compare: error: " in capsys.readouterr().err
