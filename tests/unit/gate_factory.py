"""Builders of synthetic results.json records for the gate's unit tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from pytest_foundry.results import SCHEMA_NAME, SCHEMA_VERSION

CPU = "Synthetic CPU @ 3.0GHz"
PACKAGES = {"foundry-local-sdk": "2.2.0", "onnxruntime": "1.22.0", "onnxruntime-genai-core": "0.9.0"}


def request(
    ttft_s: float, tpot_s: float, tokens: int = 64, cpu_per_token_s: float | None = None
) -> dict[str, Any]:
    e2e_s = ttft_s + tpot_s * (tokens - 1)
    record: dict[str, Any] = {
        "ttft_s": ttft_s,
        "e2e_s": e2e_s,
        "output_tokens": tokens,
        "tokens_estimated": False,
        "tpot_s": tpot_s,
        "decode_tps": 1.0 / tpot_s,
        "e2e_tps": tokens / e2e_s,
        "gaps_s": [],
        "finish_reason": "stop",
    }
    if cpu_per_token_s is not None:
        record["cpu_per_token_s"] = cpu_per_token_s
    return record


def noisy_requests(
    rng: np.random.Generator,
    n: int,
    *,
    ttft_s: float = 0.050,
    tpot_s: float = 0.020,
    noise: float = 0.02,
    tokens: int = 64,
    cpu_per_token_s: float | None = None,
) -> list[dict[str, Any]]:
    """n requests whose TTFT, TPOT (and CPU time per token, if given) vary by ``noise``
    (relative, log-normal)."""
    ttfts = ttft_s * rng.lognormal(0.0, noise, n)
    tpots = tpot_s * rng.lognormal(0.0, noise, n)
    cpus = cpu_per_token_s * rng.lognormal(0.0, noise, n) if cpu_per_token_s is not None else [None] * n
    return [
        request(float(t), float(p), tokens, None if c is None else float(c))
        for t, p, c in zip(ttfts, tpots, cpus, strict=True)
    ]


def output(
    text: str, snapshot: str | None = "matched", quality: dict[str, Any] | None = None
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "text": text,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "output_tokens": len(text.split()),
        "finish_reason": "stop",
        "snapshot": snapshot,
        "snapshot_diff": None,
    }
    if quality is not None:
        record["quality"] = quality
    return record


def cell(
    model: str,
    prompt: str,
    samples: Sequence[dict[str, Any]],
    *,
    status: str = "ok",
    text: str | None = None,
    quality: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "model": model,
        "prompt": prompt,
        "status": status,
        "reason": None if status in ("ok", "truncated") else f"{status} in test",
        "max_tokens": 64,
        "seed": 42,
        "warmup": [],
        "samples": list(samples),
        "summary": {},
        "output": output(text if text is not None else f"{model} answers {prompt}.", quality=quality),
    }


def model(
    slug: str,
    *,
    load_s: float | None = 2.0,
    peak_rss_bytes: int | None = 800 * 1024 * 1024,
    model_id: str | None = None,
    files_sha256: str | None = "ab" * 32,
    status: str = "ok",
) -> dict[str, Any]:
    return {
        "slug": slug,
        "requested": slug,
        "model_id": model_id or f"{slug}:1",
        "source": "embedded",
        "path": None,
        "execution_provider": "CPUExecutionProvider",
        "device": "CPU",
        "files_sha256": files_sha256,
        "disk_bytes": 1000,
        "license": "MIT",
        "capabilities": ["chat"],
        "notes": None,
        "status": status,
        "reason": None if status == "ok" else "failed in test",
        "load_s": load_s,
        "cold_ttft_s": 0.1,
        "memory": {
            "scope": "host",
            "pid": 1,
            "rss_before_load_bytes": 100 * 1024 * 1024,
            "peak_rss_bytes": peak_rss_bytes,
            "delta_bytes": None,
        },
    }


def results(
    models: Sequence[dict[str, Any]],
    cells: Sequence[dict[str, Any]],
    *,
    cpu: str = CPU,
    packages: dict[str, str | None] | None = None,
    commit: str = "0123456789abcdef0123456789abcdef01234567",
    lockstep: bool = True,
) -> Any:
    """A results.json record (typed Any: tests edit it freely, then pass it as Results).

    ``lockstep``: measured in lockstep with its partner (as the example workflow runs base
    and head), so wall-clock figures gate at their default tiers; False: measured apart."""
    record: Any = {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "created_at": "2025-01-01T00:00:00+00:00",
        "run": {
            "backend": "foundry-local",
            "endpoint": None,
            "rounds": 10,
            "warmup": 1,
            "max_tokens": 64,
            "seed": 42,
            "temperature": 0.0,
            "timeout_s": 60.0,
            "power_watts": 15.0,
            "price_per_kwh": 0.3,
            "prompts_file": None,
            "models_file": None,
        },
        "fingerprint": {
            "cpu": cpu,
            "cores": 8,
            "ram_bytes": 16 * 1024**3,
            "os": "Linux",
            "python": "3.11.7",
            "packages": dict(PACKAGES if packages is None else packages),
        },
        "git": {"commit": commit, "dirty": False},
        "models": list(models),
        "cells": list(cells),
    }
    if lockstep:
        record["run"]["lockstep"] = {
            "seat": 0,
            "partnered_turns": 40,
            "solo_turns": 0,
            "waited_s": 1.0,
            "note": None,
        }
    return record


def synthetic_run(
    seed: int,
    *,
    n: int = 10,
    noise: float = 0.02,
    slowdown: float = 1.0,
    models: Sequence[str] = ("tiny",),
    prompts: Sequence[str] = ("hello", "story"),
    load_s: float = 2.0,
    peak_mib: float = 800.0,
    cpu_per_token_s: float | None = None,
    cpu_slowdown: float = 1.0,
    lockstep: bool = True,
) -> Any:
    """A run of every model x prompt; ``slowdown`` multiplies TTFT and TPOT (1.2 = 20 % slower),
    ``cpu_slowdown`` the CPU time per token (recorded only when ``cpu_per_token_s`` is given)."""
    rng = np.random.default_rng(seed)
    cpu = cpu_per_token_s * cpu_slowdown if cpu_per_token_s is not None else None
    cells = [
        cell(
            m,
            p,
            noisy_requests(
                rng, n, ttft_s=0.050 * slowdown, tpot_s=0.020 * slowdown, noise=noise, cpu_per_token_s=cpu
            ),
        )
        for m in models
        for p in prompts
    ]
    return results(
        [model(m, load_s=load_s, peak_rss_bytes=int(peak_mib * 1024 * 1024)) for m in models],
        cells,
        lockstep=lockstep,
    )
