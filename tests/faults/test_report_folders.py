"""Report folders that cannot take the report: a full disk and a read-only one, as real
file systems (a small tmpfs in a private mount namespace), on the real runtime."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ANSWER_TEST = """
def test_answer(foundry_generate, foundry_prompt):
    assert foundry_generate(foundry_prompt).metrics.output_tokens > 0
"""
PROMPTS = {"prompts": [{"id": "hello", "prompt": "Say hello."}, {"id": "bye", "prompt": "Say goodbye."}]}


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    done = subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30)
    return done.returncode == 0


pytestmark = pytest.mark.skipif(
    not _namespaces_work(), reason="unshare -rm (a private mount namespace) is not permitted here"
)


def _run(tmp_path: Path, mount: str) -> subprocess.CompletedProcess[str]:
    """An inner ``pytest`` whose report folder is a tmpfs mounted with ``mount``."""
    (tmp_path / "test_answer.py").write_text(ANSWER_TEST, encoding="utf-8")
    (tmp_path / "prompts.json").write_text(json.dumps(PROMPTS), encoding="utf-8")
    report = tmp_path / "report"
    report.mkdir()
    inner = (
        f"{sys.executable} -m pytest -p no:cacheprovider --foundry-prompts=prompts.json "
        f"--foundry-report={report} --foundry-max-tokens=16 --foundry-rounds=2 "
        f"--basetemp={tmp_path / 'basetemp'} --foundry-cache-dir={tmp_path / 'cache'} test_answer.py"
    )
    # After the run, still inside the namespace: what the folder holds, and whether every
    # JSON file in it parses (a half-written one would not).
    check = (
        f'{sys.executable} -c "import json, os, sys; d = sys.argv[1]; names = sorted(os.listdir(d)); '
        "print('FILES', names); [json.load(open(os.path.join(d, n))) for n in names if n.endswith('.json')]; "
        f"print('JSON WHOLE')\" {report}"
    )
    script = f"{mount.format(dir=report)} && {{ {inner}; rc=$?; {check}; exit $rc; }}"
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=240
    )


def _assert_one_line_and_no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    text = done.stdout + done.stderr
    assert "Traceback" not in text, text[-3000:]
    assert "INTERNALERROR" not in text, text[-3000:]


def test_a_full_report_folder_is_one_error_line_a_failed_run_and_no_partial_file(tmp_path):
    done = _run(tmp_path, "mount -t tmpfs -o size=12k tmpfs {dir}")
    _assert_one_line_and_no_traceback(done)
    assert done.returncode == 1, done.stdout[-3000:]  # the tests passed; the report did not
    errors = [line for line in done.stdout.splitlines() if line.startswith("error: report not written: ")]
    assert len(errors) == 1, done.stdout[-3000:]
    assert "No space left on device" in errors[0]
    # Whatever made it into the full folder is whole, and no temporary file was left.
    assert "JSON WHOLE" in done.stdout, done.stdout[-2000:]
    files = next(line for line in done.stdout.splitlines() if line.startswith("FILES "))
    assert ".tmp" not in files, files
    assert "'." not in files.replace("'.pytest-foundry.lock'", ""), files


def test_a_read_only_report_folder_stops_the_run_before_any_model_loads(tmp_path):
    done = _run(tmp_path, "mount -t tmpfs tmpfs {dir} && mount -o remount,ro {dir}")
    _assert_one_line_and_no_traceback(done)
    assert done.returncode == 4, done.stdout[-3000:] + done.stderr[-2000:]
    assert f"--foundry-report: {tmp_path / 'report'} is not writable" in done.stdout + done.stderr
    assert "model loads" not in done.stdout
