"""The results builder: one record from the recorder and the pool, statuses and order."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fake_runtime import FakeChat, FakeRuntime, generation, settings

from pytest_foundry.errors import ModelError
from pytest_foundry.footprint import Footprint
from pytest_foundry.lockstep import LockstepStats
from pytest_foundry.model_pool import ModelPool, PoolSettings
from pytest_foundry.recorder import Recorder
from pytest_foundry.results_builder import UNUSED_REASON, RunContext, build_results
from pytest_foundry.results_file import validate_results
from pytest_foundry.run_inputs import load_inputs

FINGERPRINT = {
    "cpu": "test cpu",
    "cores": 2,
    "ram_bytes": 1 << 30,
    "os": "Linux",
    "python": "3.11",
    "packages": {},
}
CONTEXT = RunContext(datetime(2026, 12, 1, tzinfo=UTC), FINGERPRINT, None)  # type: ignore[arg-type]


def _run(tmp_path: Path, broken: dict[str, str] | None = None, models: str = "a,b,c"):
    (tmp_path / "a").mkdir()
    inputs = load_inputs(settings(tmp_path, models=models), tmp_path)
    pool = ModelPool(
        lambda: FakeRuntime(broken=broken or {}),
        PoolSettings(5.0, 0.0, 42, 16, 0),
        inputs.prompts[0],
        client_factory=FakeChat(),
    )
    for request in inputs.requests:
        pool.add(request)
    return inputs, pool, Recorder(16, 42)


def test_statuses_follow_what_happened_to_each_model_and_cell(tmp_path):
    inputs, pool, recorder = _run(tmp_path, broken={"b": "b: folder missing"})
    first, second = inputs.prompts[0], inputs.prompts[1]
    pool.acquire("a")
    recorder.record_latency("a", [(first, generation("a", finish="length"))], warmup=0)
    recorder.record_latency("a", [(second, generation("a"))], warmup=0)
    pool.acquire("a")
    with pytest.raises(ModelError):
        pool.acquire("b")
    results = build_results(inputs, recorder, pool.models, CONTEXT, lambda path: None)
    validate_results(results, "built")
    models = {m["slug"]: (m["status"], m["reason"]) for m in results["models"]}
    assert models == {
        "a": ("ok", None),
        "b": ("load-failed", "b: folder missing"),
        "c": ("skipped", UNUSED_REASON),
    }
    cells = {(c["model"], c["prompt"]): c["status"] for c in results["cells"]}
    assert cells[("a", first.id)] == "truncated"
    assert cells[("a", second.id)] == "ok"
    # A model that never loaded still has one cell per prompt, with the reason.
    assert [p for m, p in cells if m == "b"] == [p.id for p in inputs.prompts]
    assert {cells[k] for k in cells if k[0] == "b"} == {"load-failed"}


def test_cells_follow_the_models_order_then_the_prompts_order(tmp_path):
    inputs, pool, recorder = _run(tmp_path, models="c,a")
    last, first = inputs.prompts[-1], inputs.prompts[0]
    for model in ("a", "c"):
        for prompt in (last, first):
            recorder.record_latency(model, [(prompt, generation(model))], warmup=0)
    results = build_results(inputs, recorder, pool.models, CONTEXT, lambda path: None)
    assert [(c["model"], c["prompt"]) for c in results["cells"]] == [
        ("c", first.id),
        ("c", last.id),
        ("a", first.id),
        ("a", last.id),
    ]


def test_footprint_lockstep_and_summaries_are_recorded(tmp_path):
    inputs, pool, recorder = _run(tmp_path, models="./a")
    asked: list[Path] = []

    def footprint(path: Path) -> Footprint:
        asked.append(path)
        return Footprint(bytes=1234, files=1, sha256="ab" * 32)

    recorder.record_latency("a", [(inputs.prompts[0], generation("a", ttft_ms=t)) for t in (10, 20, 30)], 1)
    context = RunContext(CONTEXT.created_at, FINGERPRINT, None, LockstepStats(seat=0, partnered_turns=3))  # type: ignore[arg-type]
    results = build_results(inputs, recorder, pool.models, context, footprint)
    assert asked == [tmp_path / "a"]
    assert results["models"][0]["disk_bytes"] == 1234
    cell = results["cells"][0]
    assert len(cell["warmup"]) == 1
    assert cell["summary"]["ttft_s"]["median"] == 0.025
    assert results["run"]["lockstep"]["partnered_turns"] == 3
    assert results["created_at"] == "2026-12-01T00:00:00+00:00"
