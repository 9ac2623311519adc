"""scripts/lowest_constraints.py: the declared floors as a pip constraints file."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "lowest_constraints.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lowest_constraints", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lowest = _load()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_real_pyproject_gives_one_pin_per_runtime_dependency_at_its_floor():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    done = _run()
    assert done.returncode == 0, done.stderr
    pins = [line for line in done.stdout.splitlines() if line and not line.startswith("#")]
    assert len(pins) == len(declared)
    for requirement, pin in zip(declared, pins, strict=True):
        name, floor = pin.split("==")
        assert requirement.startswith(name)
        # The pin is the requirement's own lower bound, e.g. "foundry-local-sdk>=2.2,<2.3" -> 2.2.
        assert re.search(rf"(>=|~=|==)\s*{re.escape(floor)}(,|$)", requirement), (requirement, pin)
    assert "foundry-local-sdk==2.2" in pins


@pytest.mark.parametrize(
    ("requirement", "pin"),
    [
        ("numpy>=1.26", "numpy==1.26"),
        ("foundry-local-sdk>=2.2,<2.3", "foundry-local-sdk==2.2"),
        ("pkg<3, >=1.4.2", "pkg==1.4.2"),
        ("pkg>=1.0,!=1.1", "pkg==1.0"),
        ("pkg~=2.1", "pkg==2.1"),
        ("pkg==0.9.1", "pkg==0.9.1"),
        ("pkg (>=1.0)", "pkg==1.0"),
        # pip refuses extras in a constraints file; the extra's own packages are not ours to pin.
        ("httpx[http2]>=0.27", "httpx==0.27"),
        ("Pkg_Name.x [a, b] >= 3", "Pkg_Name.x==3"),
        ("tomli>=2.0; python_version < '3.11'", "tomli==2.0; python_version < '3.11'"),
        ('pkg[extra]>=1.2 ; sys_platform == "linux"', 'pkg==1.2; sys_platform == "linux"'),
    ],
)
def test_a_requirement_becomes_a_pin_at_its_floor(requirement, pin):
    assert lowest.floor_pin(requirement) == pin


@pytest.mark.parametrize(
    ("requirement", "message"),
    [
        ("pkg", "has no floor"),
        ("pkg<2", "has no floor"),
        ("pkg==1.*", "has no floor"),
        ("pkg>=1,>=2", "has 2 floors"),
        ("pkg @ https://example.invalid/pkg.whl", "cannot parse"),
        ("pkg>=1,=>2", "cannot parse version specifier '=>2'"),
    ],
)
def test_a_requirement_without_one_readable_floor_is_refused(requirement, message):
    with pytest.raises(lowest.FloorError, match=re.escape(message)):
        lowest.floor_pin(requirement)


def test_a_pyproject_without_a_floor_is_one_line_naming_the_file_and_the_dependency(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["numpy>=1.26", "scipy"]\n', encoding="utf-8")
    done = _run(str(pyproject))
    assert done.returncode == 2
    assert done.stdout == ""
    expected = f"lowest_constraints: {pyproject}: dependency 'scipy' has no floor (>=, ~= or ==)"
    assert done.stderr.strip() == expected


def test_a_pyproject_without_dependencies_is_refused(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n', encoding="utf-8")
    done = _run(str(pyproject))
    assert done.returncode == 2
    assert "declares no [project] dependencies" in done.stderr


def test_output_option_writes_the_same_constraints_as_stdout(tmp_path):
    out = tmp_path / "lowest.txt"
    done = _run("--output", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert out.read_text(encoding="utf-8") == _run().stdout
