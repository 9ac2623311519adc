"""Regenerate ``results.json`` beside this file: a fixed, realistic run for the report tests.

Two catalog models on CPU (phi-3.5-mini, qwen2.5-0.5b), one model folder that fails to
load, four prompts, 5 measured rounds (so p95 is flagged as small-n), one truncated cell
and one cell that errored.  Timings are synthetic but go through the real metrics code.

    python tests/unit/data/make_results.py
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

from pytest_foundry.metrics import StreamTiming, compute_request_metrics, summarize_requests
from pytest_foundry.results import CellRecord, ModelRecord, Results

HERE = Path(__file__).resolve().parent
ROUNDS = 5
MAX_TOKENS = 64
PROMPTS = {
    # prompt id -> (prompt tokens that scale TTFT, typical answer tokens)
    "rag_principle": (18, 52),
    "privacy_benefits": (14, 60),
    "summarize_notes": (160, 45),
    "json_extract": (70, 64),
}
BROKEN_REASON = "genai_config.json not found in models/broken (is this an ONNX Runtime GenAI model folder?)"


def _timing(rng: random.Random, ttft_s: float, tpot_s: float, tokens: int, finish: str) -> StreamTiming:
    # Microsecond-quantised clock readings keep the JSON short and its numbers readable.
    start = 1_000_000_000
    first = start + round(ttft_s * rng.uniform(0.9, 1.25) * 1e6) * 1000
    content = [first]
    for _ in range(tokens - 1):
        content.append(content[-1] + round(tpot_s * rng.uniform(0.85, 1.2) * 1e6) * 1000)
    end = content[-1] + round(rng.uniform(0.5, 2.0) * 1e3) * 1000
    return StreamTiming(start, end, tuple(content), tokens, tokens, finish)


def _cell(
    rng: random.Random,
    model: str,
    prompt: str,
    speed: tuple[float, float, float],
    quality: dict[str, Any] | None,
    snapshot: str = "matched",
) -> CellRecord:
    prefill_s_per_token, base_ttft_s, tpot_s = speed
    prompt_tokens, answer_tokens = PROMPTS[prompt]
    truncated = answer_tokens >= MAX_TOKENS
    finish = "length" if truncated else "stop"
    ttft_s = base_ttft_s + prefill_s_per_token * prompt_tokens

    def request() -> Any:
        tokens = MAX_TOKENS if truncated else answer_tokens + rng.randint(-4, 4)
        return compute_request_metrics(_timing(rng, ttft_s, tpot_s, tokens, finish))

    warmup = [request()]
    samples = [request() for _ in range(ROUNDS)]
    text = f"[{model} on {prompt}] " + " ".join(f"word{i}" for i in range(samples[-1].output_tokens))
    if truncated:
        text = text[: len(text) * 2 // 3]
    output: dict[str, Any] = {
        "text": text,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "output_tokens": samples[-1].output_tokens,
        "finish_reason": finish,
        "snapshot": snapshot,
        "snapshot_diff": "- old answer\n+ new answer" if snapshot == "changed" else None,
    }
    if quality is not None:
        output["quality"] = quality
    return {
        "model": model,
        "prompt": prompt,
        "status": "truncated" if truncated else "ok",
        "reason": f"finish_reason=length at max_tokens={MAX_TOKENS}" if truncated else None,
        "max_tokens": MAX_TOKENS,
        "seed": 42,
        "warmup": [r.as_dict() for r in warmup],
        "samples": [r.as_dict() for r in samples],
        "summary": {name: s.as_dict() for name, s in summarize_requests(samples).items()},  # type: ignore[misc]
        "output": output,  # type: ignore[typeddict-item]
    }


def _failed_cell(model: str, prompt: str, status: str, reason: str) -> CellRecord:
    return {
        "model": model,
        "prompt": prompt,
        "status": status,  # type: ignore[typeddict-item]
        "reason": reason,
        "max_tokens": MAX_TOKENS,
        "seed": 42,
        "warmup": [],
        "samples": [],
        "summary": {},
        "output": None,
    }


def _model(slug: str, **fields: Any) -> ModelRecord:
    record: dict[str, Any] = {
        "slug": slug,
        "requested": slug,
        "model_id": None,
        "source": "catalog",
        "path": None,
        "execution_provider": None,
        "device": None,
        "files_sha256": None,
        "disk_bytes": None,
        "license": None,
        "capabilities": [],
        "notes": None,
        "status": "ok",
        "reason": None,
        "load_s": None,
        "cold_ttft_s": None,
        "memory": None,
    }
    record.update(fields)
    return record  # type: ignore[return-value]


def make_results() -> Results:
    rng = random.Random(20250601)
    mib = 1 << 20
    models = [
        _model(
            "phi-3.5-mini",
            model_id="Phi-3.5-mini-instruct-generic-cpu:1",
            execution_provider="CPUExecutionProvider",
            device="CPU",
            files_sha256=hashlib.sha256(b"phi-3.5-mini files").hexdigest(),
            disk_bytes=2_612 * mib,
            license="MIT",
            capabilities=["chat", "tools"],
            load_s=7.842,
            cold_ttft_s=0.912,
            memory={
                "scope": "server",
                "pid": 4242,
                "rss_before_load_bytes": 212 * mib,
                "peak_rss_bytes": 2_934 * mib,
                "delta_bytes": 2_722 * mib,
            },
        ),
        _model(
            "qwen2.5-0.5b",
            model_id="qwen2.5-0.5b-instruct-generic-cpu:4",
            execution_provider="CPUExecutionProvider",
            device="CPU",
            files_sha256=hashlib.sha256(b"qwen2.5-0.5b files").hexdigest(),
            disk_bytes=822 * mib,
            license="Apache-2.0",
            capabilities=["chat"],
            load_s=1.964,
            cold_ttft_s=0.248,
            memory={
                "scope": "server",
                "pid": 4242,
                "rss_before_load_bytes": 236 * mib,
                "peak_rss_bytes": 1_071 * mib,
                "delta_bytes": 835 * mib,
            },
        ),
        _model(
            "broken",
            requested="models/broken",
            source="folder",
            path="models/broken",
            notes="a half-copied model folder",
            status="load-failed",
            reason=BROKEN_REASON,
        ),
    ]
    phi_speed = (0.0011, 0.160, 0.079)
    qwen_speed = (0.0003, 0.041, 0.0215)
    phi_quality: dict[str, dict[str, Any]] = {
        "rag_principle": {
            "checks_score": 1.0,
            "judge": {"mean": 4.0, "n": 3},
            "annotation": {"score": 4, "stale": False},
        },
        "privacy_benefits": {"checks_score": 0.5, "judge": {"mean": 3.5, "n": 3}},
        "summarize_notes": {
            "checks_score": 1.0,
            "judge": {"mean": 4.0, "n": 3},
            "annotation": {"score": 2, "stale": True},
        },
        "json_extract": {"checks_score": 0.75, "judge": {"mean": 3.0, "n": 3}},
    }
    cells: list[CellRecord] = []
    for prompt in PROMPTS:
        cells.append(
            _cell(
                rng,
                "phi-3.5-mini",
                prompt,
                phi_speed,
                phi_quality[prompt],
                "created" if prompt == "rag_principle" else "matched",
            )
        )
    for prompt in PROMPTS:
        if prompt == "summarize_notes":
            cells.append(
                _failed_cell(
                    "qwen2.5-0.5b",
                    prompt,
                    "error",
                    "ModelError: server closed the stream after 3 chunks (HTTP 500)",
                )
            )
        else:
            cells.append(
                _cell(
                    rng,
                    "qwen2.5-0.5b",
                    prompt,
                    qwen_speed,
                    None,
                    "changed" if prompt == "privacy_benefits" else "matched",
                )
            )
    for prompt in PROMPTS:
        cells.append(_failed_cell("broken", prompt, "load-failed", BROKEN_REASON))
    return {
        "schema": "pytest-foundry/results",
        "schema_version": 1,
        "created_at": "2025-06-01T09:30:00Z",
        "run": {
            "backend": "foundry-local",
            "endpoint": None,
            "rounds": ROUNDS,
            "warmup": 1,
            "max_tokens": MAX_TOKENS,
            "seed": 42,
            "temperature": 0.0,
            "timeout_s": 120.0,
            "power_watts": 15.0,
            "price_per_kwh": 0.3,
            "prompts_file": None,
            "models_file": "models.json",
        },
        "fingerprint": {
            "cpu": "Intel(R) Core(TM) Ultra 7 155H",
            "cores": 22,
            "ram_bytes": 34_089_582_592,
            "os": "Windows-11-10.0.26100-SP0",
            "python": "3.12.4",
            "packages": {
                "foundry-local-sdk": "2.2.1",
                "onnxruntime": "1.22.0",
                "onnxruntime-genai-core": "0.8.2",
            },
        },
        "git": {"commit": "3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39", "dirty": False},
        "models": models,
        "cells": cells,
    }


if __name__ == "__main__":
    text = json.dumps(make_results(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    (HERE / "results.json").write_text(text, encoding="utf-8")
    print(f"wrote {HERE / 'results.json'}")
