"""With a real model in the mix, a model's memory and cold start are its own, whatever
the order the models run in (each in a host process of its own)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.real_model

ANSWER_TEST = """
def test_answer(foundry_generate, foundry_prompt):
    assert foundry_generate(foundry_prompt).metrics.output_tokens > 0
"""
MIB = 1024 * 1024


def _run(tmp: Path, models: str, report: str) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--foundry-models={models}",
            f"--foundry-report={report}",
            "--foundry-prompts=prompts.json",
            f"--foundry-cache-dir={tmp / 'cache'}",
            "--foundry-max-tokens=32",
            f"--basetemp={tmp / ('basetemp-' + report)}",
            "test_answer.py",
        ],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return json.loads((tmp / report / "results.json").read_text(encoding="utf-8"))


def test_memory_and_cold_start_agree_whatever_the_order(smollm2: Path, tmp_path: Path) -> None:
    (tmp_path / "test_answer.py").write_text(ANSWER_TEST, encoding="utf-8")
    prompts = {"prompts": [{"id": "hello", "prompt": "Say hello in one sentence."}]}
    (tmp_path / "prompts.json").write_text(json.dumps(prompts), encoding="utf-8")
    runs = {
        "real-first": _run(tmp_path, f"{smollm2},tiny", "real-first"),
        "real-last": _run(tmp_path, f"tiny,{smollm2}", "real-last"),
    }
    by_model = {name: {model["slug"]: model for model in results["models"]} for name, results in runs.items()}
    for slug in ("tiny", smollm2.name):
        first, last = (by_model[name][slug] for name in runs)
        for key in ("rss_before_load_bytes", "rss_after_load_bytes", "peak_rss_bytes"):
            a, b = first["memory"][key], last["memory"][key]
            assert abs(a - b) <= max(16 * MIB, 0.2 * max(a, b)), (slug, key, a, b)
        assert first["memory"]["scope"] == "host"
    # The real model is the heavier one, in both orders: no mark can go to the wrong model.
    for name in runs:
        real, tiny = by_model[name][smollm2.name]["memory"], by_model[name]["tiny"]["memory"]
        assert real["peak_rss_bytes"] - tiny["peak_rss_bytes"] > 64 * MIB, name
