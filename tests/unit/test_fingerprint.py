"""Machine fingerprint and git state."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_foundry import fingerprint
from pytest_foundry.fingerprint import RUNTIME_PACKAGES, cpu_from_cpuinfo, git_state, machine_fingerprint

X86 = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Core(TM) Ultra 7 155H
flags\t\t: fpu vme

processor\t: 1
model name\t: Intel(R) Core(TM) Ultra 7 155H
"""
ARM = """processor\t: 0
BogoMIPS\t: 48.00
Features\t: fp asimd

Hardware\t: Qualcomm Technologies, Inc SC8280XP
"""


def test_cpu_name_from_cpuinfo() -> None:
    assert cpu_from_cpuinfo(X86) == "Intel(R) Core(TM) Ultra 7 155H"
    # On ARM "processor" is a core number, not a name.
    assert cpu_from_cpuinfo(ARM) == "Qualcomm Technologies, Inc SC8280XP"
    assert cpu_from_cpuinfo("processor\t: 0\n") is None


def test_machine_fingerprint_has_every_field_with_plausible_values() -> None:
    record = machine_fingerprint()
    assert set(record) == {"cpu", "cores", "ram_bytes", "os", "python", "packages"}
    assert record["cpu"]
    assert record["cpu"] != "unknown"
    assert record["cores"] >= 1
    assert record["ram_bytes"] > 256 * (1 << 20)
    assert record["python"].count(".") == 2
    assert set(record["packages"]) == set(RUNTIME_PACKAGES)


def test_missing_package_version_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    real = fingerprint.package_version
    monkeypatch.setattr(
        fingerprint, "package_version", lambda name: None if name == "onnxruntime" else real(name)
    )
    assert machine_fingerprint()["packages"]["onnxruntime"] is None
    assert fingerprint.package_version("surely-not-an-installed-package-xyz") is None


def test_cpu_falls_back_when_cpuinfo_is_unreadable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(fingerprint, "CPUINFO", tmp_path / "no-cpuinfo")
    monkeypatch.setattr(platform, "processor", lambda: "")
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert machine_fingerprint()["cpu"] == "aarch64"


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(repo), *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Keep git from finding a repository above tmp_path or reading the user's config.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / "repo"
    path.mkdir()
    _git(path, "init", "-q")
    (path / "tracked.txt").write_text("one\n")
    _git(path, "add", "tracked.txt")
    _git(path, "commit", "-q", "-m", "first")
    return path


@needs_git
def test_git_state_of_a_clean_repository(repo: Path) -> None:
    state = git_state(repo)
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert state == {"commit": head, "dirty": False}


@needs_git
def test_untracked_files_do_not_make_it_dirty_but_changes_do(repo: Path) -> None:
    (repo / "foundry-report").mkdir()
    (repo / "foundry-report" / "report.md").write_text("x")
    clean = git_state(repo)
    assert clean is not None
    assert clean["dirty"] is False
    (repo / "tracked.txt").write_text("two\n")
    state = git_state(repo / "foundry-report")
    assert state is not None
    assert state["dirty"] is True


@needs_git
def test_outside_a_repository_or_before_the_first_commit_is_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    plain = tmp_path / "plain"
    plain.mkdir()
    assert git_state(plain) is None
    empty = tmp_path / "empty"
    empty.mkdir()
    _git(empty, "init", "-q")
    assert git_state(empty) is None


def test_without_git_the_state_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert git_state(os.getcwd()) is None
