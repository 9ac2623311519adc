"""``pytest-foundry report``: re-render a report from a saved results.json."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_foundry import cli
from pytest_foundry.cli import main
from pytest_foundry.report import html_page

FIXTURE = Path(__file__).parent / "data" / "results.json"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    path = folder / "results.json"
    shutil.copy(FIXTURE, path)
    return path


def test_report_renders_every_format_next_to_the_results(
    saved: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The page itself is tested elsewhere; here only which files are written matters.
    monkeypatch.setattr(html_page, "render_html", lambda results: "<html></html>\n")
    before = saved.stat().st_mtime_ns
    assert main(["report", str(saved)]) == 0
    names = sorted(p.name for p in saved.parent.iterdir())
    assert names == ["report.html", "report.md", "results.csv", "results.json"]
    # The results file it read is not rewritten in place.
    assert saved.stat().st_mtime_ns == before
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"pytest-foundry: wrote {saved.parent / n}" for n in ("results.csv", "report.md", "report.html")
    ]


def test_report_into_another_folder_with_chosen_formats(saved: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere"
    assert main(["report", str(saved), "--format", "md", "--format", "json", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["report.md", "results.json"]
    assert json.loads((out / "results.json").read_text(encoding="utf-8")) == json.loads(
        saved.read_text("utf-8")
    )


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_missing_file_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nope.json")]) == 2
    assert _error_line(capsys) == f"pytest-foundry: error: {tmp_path / 'nope.json'}: file not found"


def test_invalid_results_name_the_key(saved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(saved.read_text(encoding="utf-8"))
    data["models"][0]["status"] = "fine"
    saved.write_text(json.dumps(data), encoding="utf-8")
    assert main(["report", str(saved)]) == 2
    expected = f"{saved}: models[0].status: 'fine' is not one of ['ok', 'load-failed', 'error', 'skipped']"
    assert _error_line(capsys) == f"pytest-foundry: error: {expected}"
    assert sorted(p.name for p in saved.parent.iterdir()) == ["results.json"]


def test_unwritable_output_is_one_line(saved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = saved.parent / "file-not-folder"
    blocker.write_text("x")
    assert main(["report", str(saved), "--format", "md", "--out", str(blocker)]) == 2
    assert _error_line(capsys).startswith("pytest-foundry: error: ")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["report", "x.json", "--format", "pdf"]) == 2
    assert "invalid choice: 'pdf'" in capsys.readouterr().err
    assert main(["--version"]) == 0


def test_the_parser_has_the_report_compare_convert_and_merge_commands() -> None:
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert sorted(subparsers.choices) == ["compare", "convert", "merge", "report"]


def test_python_dash_m_runs_the_cli(saved: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest_foundry", "report", str(saved), "--format", "csv"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (saved.parent / "results.csv").is_file()
    bad = subprocess.run(
        [sys.executable, "-m", "pytest_foundry", "report", str(saved.parent / "missing.json")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("pytest-foundry: error: ")
    assert "Traceback" not in bad.stderr
