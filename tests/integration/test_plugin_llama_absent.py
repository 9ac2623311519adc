"""Where llama-server is not installed, a GGUF model's tests skip with that reason, in
one line; the Foundry Local models next to it run as usual."""

from __future__ import annotations

import json


def test_a_gguf_model_without_llama_server_skips_with_the_reason(inner, tmp_path):
    inner.write_prompts(inner.FOUR_PROMPTS[:1])
    inner.pytester.makepyfile(test_answer=inner.ANSWER_TEST)
    gguf = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    gguf.write_bytes(b"GGUF")  # never read: the server is looked for first
    missing = tmp_path / "no-llama-server"
    report = tmp_path / "report"
    result = inner.run(
        f"--foundry-models=tiny,{gguf}",
        f"--foundry-llama-server={missing}",
        f"--foundry-report={report}",
        "-rs",
    )
    result.assert_outcomes(passed=1, skipped=1)
    skipped = [line for line in result.outlines if line.startswith("SKIPPED")]
    assert len(skipped) == 1
    assert f"SmolLM2-135M-Instruct.Q4_1@llama.cpp: llama-server not found at {missing}" in skipped[0]
    assert "Traceback" not in result.stdout.str()
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    model = {m["slug"]: m for m in results["models"]}["SmolLM2-135M-Instruct.Q4_1@llama.cpp"]
    assert (model["status"], model["source"]) == ("skipped", "gguf")
    assert "llama-server not found" in model["reason"]
