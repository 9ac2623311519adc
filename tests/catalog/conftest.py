"""Helpers for the catalog tests: the emulator and the sealed-namespace driver.

``tests/support`` holds test-support modules, not tests; it is put on ``sys.path`` here
(the test folders are not packages).
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SUPPORT = Path(__file__).resolve().parents[1] / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))

from sealed import REPO, run_sealed, sealing_problem  # noqa: E402

TINY = REPO / "pytest_foundry" / "runtime" / "models" / "tiny"
TINY_B = REPO / "tests" / "models" / "tiny-b"
# Two short prompts keep each inner bench run to a few seconds.
PROMPTS = [
    {"id": "rag", "prompt": "Explain retrieval augmented generation in one sentence."},
    {"id": "privacy", "prompt": "Name one privacy benefit of local inference."},
]


@dataclass
class Sealed:
    """One inner project (a copy of bench_tests) run in sealed namespaces."""

    root: Path
    work: Path
    cache_dir: Path
    report_dir: Path

    def args(self, *extra: str, report: bool = False) -> list[str]:
        return [
            "bench_tests",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:hypothesispytest",
            f"--foundry-cache-dir={self.cache_dir}",
            f"--foundry-snapshot-dir={self.root / 'snapshots'}",
            f"--foundry-prompts={self.root / 'prompts.json'}",
            f"--foundry-report={self.report_dir if report else 'none'}",
            f"--basetemp={self.work / 'basetemp'}",
            "--foundry-rounds=2",
            "--foundry-warmup=0",
            "--foundry-max-tokens=8",
            *extra,
        ]

    def run(self, *steps: dict[str, Any], name: str = "run") -> list[dict[str, Any]]:
        scenario = {
            "tiny": str(TINY),
            "tiny_b": str(TINY_B),
            "steps": [{"cwd": str(self.root), **step} for step in steps],
        }
        return run_sealed(scenario, self.work / name)

    def cached_model_folders(self) -> list[Path]:
        return sorted(p.parent for p in self.cache_dir.rglob("inference_model.json"))


@pytest.fixture(scope="session")
def sealing() -> None:
    problem = sealing_problem()
    if problem is not None:
        pytest.skip(f"no loopback-only network namespace: {problem}")


def make_sealed(tmp_path: Path) -> Sealed:
    root = tmp_path / "project"
    shutil.copytree(REPO / "bench_tests", root / "bench_tests")
    (root / "prompts.json").write_text(json.dumps({"prompts": PROMPTS}))
    # An ini file of its own: the inner rootdir is this folder, not the repository.
    (root / "pytest.ini").write_text("[pytest]\n")
    return Sealed(root=root, work=tmp_path / "work", cache_dir=tmp_path / "cache", report_dir=root / "report")


@pytest.fixture
def sealed(sealing: None, tmp_path: Path) -> Sealed:
    return make_sealed(tmp_path)
