"""A model that cannot be resolved or loaded errors its own cases with a one-line reason;
the other models still run."""

from __future__ import annotations

import json
import re

import pytest

# Simulates being offline for the public catalog whatever the network: its DNS lookup
# fails, which is how the plugin tells (a real offline machine fails the same way).
OFFLINE_CONFTEST = """
import socket

PUBLIC_CATALOG_HOST = "api.catalog.azureml.ms"

_getaddrinfo = socket.getaddrinfo


def _offline(host, *args, **kwargs):
    if host == PUBLIC_CATALOG_HOST:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _offline
"""


@pytest.fixture
def suite(inner):
    inner.pytester.makepyfile(test_answers=inner.ANSWER_TEST)
    inner.write_prompts(inner.FOUR_PROMPTS[:2])
    return inner


def sections(result: pytest.RunResult, header: str) -> dict[str, list[str]]:
    """The lines of each report section whose ``___ <header> ___`` title matches, by test name."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in result.outlines:
        match = re.match(rf"^_+ {header} _+$", line)
        if match:
            current = found.setdefault(match.group(1), [])
        elif re.match(r"^(_{3,}|={3,}|-{3,})", line):
            current = None
        elif current is not None and line.strip():
            current.append(line)
    return found


def setup_errors(result: pytest.RunResult) -> dict[str, list[str]]:
    """The lines of each ``ERROR at setup of <test>`` section, by test name."""
    return sections(result, r"ERROR at setup of (\S+)")


def assert_model_errors(suite, result, slug: str, *fragments: str) -> str:
    """Both cases of ``slug`` errored with the same one-line reason; tiny's passed."""
    result.assert_outcomes(passed=2, errors=2)
    suite.assert_no_traceback(result)
    errors = setup_errors(result)
    assert sorted(errors) == [f"test_answer[{slug}-privacy_benefits]", f"test_answer[{slug}-rag_principle]"]
    reasons = {section[0] for section in errors.values()}
    assert len(reasons) == 1, reasons
    (reason,) = reasons
    for fragment in fragments:
        assert fragment in reason
    # The summary says what happened to that model, and only tiny was loaded.
    result.stdout.fnmatch_lines([f"{slug}*load-failed*"])
    assert suite.model_loads(result.stdout.str()) == (1, {"tiny": 1})
    return reason


def test_missing_model_folder(suite):
    missing = suite.pytester.path / "gone" / "tiny-c"
    result = suite.run_inprocess(f"--foundry-models=tiny,{missing}")
    assert_model_errors(suite, result, "tiny-c", f"model folder {missing} does not exist")


def test_folder_without_genai_config(suite, tiny_b):
    folder = suite.copy_model(tiny_b, suite.pytester.path / "tiny-c")
    (folder / "genai_config.json").unlink()
    result = suite.run_inprocess(f"--foundry-models=tiny,{folder}")
    assert_model_errors(
        suite, result, "tiny-c", "not an ONNX Runtime GenAI model folder (no genai_config.json)"
    )


def test_corrupt_genai_config(suite, tiny_b):
    folder = suite.copy_model(tiny_b, suite.pytester.path / "tiny-c")
    (folder / "genai_config.json").write_text('{"model": ', encoding="utf-8")
    result = suite.run_inprocess(f"--foundry-models=tiny,{folder}")
    assert_model_errors(suite, result, "tiny-c", f"cannot register {folder}")


def test_truncated_model_file(suite, tiny_b):
    folder = suite.copy_model(tiny_b, suite.pytester.path / "tiny-c")
    (folder / "model.onnx").write_bytes(b"")
    result = suite.run_inprocess(f"--foundry-models=tiny,{folder}")
    assert_model_errors(suite, result, "tiny-c", "load failed")


def test_failed_model_comes_first(suite, tiny_b):
    # The failing model is resolved first; the runtime keeps working for the next one.
    folder = suite.copy_model(tiny_b, suite.pytester.path / "tiny-c")
    (folder / "model.onnx").write_bytes(b"")
    result = suite.run_inprocess(f"--foundry-models={folder},tiny")
    assert_model_errors(suite, result, "tiny-c", "load failed")


