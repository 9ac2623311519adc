"""What machine and runtime a run was measured on, and which commit of the code.

Pure: no pytest.  Benchmarks are only comparable on the same hardware and runtime
versions, so the results record these and the regression gate compares them.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import psutil

from pytest_foundry.results import FingerprintRecord, GitRecord

# The runtime packages whose versions change the numbers.
RUNTIME_PACKAGES: tuple[str, ...] = ("foundry-local-sdk", "onnxruntime", "onnxruntime-genai-core")
CPUINFO = Path("/proc/cpuinfo")
GIT_TIMEOUT_S = 10.0
# Keys naming the CPU in /proc/cpuinfo: x86 first, then the ones ARM and others use.
_CPUINFO_KEYS = ("model name", "hardware", "processor", "cpu model", "cpu")


def cpu_from_cpuinfo(text: str) -> str | None:
    """The CPU's name from /proc/cpuinfo text, or None when it names none."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if sep and value and key not in fields:
            fields[key] = value
    for key in _CPUINFO_KEYS:
        value = fields.get(key, "")
        # On ARM "processor" is the core number ("0"), not a name.
        if value and not value.isdigit():
            return value
    return None


def _cpu_name() -> str:
    try:
        name = cpu_from_cpuinfo(CPUINFO.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        name = None
    return name or platform.processor() or platform.machine() or "unknown"


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine_fingerprint() -> FingerprintRecord:
    return {
        "cpu": _cpu_name(),
        # Logical cores: what the OS schedules on, and stable for a given machine.
        "cores": os.cpu_count() or 1,
        "ram_bytes": int(psutil.virtual_memory().total),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": {name: package_version(name) for name in RUNTIME_PACKAGES},
    }


def _git(path: Path, *args: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    # GIT_OPTIONAL_LOCKS=0: `git status` must not take the index lock of the user's repo.
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        done = subprocess.run(
            [git, "-C", str(path), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_state(path: str | os.PathLike[str] = ".") -> GitRecord | None:
    """Commit and dirty flag of the repository holding ``path``; None outside one or without git.

    Dirty means tracked files changed: untracked files (such as the report folder itself)
    do not count, or every run would be dirty.
    """
    folder = Path(path)
    commit = _git(folder, "rev-parse", "--verify", "HEAD")
    if commit is None:
        return None
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    if status is None:
        return None
    return {"commit": commit.strip(), "dirty": bool(status.strip())}
