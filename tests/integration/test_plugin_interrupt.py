"""Ctrl-C during a run: pytest stops (exit code 2), the runtime is closed, and the
snapshot folder only ever holds complete files.

In-process runs, to look at the process afterwards; ``no_reraise_ctrlc`` keeps
pytester from raising the inner KeyboardInterrupt in this (outer) test.
"""

from __future__ import annotations

import json
import threading

import pytest

HEADER = "# model: pytest-foundry-tiny-generic-cpu:1\n# max_tokens: 16\n# seed: 42\n# temperature: 0\n---\n"

# Ctrl-C right after the third case's request, before its snapshot assertion.
INTERRUPTED_TEST = """
def test_output(foundry_generate, foundry_prompt, foundry_snapshot):
    generation = foundry_generate(foundry_prompt, temperature=0.0)
    if foundry_prompt.id == "size_latency":
        raise KeyboardInterrupt
    assert generation == foundry_snapshot
"""

# Ctrl-C in the middle of writing one snapshot file: after the temporary file is written,
# before it replaces the old one.
INTERRUPTED_WRITE_CONFTEST = """
import os

import pytest

_replace = os.replace


def _interrupted_replace(src, dst, *args, **kwargs):
    if str(dst).endswith("slm_scenarios.txt"):
        raise KeyboardInterrupt
    return _replace(src, dst, *args, **kwargs)


@pytest.fixture(autouse=True)
def _ctrl_c_while_writing(monkeypatch):
    monkeypatch.setattr(os, "replace", _interrupted_replace)
"""


@pytest.fixture
def no_manager():
    from foundry_local_sdk import FoundryLocalManager

    assert FoundryLocalManager.instance is None, "an outer FoundryLocalManager is alive"
    return FoundryLocalManager


@pytest.fixture
def suite(inner):
    inner.write_prompts()  # rag_principle, privacy_benefits, size_latency, slm_scenarios
    return inner


def assert_complete(files: dict[str, bytes]) -> None:
    for name, data in files.items():
        text = data.decode("utf-8")
        assert text.startswith(HEADER), name
        assert text[len(HEADER) :].strip(), name
        assert text.endswith("\n"), name


def test_ctrl_c_stops_the_run_and_closes_the_runtime(suite, no_manager):
    suite.pytester.makepyfile(test_outputs=INTERRUPTED_TEST)
    before = {t for t in threading.enumerate() if t.is_alive()}

    result = suite.run_inprocess("--foundry-models=tiny", "--snapshot-update", no_reraise_ctrlc=True)

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*KeyboardInterrupt*"])
    result.assert_outcomes(passed=2)  # the fourth case never ran
    assert no_manager.instance is None
    assert {t for t in threading.enumerate() if t.is_alive()} - before == set()
    files = suite.snapshot_files()
    assert sorted(files) == ["tiny/privacy_benefits.txt", "tiny/rag_principle.txt"]
    assert_complete(files)


def test_ctrl_c_while_writing_a_snapshot_leaves_the_old_file_whole(suite, no_manager):
    suite.pytester.makepyfile(test_outputs=suite.OUTPUT_TEST)
    suite.run_inprocess("--foundry-models=tiny", "--snapshot-update").assert_outcomes(passed=4)
    stale = suite.snapshot_dir / "tiny" / "slm_scenarios.txt"
    stale.write_text(HEADER + "an older answer\n", encoding="utf-8")
    suite.pytester.makeconftest(INTERRUPTED_WRITE_CONFTEST)

    result = suite.run_inprocess("--foundry-models=tiny", "--snapshot-update", no_reraise_ctrlc=True)

    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert no_manager.instance is None
    assert stale.read_text(encoding="utf-8") == HEADER + "an older answer\n"
    leftovers = [p.name for p in suite.snapshot_dir.rglob("*") if p.is_file() and not p.name.endswith(".txt")]
    assert leftovers == []
    assert_complete(suite.snapshot_files())


def test_ctrl_c_during_update_keeps_the_snapshots_of_cases_not_run(suite, no_manager):
    # The cases Ctrl-C never reached look unused to syrupy; their snapshots must stay.
    suite.pytester.makepyfile(test_outputs=suite.OUTPUT_TEST)
    suite.run_inprocess("--foundry-models=tiny", "--snapshot-update").assert_outcomes(passed=4)
    before = suite.snapshot_files()
    suite.pytester.makepyfile(test_outputs=INTERRUPTED_TEST)

    result = suite.run_inprocess("--foundry-models=tiny", "--snapshot-update", no_reraise_ctrlc=True)

    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert suite.snapshot_files() == before


