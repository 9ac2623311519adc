"""Relative paths: from the command line against the folder pytest runs in, from the ini
file against the ini file's folder (pytest invoked from a subfolder here)."""

from __future__ import annotations

import json

import pytest

SHOW_SETTINGS = """
def test_show(foundry_session):
    s = foundry_session.settings
    print()  # -s: the first line would follow the progress output
    print("PROMPTS", s.prompts_file)
    print("SNAPSHOTS", s.snapshot_dir)
    print("PROMPT_IDS", ",".join(p.id for p in foundry_session.prompts))
    for request in foundry_session.inputs.requests:
        print("MODEL", request.slug, request.path)
"""


def shown(result: pytest.RunResult, key: str) -> list[str]:
    return [line.split(" ", 1)[1] for line in result.outlines if line.startswith(key + " ")]


@pytest.fixture
def project(inner, tiny_b, monkeypatch):
    """root/pytest.ini, root/prompts.json, root/models/tiny-b, root/sub/test_show.py; cwd sub."""
    root = inner.pytester.path
    (root / "prompts.json").write_text(json.dumps({"prompts": [{"id": "from_root", "prompt": "x"}]}))
    inner.copy_model(tiny_b, root / "models" / "tiny-b")
    sub = root / "sub"
    sub.mkdir()
    (sub / "test_show.py").write_text(SHOW_SETTINGS)
    (sub / "prompts.json").write_text(json.dumps({"prompts": [{"id": "from_sub", "prompt": "x"}]}))
    monkeypatch.chdir(sub)
    # The snapshot folder comes from the ini file here.
    inner.snapshot_dir = None
    return root


def run(inner, *args: str) -> pytest.RunResult:
    base = [a for a in inner.args() if not a.startswith(("--foundry-snapshot-dir", "--foundry-prompts"))]
    result = inner.pytester.runpytest_inprocess(*base, "-s", *args)
    result.assert_outcomes(passed=1)
    return result


def test_ini_paths_are_relative_to_the_ini_file(inner, project):
    inner.pytester.makeini("[pytest]\nfoundry_prompts = prompts.json\nfoundry_snapshot_dir = snaps\n")
    result = run(inner)
    assert shown(result, "PROMPTS") == [str(project / "prompts.json")]
    assert shown(result, "PROMPT_IDS") == ["from_root"]
    assert shown(result, "SNAPSHOTS") == [str(project / "snaps")]


def test_command_line_paths_are_relative_to_the_invocation_folder(inner, project):
    inner.pytester.makeini("[pytest]\nfoundry_prompts = prompts.json\n")
    result = run(inner, "--foundry-prompts=prompts.json", "--foundry-snapshot-dir=snaps")
    assert shown(result, "PROMPTS") == [str(project / "sub" / "prompts.json")]
    assert shown(result, "PROMPT_IDS") == ["from_sub"]
    assert shown(result, "SNAPSHOTS") == [str(project / "sub" / "snaps")]


def test_default_snapshot_folder_is_under_the_rootdir(inner, project):
    inner.pytester.makeini("[pytest]\n")
    result = run(inner)
    assert shown(result, "SNAPSHOTS") == [str(project / "snapshots")]


def test_command_line_model_folders_are_relative_to_the_invocation_folder(inner, project):
    inner.pytester.makeini("[pytest]\n")
    result = run(inner, "--foundry-models=tiny,../models/tiny-b")
    assert shown(result, "MODEL") == ["tiny None", f"tiny-b {project / 'models' / 'tiny-b'}"]


def test_ini_model_folders_are_relative_to_the_ini_file(inner, project):
    # Like every other path in the ini file.
    inner.pytester.makeini("[pytest]\nfoundry_models = tiny, models/tiny-b\n")
    result = run(inner)
    assert shown(result, "MODEL") == ["tiny None", f"tiny-b {project / 'models' / 'tiny-b'}"]
