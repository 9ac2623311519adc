"""Saving, finding and loading baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gate_factory import synthetic_run

from pytest_foundry.errors import BaselineError, ConfigError
from pytest_foundry.gate.baselines import (
    fingerprint_sha256,
    list_baselines,
    load_baseline,
    resolve_baseline,
    save_baseline,
)


def test_save_then_resolve_by_name_folder_and_file(tmp_path: Path) -> None:
    results = synthetic_run(1)
    baseline_dir = tmp_path / "baselines"

    saved = save_baseline(results, "main", baseline_dir)

    assert saved == baseline_dir / "main" / "results.json"
    assert load_baseline(saved) == results
    assert resolve_baseline("main", baseline_dir) == saved
    assert resolve_baseline(baseline_dir / "main", baseline_dir) == saved
    assert resolve_baseline(str(saved), baseline_dir) == saved
    meta = json.loads((baseline_dir / "main" / "baseline.json").read_text())
    assert meta["name"] == "main"
    assert meta["commit"] == results["git"]["commit"]
    assert meta["dirty"] is False
    assert meta["created_at"] == results["created_at"]
    assert meta["fingerprint_sha256"] == fingerprint_sha256(results)
    assert meta["models"] == ["tiny"]
    assert [info.name for info in list_baselines(baseline_dir)] == ["main"]


def test_saving_again_replaces_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    save_baseline(synthetic_run(1), "main", tmp_path)
    second = synthetic_run(2)
    save_baseline(second, "main", tmp_path)
    assert load_baseline(tmp_path / "main" / "results.json") == second
    assert sorted(p.name for p in (tmp_path / "main").iterdir()) == ["baseline.json", "results.json"]


def test_the_fingerprint_hash_follows_cpu_runtime_and_model_files() -> None:
    first, second = synthetic_run(1), synthetic_run(2)
    assert fingerprint_sha256(first) == fingerprint_sha256(second)  # samples do not matter
    second["models"][0]["files_sha256"] = "ff" * 32
    assert fingerprint_sha256(first) != fingerprint_sha256(second)


@pytest.mark.parametrize("name", ["../escape", ".hidden", "a/b", "", "with space"])
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="baseline name"):
        save_baseline(synthetic_run(1), name, tmp_path)


def test_an_unknown_name_lists_the_saved_ones(tmp_path: Path) -> None:
    save_baseline(synthetic_run(1), "main", tmp_path)
    save_baseline(synthetic_run(1), "release-1.0", tmp_path)
    with pytest.raises(BaselineError) as caught:
        resolve_baseline("mian", tmp_path)
    assert str(caught.value) == (
        f"baseline 'mian': no such file, and no baseline of that name in {tmp_path}"
        " (saved: main, release-1.0)"
    )


def test_no_baselines_at_all(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match=r"\(none saved yet\)"):
        resolve_baseline("main", tmp_path / "nothing-here")
    with pytest.raises(BaselineError, match="no such file or folder"):
        resolve_baseline(str(tmp_path / "missing" / "results.json"), tmp_path)


def test_a_folder_without_results(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(BaselineError, match=r"the folder holds no results\.json"):
        resolve_baseline(tmp_path / "empty", tmp_path)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"schema": "pytest-foundry/results", ', "invalid JSON at line 1"),
        ('{"schema": "something-else"}', "not a pytest-foundry results file"),
        ("[]", "expected a JSON object"),
    ],
)
def test_a_corrupt_baseline_is_one_line_naming_the_file(tmp_path: Path, content: str, problem: str) -> None:
    broken = tmp_path / "results.json"
    broken.write_text(content)
    with pytest.raises(BaselineError) as caught:
        load_baseline(resolve_baseline(broken, tmp_path))
    message = str(caught.value)
    assert message.startswith(f"cannot use baseline: {broken}")
    assert problem in message
    assert "\n" not in message


def test_a_listing_skips_folders_that_are_not_baselines(tmp_path: Path) -> None:
    save_baseline(synthetic_run(1), "main", tmp_path)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "baseline.json").write_text("not json")
    assert [info.name for info in list_baselines(tmp_path)] == ["main"]
