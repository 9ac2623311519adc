"""A bad option or file stops the run before any test with one line naming it.

pytest exits with USAGE_ERROR (4), prints ``ERROR: <message>`` on stderr, and shows no
traceback; no model is started.
"""

from __future__ import annotations

import json
import sys

import pytest


def assert_usage_error(inner, result: pytest.RunResult, *fragments: str) -> str:
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    inner.assert_no_traceback(result)
    errors = [line for line in result.errlines if line.strip()]
    assert len(errors) == 1, errors
    (line,) = errors
    assert line.startswith("ERROR: ")
    for fragment in fragments:
        assert fragment in line
    # Nothing ran and nothing was registered in the model cache.
    assert "passed" not in result.stdout.str()
    assert list(inner.cache_dir.iterdir()) == []
    return line


@pytest.fixture
def test_file(inner):
    inner.pytester.makepyfile(test_outputs=inner.ANSWER_TEST)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--foundry-rounds=zero"], ["--foundry-rounds", "'zero'"]),
        (["--foundry-rounds", "0"], ["--foundry-rounds: must be at least 1"]),
        (["--foundry-max-tokens=-3"], ["--foundry-max-tokens"]),
        (["--foundry-timeout=never"], ["--foundry-timeout", "'never'"]),
        (["--foundry-checks=strict"], ["--foundry-checks", "report, fail"]),
        (["--foundry-models=tiny,tiny"], ["--foundry-models: tiny named twice"]),
        (["--foundry-models=tiny,pytest-foundry-tiny-generic-cpu:1"], ["share the id 'tiny'"]),
        (["--foundry-shard=3/2"], ["--foundry-shard: expected K/N with 1 <= K <= N", "'3/2'"]),
        (["--foundry-shard=1/2"], ["--foundry-shard=1/2: only 1 model(s) to share out"]),
    ],
)
def test_bad_option(inner, test_file, args, fragments):
    assert_usage_error(inner, inner.run_inprocess(*args), *fragments)


def test_two_model_folders_with_the_same_name(inner, test_file, tiny_b):
    one = inner.copy_model(tiny_b, inner.pytester.path / "one" / "tiny-b")
    two = inner.copy_model(tiny_b, inner.pytester.path / "two" / "tiny-b")
    result = inner.run_inprocess(f"--foundry-models={one},{two}")
    assert_usage_error(inner, result, str(one), str(two), "share the id 'tiny-b'", "models.json")


def test_malformed_prompts_file(inner, test_file):
    path = inner.pytester.path / "prompts.json"
    path.write_text('{"prompts": [\n  {"id": "a", "prompt": "x"}\n', encoding="utf-8")
    result = inner.run_inprocess(f"--foundry-prompts={path}")
    assert_usage_error(inner, result, f"{path}: invalid JSON at line 3")


def test_prompts_file_with_a_bad_entry(inner, test_file):
    path = inner.write_prompts([{"id": "ok", "prompt": "x"}, {"id": "two", "prompt": "y", "max_token": 3}])
    result = inner.run_inprocess()
    assert_usage_error(inner, result, str(path), "prompts[1]", "'max_token' was unexpected")


def test_prompt_id_with_a_dash(inner, test_file):
    path = inner.write_prompts([{"id": "rag-principle", "prompt": "x"}])
    result = inner.run_inprocess()
    assert_usage_error(inner, result, str(path), "prompts[0] (id=rag-principle)", "id may hold only")


def test_missing_prompts_file(inner, test_file):
    result = inner.run_inprocess("--foundry-prompts=nowhere.json")
    assert_usage_error(inner, result, str(inner.pytester.path / "nowhere.json"), "file not found")


def test_models_file_with_a_bad_key(inner, test_file):
    path = inner.pytester.path / "models.json"
    path.write_text(json.dumps({"models": {"mini": {"id": "tiny", "licence": "MIT"}}}), encoding="utf-8")
    result = inner.run_inprocess(f"--foundry-models-file={path}", "--foundry-models=mini")
    assert_usage_error(inner, result, str(path), "models.mini", "'licence' was unexpected")


def test_bad_environment_fallback(inner, test_file, monkeypatch):
    inner.fast = []  # no --foundry-rounds on the command line to hide the variable
    monkeypatch.setenv("BENCH_ROUNDS", "ten")
    assert_usage_error(inner, inner.run_inprocess(), "BENCH_ROUNDS", "'ten'")


def test_bad_ini_value(inner, test_file):
    inner.fast = []
    inner.pytester.makeini("[pytest]\nfoundry_max_tokens = lots\n")
    assert_usage_error(inner, inner.run_inprocess(), "foundry_max_tokens", "'lots'")


def test_bad_value_in_a_subprocess_run(inner, test_file):
    # The same, through the console script path (a fresh interpreter).
    result = inner.run("--foundry-rounds=zero")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    inner.assert_no_traceback(result)
    result.stderr.fnmatch_lines(["ERROR: --foundry-rounds: expected a whole number, got 'zero'"])


def test_help_lists_every_option_with_its_ini_key_and_environment_variable(inner):
    # A bare '%' in an option's help once crashed argparse here.
    result = inner.pytester.runpytest_subprocess("--help")
    assert "Traceback" not in result.stderr.str()
    assert result.ret == pytest.ExitCode.OK
    text = " ".join(result.stdout.str().split())
    from pytest_foundry.options import OPTIONS

    for spec in OPTIONS:
        assert f"--foundry-{spec.name}" in text
        assert f"[ini {spec.dest}]" in text
        if spec.env:
            assert f"[env {spec.env}]" in text


def test_plugin_import_does_not_import_the_sdk(pytester):
    # `pytest --help` stays fast and a missing native library only matters once a
    # model is needed: checked in a fresh interpreter.
    result = pytester.run(
        sys.executable,
        "-c",
        "import sys, pytest_foundry.plugin; "
        "print('sdk imported' if 'foundry_local_sdk' in sys.modules else 'sdk not imported')",
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(["sdk not imported"])


def test_collect_only_starts_no_runtime(inner, test_file, tiny_b):
    inner.write_prompts(inner.FOUR_PROMPTS[:2])
    result = inner.run_inprocess(f"--foundry-models=tiny,{tiny_b}", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK
    assert "model loads" not in result.stdout.str()
    assert list(inner.cache_dir.iterdir()) == []


def test_a_judge_that_resolves_nowhere_stops_the_run_before_any_model_loads(inner):
    inner.write_prompts(inner.FOUR_PROMPTS[:1])
    inner.pytester.makepyfile(test_answer=inner.ANSWER_TEST)
    result = inner.run("--foundry-judge=no-such-judge-model")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    inner.assert_no_traceback(result)
    # Offline the catalog is unreachable; online it answers "not in the catalog".
    result.stderr.fnmatch_lines(["*--foundry-judge: no-such-judge-model: not a model folder, and *"])
    assert "model loads" not in result.stdout.str()
