"""The benchmark suite on a real model, next to ``tiny``: real text in the snapshots, a
shipped prompt that SmolLM2 answers right, the judge (SmolLM2 judging SmolLM2) giving
scores or recorded judge errors, and a report where the two models differ visibly."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.real_model

REPO = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
# A shipped prompt (pytest_foundry/data/prompts.json) whose every check SmolLM2 passes at
# temperature 0: a list of privacy benefits that says where the data goes.
ANSWERED_RIGHT = "privacy_benefits"


def test_the_suite_on_smollm2_and_tiny(smollm2: Path, tmp_path: Path) -> None:
    shutil.copytree(REPO / "bench_tests", tmp_path / "bench_tests")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "bench_tests",
            "-p",
            "no:cacheprovider",
            f"--foundry-models=tiny,{smollm2}",
            f"--foundry-judge={smollm2}",
            "--foundry-rounds=2",
            "--foundry-cold-starts=1",
            "--foundry-concurrency=1",
            "--foundry-report=report",
            f"--foundry-cache-dir={tmp_path / 'cache'}",
            f"--basetemp={tmp_path / 'basetemp'}",
            "--snapshot-update",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    results = json.loads((tmp_path / "report" / "results.json").read_text(encoding="utf-8"))
    real = smollm2.name
    cells = {(cell["model"], cell["prompt"]): cell for cell in results["cells"]}

    # The deterministic checks pass where the model is right.
    assert cells[(real, ANSWERED_RIGHT)]["output"]["quality"]["checks_score"] == 1.0
    # The judge gave each output a score on its scale, or a recorded reason why not.
    for (model, _), cell in cells.items():
        if model != real:
            continue
        judge = cell["output"]["quality"]["judge"]
        assert judge is not None
        assert (judge.get("mean") is not None and 1 <= judge["mean"] <= 5) or judge.get("error"), judge

    # Snapshots a reviewer can read: a header, then English sentences.
    text = (tmp_path / "snapshots" / real / "summarize_notes.txt").read_text(encoding="utf-8")
    header, _, answer = text.partition("---\n")
    assert f"# model: {real}:1" in header
    assert len(re.findall(r"\b[a-z]{3,}\b", answer)) >= 10, answer

    # A report where the two models differ visibly in memory, load time and speed.
    models = {model["slug"]: model for model in results["models"]}
    tiny, smol = models["tiny"], models[real]
    assert smol["memory"]["peak_rss_bytes"] - tiny["memory"]["peak_rss_bytes"] > 64 * MIB
    assert smol["load_s"] > 5 * tiny["load_s"]
    tpot = {m: cells[(m, ANSWERED_RIGHT)]["summary"]["tpot_s"]["median"] for m in ("tiny", real)}
    assert tpot[real] > 2 * tpot["tiny"]
    report = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert f"| {real} |" in report
    assert "| tiny |" in report
