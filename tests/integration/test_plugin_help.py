"""``pytest --help`` and ``--fixtures`` document the plugin without starting any model."""

from __future__ import annotations


def test_help_lists_every_foundry_option(pytester):
    result = pytester.runpytest_subprocess("--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["*pytest-foundry*", "*--foundry-models=A,B*", "*--foundry-gate=SPEC*", "*+10%*"]
    )
    assert "Traceback" not in result.stderr.str()


def test_fixtures_are_documented(pytester):
    result = pytester.runpytest_subprocess("--fixtures")
    assert result.ret == 0
    for name in ("foundry_model", "foundry_prompt", "foundry_generate", "foundry_client", "foundry_snapshot"):
        result.stdout.fnmatch_lines([f"{name}*", "    *"])