def test_failed_model_is_marked_in_the_results(suite, tiny_b, tmp_path):
    folder = suite.copy_model(tiny_b, suite.pytester.path / "tiny-c")
    (folder / "model.onnx").write_bytes(b"")
    report = tmp_path / "report"
    result = suite.run_inprocess(f"--foundry-models=tiny,{folder}", f"--foundry-report={report}")
    result.assert_outcomes(passed=2, errors=2)
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    status = {m["slug"]: (m["status"], m["reason"]) for m in results["models"]}
    assert status["tiny"] == ("ok", None)
    assert status["tiny-c"][0] == "load-failed"
    assert "load failed" in status["tiny-c"][1]
    cells = {(c["model"], c["prompt"]): c["status"] for c in results["cells"]}
    assert cells[("tiny-c", "rag_principle")] == cells[("tiny-c", "privacy_benefits")] == "load-failed"
    assert cells[("tiny", "rag_principle")] in ("ok", "truncated")


def test_unknown_alias_offline_fails_with_a_clear_reason(suite):
    suite.pytester.makeconftest(OFFLINE_CONFTEST)
    result = suite.run("--foundry-models=tiny,qwen2.5-0.5b")
    assert_model_errors(
        suite,
        result,
        "qwen2.5-0.5b",
        "qwen2.5-0.5b: catalog unreachable (https://api.catalog.azureml.ms/asset-gallery/v1.0/models: ",
        "Name or service not known",
    )


def test_the_reason_is_printed_once(suite):
    # Not twice, joined by 'During handling of the above exception, another exception occurred'.
    missing = suite.pytester.path / "gone" / "tiny-c"
    result = suite.run_inprocess(f"--foundry-models=tiny,{missing}")
    result.assert_outcomes(passed=2, errors=2)
    assert "During handling of the above exception" not in result.stdout.str()
    for lines in setup_errors(result).values():
        assert len(lines) == 1, lines


def test_a_native_load_error_keeps_its_reason(suite, tiny_b):
    # The native message's C++ signature once pushed the reason past the one-line limit.
    folder = suite.copy_model(tiny_b, suite.pytester.path / "tiny-c")
    (folder / "model.onnx").write_bytes(b"")
    result = suite.run_inprocess(f"--foundry-models=tiny,{folder}")
    result.assert_outcomes(passed=2, errors=2)
    (reason,) = {section[0] for section in setup_errors(result).values()}
    assert "No graph was found in the protobuf" in reason
    assert "std::string" not in reason


def failures(result: pytest.RunResult) -> dict[str, list[str]]:
    """The lines of each failure section (``___ test_x[...] ___``), by test name."""
    return sections(result, r"(test_\S+)")


def test_a_failed_request_fails_only_its_case_with_one_line(suite):
    # rag_principle asks for more tokens than tiny's context: the server refuses that one.
    prompts = suite.FOUR_PROMPTS
    suite.write_prompts([{**prompts[0], "max_tokens": 5000}, prompts[1]])
    result = suite.run_inprocess("--foundry-models=tiny")
    result.assert_outcomes(passed=1, failed=1)
    suite.assert_no_traceback(result)
    sections = failures(result)
    assert list(sections) == ["test_answer[tiny-rag_principle]"]
    (lines,) = sections.values()
    assert len(lines) == 1, lines
    assert lines[0].startswith("pytest-foundry-tiny-generic-cpu:1: ")
    assert "exceeds the model's maximum context length of 2048 tokens" in lines[0]


def test_a_failed_request_shows_only_the_meaningful_part_of_a_native_message(suite):
    prompts = suite.FOUR_PROMPTS
    suite.write_prompts([{**prompts[0], "max_tokens": 5000}])
    result = suite.run_inprocess("--foundry-models=tiny")
    result.assert_outcomes(failed=1)
    ((line,),) = failures(result).values()
    assert ".cc:" not in line
    assert "fl::" not in line
    assert (
        "request requires 5018 total tokens" in line or "exceeds the model's maximum context length" in line
    )
