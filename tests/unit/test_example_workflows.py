"""The shipped GitHub Actions workflows run real options and commands of this tool."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from pytest_foundry.cli import build_parser
from pytest_foundry.options import OPTIONS

yaml = pytest.importorskip("yaml")

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
SEPARATORS = {";", "&&", "||", "|", "&", "(", ")", ">", ">>", "2>&1"}
FOUNDRY_OPTIONS = {f"--foundry-{spec.name}" for spec in OPTIONS}


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def commands(workflow: dict[str, Any]) -> list[list[str]]:
    """Every shell command of every ``run:`` step, as words: ``${{ }}`` expressions stand
    for one word, the workflow's ``env`` variables are expanded."""
    found: list[list[str]] = []
    for job in workflow["jobs"].values():
        env = {**workflow.get("env", {}), **job.get("env", {})}
        for step in job["steps"]:
            script = step.get("run")
            if not script:
                continue
            script = re.sub(r"\$\{\{[^}]*\}\}", "X", script.replace("\\\n", " "))
            # The workflow's own variables, expanded: $BENCH_ARGS holds options too.
            script = re.sub(r"\$(\w+)", lambda m, env=env: str(env.get(m.group(1), m.group(0))), script)
            for line in script.splitlines():
                lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
                lexer.whitespace_split = True
                words: list[str] = []
                for token in [*lexer, ";"]:
                    if token in SEPARATORS:
                        if words:
                            found.append(words)
                        words = []
                    else:
                        words.append(token)
    return found


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def check_foundry_words(words: list[str]) -> list[str]:
    """The problems with one command: unknown --foundry-* options, unknown sub-commands
    or options of ``python -m pytest_foundry``."""
    problems = [
        word.split("=", 1)[0]
        for word in words
        if word.startswith("--foundry-") and word.split("=", 1)[0] not in FOUNDRY_OPTIONS
    ]
    if "pytest_foundry" in words or "pytest-foundry" in words:
        index = words.index("pytest_foundry" if "pytest_foundry" in words else "pytest-foundry")
        name = words[index + 1]
        parsers = subcommands()
        if name not in parsers:
            return [*problems, f"no sub-command {name}"]
        known = parsers[name]._option_string_actions
        problems += [w for w in words[index + 2 :] if w.startswith("--") and w.split("=", 1)[0] not in known]
    return problems


@pytest.mark.parametrize("name", ["model-regression.yml", "model-shards.yml"])
def test_every_command_uses_real_options_and_sub_commands(name):
    workflow = load(name)
    used = [words for words in commands(workflow) if any(w.startswith("--foundry-") for w in words)]
    assert used, "the workflow runs no benchmark"
    for words in commands(workflow):
        assert check_foundry_words(words) == [], words


def test_the_checker_catches_an_unknown_option_or_sub_command():
    assert check_foundry_words(["pytest", "--foundry-shards=1/2"]) == ["--foundry-shards"]
    assert check_foundry_words(["python", "-m", "pytest_foundry", "mrege", "a"]) == ["no sub-command mrege"]
    assert check_foundry_words(["python", "-m", "pytest_foundry", "merge", "a", "--out", "b"]) == ["--out"]


def test_the_shard_matrix_covers_every_shard_and_the_merge_names_them_all():
    workflow = load("model-shards.yml")
    count = int(workflow["env"]["SHARDS"])
    shard_job, merge_job = workflow["jobs"]["shard"], workflow["jobs"]["merge"]
    assert shard_job["strategy"]["matrix"]["shard"] == list(range(1, count + 1))
    assert shard_job["strategy"]["fail-fast"] is False
    script = "\n".join(step.get("run", "") for step in shard_job["steps"])
    assert "--foundry-shard=${{ matrix.shard }}/$SHARDS" in script
    uploads = [s for s in shard_job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads[0]["with"]["name"] == "foundry-shard-${{ matrix.shard }}"
    assert uploads[0]["if"] == "always()"
    # The merge runs even when a shard failed, and expects every shard by name.
    assert merge_job["needs"] == "shard"
    assert merge_job["if"] == "always()"
    download = next(s for s in merge_job["steps"] if str(s.get("uses", "")).startswith("actions/download"))
    assert download["with"]["pattern"] == "foundry-shard-*"
    merge_script = "\n".join(step.get("run", "") for step in merge_job["steps"])
    assert 'seq 1 "$SHARDS"' in merge_script
    assert "shards/foundry-shard-$k" in merge_script
    merge = next(w for w in commands(workflow) if "merge" in w and "pytest_foundry" in w)
    assert merge[merge.index("--output") + 1] == "foundry-report"
    final = [s for s in merge_job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert final[0]["with"]["path"] == "foundry-report/"