def test_an_interrupted_run_saves_no_baseline_and_marks_its_report(suite, no_manager):
    suite.pytester.makepyfile(test_outputs=INTERRUPTED_TEST)
    baselines = suite.pytester.path / "baselines"
    result = suite.run_inprocess(
        "--foundry-models=tiny",
        "--snapshot-update",
        "--foundry-save=main",
        f"--foundry-baseline-dir={baselines}",
        "--foundry-report=report",
        no_reraise_ctrlc=True,
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    # A partial run is no baseline: a later compare would pass against its gaps.
    assert not (baselines / "main").exists()
    result.stdout.fnmatch_lines(["baseline 'main' not saved: the run was interrupted"])
    results = json.loads((suite.pytester.path / "report" / "results.json").read_text(encoding="utf-8"))
    assert results["run"]["interrupted"] is True
    assert "INTERRUPTED: partial results" in (suite.pytester.path / "report" / "report.md").read_text(
        encoding="utf-8"
    )


# Ctrl-C while the report is being written (the second Ctrl-C of a user who pressed it
# during the run, or the first one after the tests).
INTERRUPTED_REPORT_CONFTEST = """
import pytest

import pytest_foundry.report.writer as writer

_write = writer.write_report


def _interrupted(results, folder, *args, **kwargs):
    written = _write(results, folder, ["md"])  # one file, then Ctrl-C
    raise KeyboardInterrupt


# Around the plugin's end of session (a fixture would be torn down before it).
@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session, exitstatus):
    patch = pytest.MonkeyPatch()
    patch.setattr(writer, "write_report", _interrupted)
    try:
        return (yield)
    finally:
        patch.undo()
"""

# Ctrl-C while a model host is still loading.
INTERRUPTED_LOAD_CONFTEST = """
import pytest

import pytest_foundry.runtime.hosted as hosted

HOSTS = []
_await = hosted._await_ready


def _interrupted(host, stream, progress):
    HOSTS.append(host.process)
    raise KeyboardInterrupt


@pytest.fixture(autouse=True, scope="session")
def _ctrl_c_while_loading():
    patch = pytest.MonkeyPatch()
    patch.setattr(hosted, "_await_ready", _interrupted)
    yield
    patch.undo()
    # The host must not outlive the run.
    assert all(process.poll() is not None for process in HOSTS), "a model host outlived Ctrl-C"
    print("HOSTS STOPPED", len(HOSTS))
"""


def test_ctrl_c_during_the_report_write_exits_cleanly_with_whole_files(suite, no_manager):
    suite.pytester.makepyfile(test_outputs=suite.ANSWER_TEST)
    suite.pytester.makeconftest(INTERRUPTED_REPORT_CONFTEST)
    report = suite.pytester.path / "report"
    result = suite.run_inprocess("--foundry-models=tiny", "--foundry-report=report", no_reraise_ctrlc=True)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert "Traceback" not in result.stdout.str()
    # What was written is whole (atomic writes): the Markdown report, and no temporaries.
    assert (report / "report.md").read_text(encoding="utf-8").startswith("# ")
    assert [
        p.name for p in report.iterdir() if p.name.startswith(".") and p.name != ".pytest-foundry.lock"
    ] == []


def test_ctrl_c_while_a_model_loads_stops_its_host(suite, no_manager):
    suite.pytester.makepyfile(test_outputs=suite.ANSWER_TEST)
    suite.pytester.makeconftest(INTERRUPTED_LOAD_CONFTEST)
    result = suite.run_inprocess("--foundry-models=tiny", "-s", no_reraise_ctrlc=True)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*HOSTS STOPPED 1*"])


INTERRUPTED_SAVE_CONFTEST = """
import pytest

import pytest_foundry.atomic_files as atomic_files
import pytest_foundry.gate.baselines as baselines

_replace_target = atomic_files.os.replace


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session, exitstatus):
    # Ctrl-C in the middle of saving the baseline: after its results.json is written to a
    # temporary file, before it takes the file's place.
    def interrupted(src, dst, *args, **kwargs):
        if "baselines" in str(dst):
            raise KeyboardInterrupt
        return _replace_target(src, dst, *args, **kwargs)

    patch = pytest.MonkeyPatch()
    patch.setattr(atomic_files.os, "replace", interrupted)
    try:
        return (yield)
    finally:
        patch.undo()
"""


def test_ctrl_c_while_the_baseline_is_saved_leaves_no_half_baseline(suite, no_manager):
    suite.pytester.makepyfile(test_outputs=suite.ANSWER_TEST)
    suite.pytester.makeconftest(INTERRUPTED_SAVE_CONFTEST)
    baselines = suite.pytester.path / "baselines"
    result = suite.run_inprocess(
        "--foundry-models=tiny",
        "--foundry-save=main",
        f"--foundry-baseline-dir={baselines}",
        no_reraise_ctrlc=True,
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert "Traceback" not in result.stdout.str()
    saved = [p for p in baselines.rglob("*") if p.is_file()] if baselines.exists() else []
    # No results.json that a later compare could read as a baseline, and no temporary.
    assert [p.name for p in saved if p.name == "results.json" or p.name.endswith(".tmp")] == []
