"""The issue's done-when: ``--foundry-models=tiny,<smollm2 folder>,<smollm2 .gguf>``
compares Foundry Local and llama.cpp in one report, with the same tests, and keeps each
engine's snapshots apart (their temperature-0 outputs differ)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.llama_cpp, pytest.mark.real_model]

REPO = Path(__file__).resolve().parents[2]
LLAMA_SLUG = "SmolLM2-135M-Instruct.Q4_1@llama.cpp"
PROMPTS = {
    "prompts": [
        {"id": "rag_principle", "prompt": "Explain retrieval augmented generation in 2 sentences."},
        {
            "id": "json_extract",
            "prompt": 'Maria lives in Lisbon. Reply with JSON: {"name": ..., "city": ...}',
        },
    ]
}


def _run(tmp: Path, models: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "bench_tests",
            "-p",
            "no:cacheprovider",
            f"--foundry-models={models}",
            "--foundry-prompts=prompts.json",
            "--foundry-rounds=3",
            "--foundry-max-tokens=48",
            "--foundry-report=report",
            "--foundry-llama-threads=1",
            f"--foundry-cache-dir={tmp / 'cache'}",
            f"--basetemp={tmp / 'basetemp'}",
            *extra,
        ],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_foundry_local_and_llama_cpp_side_by_side_in_one_report(
    smollm2_folder: Path, smollm2_gguf: Path, llama_server: Path, tmp_path: Path
) -> None:
    shutil.copytree(REPO / "bench_tests", tmp_path / "bench_tests")
    (tmp_path / "prompts.json").write_text(json.dumps(PROMPTS), encoding="utf-8")
    models = f"tiny,{smollm2_folder},{smollm2_gguf}"
    first = _run(tmp_path, models, "--snapshot-update")
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert "llama.cpp for 1 GGUF model(s) (a llama-server per model, -t 1)" in first.stdout

    results = json.loads((tmp_path / "report" / "results.json").read_text(encoding="utf-8"))
    by_slug = {model["slug"]: model for model in results["models"]}
    assert list(by_slug) == ["tiny", smollm2_folder.name, LLAMA_SLUG]
    assert {slug: model["status"] for slug, model in by_slug.items()} == dict.fromkeys(by_slug, "ok")
    foundry, llama = by_slug[smollm2_folder.name], by_slug[LLAMA_SLUG]
    assert (foundry["engine"]["name"], llama["engine"]["name"]) == ("foundry-local", "llama.cpp")
    assert (llama["source"], llama["model_id"], llama["engine"]["threads"]) == (
        "gguf",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        1,
    )
    assert llama["disk_bytes"] == smollm2_gguf.stat().st_size
    assert results["fingerprint"]["engines"]["llama.cpp"]["threads"] == 1
    assert len(results["run"]["load_average_start"]) == 3
    for model in (foundry, llama):
        memory = model["memory"]
        assert memory["scope"] == "host"
        assert memory["peak_rss_bytes"] > memory["rss_before_load_bytes"]
        assert model["load_s"] > 0
    # Every cell of both engines measured, the same prompts, the same statistics.
    cells = {(cell["model"], cell["prompt"]): cell for cell in results["cells"]}
    for slug in (smollm2_folder.name, LLAMA_SLUG):
        for prompt in ("rag_principle", "json_extract"):
            cell = cells[(slug, prompt)]
            assert len(cell["samples"]) == 3
            assert cell["summary"]["decode_tps"]["median"] > 0
            assert all(sample["cpu_per_token_s"] for sample in cell["samples"])

    report = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "llama.cpp" in report
    assert "1 thread (-t)" in report
    assert "load average" in report
    for slug in ("tiny", smollm2_folder.name, LLAMA_SLUG):
        assert f"| {slug} |" in report

    # Snapshots per engine: the same model's outputs differ between the engines.
    snapshots = tmp_path / "snapshots"
    foundry_text = (snapshots / smollm2_folder.name / "json_extract.txt").read_text(encoding="utf-8")
    llama_text = (snapshots / LLAMA_SLUG / "json_extract.txt").read_text(encoding="utf-8")
    assert "# model: SmolLM2-135M-Instruct.Q4_1.gguf" in llama_text
    assert foundry_text != llama_text
    # ...and each engine matches its own on the next run.
    second = _run(tmp_path, models)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
