"""Hostile input files: each is one line naming the file, with the right exit status, and
never a traceback, in the plugin and in the command-line tools."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

NOT_UTF8 = b'{"prompts": [{"id": "a", "prompt": "caf\xe9"}]}'
BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text, text[-2000:]
    assert "INTERNALERROR" not in text, text[-2000:]


@pytest.mark.parametrize(
    ("option", "content", "says"),
    [
        ("--foundry-prompts", NOT_UTF8, "not UTF-8 text (byte 0xe9 at offset 39)"),
        ("--foundry-models-file", NOT_UTF8, "not UTF-8 text (byte 0xe9 at offset 39)"),
        ("--foundry-prompts", BINARY, "not UTF-8 text (byte 0x89 at offset 0)"),
        ("--foundry-compare", BINARY, "not UTF-8 text (byte 0x89 at offset 0)"),
    ],
    ids=["prompts-latin1", "models-latin1", "prompts-binary", "baseline-binary"],
)
def test_a_hostile_file_stops_the_run_at_once_in_one_line(pytester, option, content, says):
    path = pytester.path / "input.json"
    path.write_bytes(content)
    pytester.makepyfile(test_x="def test_x(foundry_prompt):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"{option}={path}", timeout=120)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stdout.str() + result.stderr.str()
    _no_traceback(text)
    lines = [line for line in text.splitlines() if says in line]
    assert len(lines) == 1, text[-2000:]
    assert str(path) in lines[0]


def test_a_prompt_the_request_cannot_encode_fails_only_its_cells(pytester):
    prompts = {
        "prompts": [{"id": "good", "prompt": "Say hello."}, {"id": "bad", "prompt": "broken \ud800 text"}]
    }
    # json.dumps writes the lone surrogate as the escape \\ud800, which JSON allows.
    (pytester.path / "prompts.json").write_text(json.dumps(prompts), encoding="utf-8")
    answer = "def test_answer(foundry_generate, foundry_prompt):\n    foundry_generate(foundry_prompt)\n"
    pytester.makepyfile(test_answer=answer)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--foundry-prompts=prompts.json", "--foundry-report=report", timeout=180
    )
    result.assert_outcomes(passed=1, failed=1)
    _no_traceback(result.stdout.str() + result.stderr.str())
    cells = json.loads((pytester.path / "report" / "results.json").read_text(encoding="utf-8"))["cells"]
    status = {cell["prompt"]: cell["status"] for cell in cells}
    assert status["bad"] == "error"
    assert status["good"] in ("ok", "truncated")


@pytest.mark.parametrize("command", ["report", "compare"])
def test_the_command_line_tools_read_a_binary_file_as_one_line(tmp_path, command):
    path = tmp_path / "results.json"
    path.write_bytes(BINARY)
    args = [str(path)] if command == "report" else [str(path), str(path)]
    done = subprocess.run(
        [sys.executable, "-m", "pytest_foundry", command, *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    _no_traceback(done.stdout + done.stderr)
    (line,) = done.stderr.strip().splitlines()
    assert "not UTF-8 text (byte 0x89 at offset 0)" in line
    assert str(path) in line
