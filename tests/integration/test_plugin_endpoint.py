"""The endpoint backend against the SDK's own web service, started in this (outer) process.

The outer fixture holds the process's FoundryLocalManager, so every inner run here is a
subprocess (with its own manager when it uses the in-process runtime).
"""

from __future__ import annotations

import pytest

from pytest_foundry.runtime.embedded import EMBEDDED_MODEL_ID

UNREACHABLE = "http://127.0.0.1:9/v1"


@pytest.fixture
def suite(inner):
    inner.pytester.makepyfile(test_latency=inner.LATENCY_TEST, test_outputs=inner.OUTPUT_TEST)
    inner.write_prompts(inner.FOUR_PROMPTS[:2])
    return inner


def test_latency_and_outputs_over_http_match_the_in_process_snapshots(suite, foundry_web_service):
    # 1. In-process runtime (in a subprocess): write the snapshots.
    created = suite.run("--foundry-models=tiny", "--snapshot-update", "test_outputs.py")
    created.assert_outcomes(passed=2)
    files = suite.snapshot_files()
    assert sorted(files) == ["tiny/privacy_benefits.txt", "tiny/rag_principle.txt"]

    # 2. The same model over HTTP: latency rounds pass and the outputs match those files.
    result = suite.run(f"--foundry-endpoint={foundry_web_service}", f"--foundry-models={EMBEDDED_MODEL_ID}")
    result.assert_outcomes(passed=4)
    suite.assert_no_traceback(result)
    result.stdout.fnmatch_lines(
        [f"foundry: backend endpoint {foundry_web_service}; models tiny; *", "*2 snapshots passed*"]
    )
    assert suite.snapshot_files() == files


def test_endpoint_output_differs_from_another_models_snapshot(suite, foundry_web_service, tiny_b):
    # The comparison over HTTP is real: snapshots of another model under the same slug fail.
    suite.run(f"--foundry-models={tiny_b}", "--snapshot-update", "test_outputs.py").assert_outcomes(passed=2)
    (suite.snapshot_dir / "tiny-b").rename(suite.snapshot_dir / "tiny")
    result = suite.run(
        f"--foundry-endpoint={foundry_web_service}",
        f"--foundry-models={EMBEDDED_MODEL_ID}",
        "test_outputs.py",
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*- # model: tiny-b:1", f"*+ # model: {EMBEDDED_MODEL_ID}"])


def test_a_model_the_endpoint_does_not_serve(suite, foundry_web_service):
    result = suite.run(
        f"--foundry-endpoint={foundry_web_service}",
        f"--foundry-models={EMBEDDED_MODEL_ID},phi-4-mini",
        "test_latency.py",
    )
    result.assert_outcomes(passed=2, errors=2)
    suite.assert_no_traceback(result)
    result.stdout.fnmatch_lines(
        [f"*phi-4-mini: not served by {foundry_web_service} (it lists: {EMBEDDED_MODEL_ID})*"]
    )


def test_the_default_model_over_an_endpoint(suite, foundry_web_service):
    # The default model, tiny, is served by the SDK's web service as its full id.
    result = suite.run(f"--foundry-endpoint={foundry_web_service}", "test_latency.py")
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize("how", ["option", "environment"])
def test_unreachable_endpoint_is_a_one_line_error(suite, how, monkeypatch):
    if how == "option":
        result = suite.run(f"--foundry-endpoint={UNREACHABLE}")
    else:
        monkeypatch.setenv("FOUNDRY_LOCAL_ENDPOINT", UNREACHABLE)
        result = suite.run()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(errors=4)
    suite.assert_no_traceback(result)
    result.stdout.fnmatch_lines(
        [
            f"foundry: backend endpoint {UNREACHABLE}; *",
            "*ERROR at setup of test_latency?tiny-rag_principle?*",
            f"endpoint {UNREACHABLE} is unreachable: *Connection refused*",
        ]
    )
