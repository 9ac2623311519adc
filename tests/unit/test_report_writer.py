"""Writing the report folder atomically, and the terminal summary."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from pytest_foundry.errors import ConfigError, FoundryError
from pytest_foundry.report import csv_table, html_page, markdown
from pytest_foundry.report.writer import FILE_NAMES, FORMATS, summary_lines, write_report
from pytest_foundry.results import Results
from pytest_foundry.results_file import load_results

FIXTURE = Path(__file__).parent / "data" / "results.json"
OLD = "previous complete version\n"


@pytest.fixture(scope="module")
def results() -> Results:
    return load_results(FIXTURE)


@pytest.fixture
def folder_with_old_files(tmp_path: Path) -> Path:
    folder = tmp_path / "foundry-report"
    folder.mkdir()
    for name in FILE_NAMES.values():
        (folder / name).write_text(OLD, encoding="utf-8")
    return folder


STUB_HTML = "<!DOCTYPE html>\n<html>stub</html>\n"


@pytest.fixture
def quick_html(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in for the HTML renderer (charts take a while) where the page is not the subject."""
    monkeypatch.setattr(html_page, "render_html", lambda results: STUB_HTML)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in FILE_NAMES.values())


def test_writes_every_format(tmp_path: Path, results: Results) -> None:
    folder = tmp_path / "new" / "foundry-report"
    written = write_report(results, folder)
    assert written == [folder / FILE_NAMES[name] for name in FORMATS]
    assert json.loads((folder / "results.json").read_text(encoding="utf-8")) == results
    assert (folder / "report.md").read_text(encoding="utf-8") == markdown.render_markdown(results)
    assert (folder / "results.csv").read_text(encoding="utf-8") == csv_table.render_csv(results)
    assert (folder / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert _leftovers(folder) == []


def test_only_the_chosen_formats(tmp_path: Path, results: Results) -> None:
    assert write_report(results, tmp_path, ["md", "csv", "md"]) == [
        tmp_path / "report.md",
        tmp_path / "results.csv",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "results.csv"]


def test_unknown_format_is_refused_before_anything_is_written(tmp_path: Path, results: Results) -> None:
    with pytest.raises(ConfigError, match="unknown report format 'pdf': choose from json, csv, md, html"):
        write_report(results, tmp_path, ["md", "pdf"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("quick_html")
def test_a_failing_renderer_keeps_its_old_file_and_the_others_are_written(
    folder_with_old_files: Path, results: Results, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_: Results) -> str:
        raise RuntimeError("plot exploded")

    monkeypatch.setattr(markdown, "render_markdown", broken)
    with pytest.raises(FoundryError) as info:
        write_report(results, folder_with_old_files)
    message = str(info.value)
    assert (
        message
        == f"could not write the report: {folder_with_old_files / 'report.md'}: RuntimeError: plot exploded"
    )
    assert isinstance(info.value.__cause__, RuntimeError)
    assert (folder_with_old_files / "report.md").read_text(encoding="utf-8") == OLD
    # Written before and after the failing one: complete new versions.
    assert json.loads((folder_with_old_files / "results.json").read_text(encoding="utf-8")) == results
    assert (folder_with_old_files / "report.html").read_text(encoding="utf-8") == STUB_HTML
    assert _leftovers(folder_with_old_files) == []


def test_ctrl_c_in_a_renderer_stops_at_once_leaving_complete_files(
    folder_with_old_files: Path, results: Results, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(_: Results) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(csv_table, "render_csv", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_report(results, folder_with_old_files)
    assert json.loads((folder_with_old_files / "results.json").read_text(encoding="utf-8")) == results
    # The interrupted file and those after it are untouched.
    for name in ("results.csv", "report.md", "report.html"):
        assert (folder_with_old_files / name).read_text(encoding="utf-8") == OLD
    assert _leftovers(folder_with_old_files) == []


def test_ctrl_c_in_the_middle_of_writing_a_file_leaves_the_old_one_and_no_temp_file(
    folder_with_old_files: Path, results: Results, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        # The temp file of report.md (the 3rd file) is half done when Ctrl-C arrives.
        calls.append(fd)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(KeyboardInterrupt):
        write_report(results, folder_with_old_files)
    assert (folder_with_old_files / "report.md").read_text(encoding="utf-8") == OLD
    assert (folder_with_old_files / "results.csv").read_text(encoding="utf-8") == csv_table.render_csv(
        results
    )
    assert _leftovers(folder_with_old_files) == []


@pytest.mark.usefixtures("quick_html")
def test_invalid_record_fails_json_but_still_renders_the_rest(tmp_path: Path, results: Results) -> None:
    broken = copy.deepcopy(results)
    broken["run"]["rounds"] = -1
    with pytest.raises(FoundryError, match=r"results\.json: run\.rounds: -1 is less than the minimum of 0"):
        write_report(broken, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.md", "results.csv"]


def test_summary_is_short_and_ends_with_the_report_path(tmp_path: Path, results: Results) -> None:
    written = write_report(results, tmp_path, ["md", "csv"])
    lines = summary_lines(results, tmp_path, written)
    assert lines[0] == "pytest-foundry: 3 model(s) × 4 prompt(s): 2 ok, 1 load-failed"
    assert lines[1] == "  phi-3.5-mini: E2E p50 4.59 s, TTFT p50 228.2 ms, decode 12.4 tok/s, n=20"
    assert lines[3].startswith("  broken: load-failed (genai_config.json not found")
    assert lines[-1] == f"pytest-foundry report: {tmp_path / 'report.md'}"
    assert len(lines) == 5
    assert summary_lines(results, tmp_path)[-1] == f"pytest-foundry report: {tmp_path / 'report.html'}"


def test_summary_of_many_models_stays_short(results: Results, tmp_path: Path) -> None:
    many = copy.deepcopy(results)
    many["models"] = [{**results["models"][2], "slug": f"m{i}"} for i in range(20)]
    many["cells"] = []
    lines = summary_lines(many, tmp_path)
    assert len(lines) == 1 + 8 + 1 + 1
    assert lines[-2] == "  … and 12 more in the report"
