"""``--foundry-endpoint`` against a real second server: a llama-server someone else
started.  What differs from Foundry Local is handled: the model's id is the path it was
started with, the stream opens with a role-only chunk, and its usage counts the end token."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.llama_cpp

ANSWER_TEST = """
def test_answer(foundry_generate, foundry_prompt):
    assert foundry_generate(foundry_prompt).text.strip()

def test_latency(foundry_benchmark):
    assert foundry_benchmark().metrics.output_tokens > 0
"""
PROMPT = {"id": "hello", "prompt": "Say hello in one short sentence."}


def test_the_endpoint_path_measures_a_llama_server_as_foundry_counts(running_server, smollm2_gguf, tmp_path):
    (tmp_path / "test_answer.py").write_text(ANSWER_TEST, encoding="utf-8")
    (tmp_path / "prompts.json").write_text(json.dumps({"prompts": [PROMPT]}), encoding="utf-8")
    listed = running_server.get("/v1/models")["data"]
    assert [(m["id"], m["owned_by"]) for m in listed] == [(str(smollm2_gguf), "llamacpp")]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--foundry-endpoint={running_server.url}",
            # By file name: the server lists the model by the path it was started with.
            f"--foundry-models={smollm2_gguf.name}",
            "--foundry-prompts=prompts.json",
            "--foundry-rounds=1",
            "--foundry-warmup=0",
            "--foundry-max-tokens=48",
            "--foundry-report=report",
            f"--basetemp={tmp_path / 'basetemp'}",
            "test_answer.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    results = json.loads((tmp_path / "report" / "results.json").read_text(encoding="utf-8"))
    (model,) = results["models"]
    assert model["slug"] == "SmolLM2-135M-Instruct.Q4_1@llama.cpp"
    assert (model["source"], model["model_id"]) == ("endpoint", str(smollm2_gguf))
    assert model["engine"]["name"] == "llama.cpp"
    assert model["engine"]["version"]  # /props build_info
    (cell,) = results["cells"]
    (sample,) = cell["samples"]

    # The same request, unstreamed: its text is what the stream's content chunks held
    # (the role-only first chunk added nothing), and its usage counts one token more
    # when the answer ended by itself.
    direct = running_server.post(
        "/v1/chat/completions",
        {
            "messages": [{"role": "user", "content": PROMPT["prompt"]}],
            "max_tokens": 48,
            "temperature": 0.0,
            "seed": 42,
            "cache_prompt": False,
        },
    )
    choice = direct["choices"][0]
    assert cell["output"]["text"] == choice["message"]["content"]
    assert sample["finish_reason"] == cell["output"]["finish_reason"] == choice["finish_reason"]
    end_token = 1 if choice["finish_reason"] == "stop" else 0
    assert sample["output_tokens"] == cell["output"]["output_tokens"]
    assert sample["output_tokens"] == direct["usage"]["completion_tokens"] - end_token
    assert sample["tokens_estimated"] is False
    assert sample["ttft_s"] > 0
    assert len(sample["gaps_s"]) == sample["output_tokens"] - 1  # one content chunk a token
