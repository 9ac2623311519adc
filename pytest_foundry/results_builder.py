"""The results builder: recorder + models + fingerprint -> the results.json record.

Pure: no pytest, no I/O of its own (the caller passes the machine fingerprint, the git
state and the model footprints in), so one set of inputs always gives one record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pytest_foundry.footprint import Footprint
from pytest_foundry.lockstep import LockstepStats
from pytest_foundry.metrics import summarize_requests
from pytest_foundry.model_pool import PooledModel
from pytest_foundry.recorder import CellState, Recorder
from pytest_foundry.results import (
    SCHEMA_NAME,
    SCHEMA_VERSION,
    CellRecord,
    ConcurrencyRecord,
    EngineFingerprintRecord,
    EngineRecord,
    FingerprintRecord,
    GitRecord,
    LockstepRecord,
    MemoryRecord,
    ModelRecord,
    Results,
    RunRecord,
    ShardRecord,
)
from pytest_foundry.run_inputs import RunInputs
from pytest_foundry.runtime.base import ModelRequest, ModelSource
from pytest_foundry.status import CellStatus, ModelStatus

# A model that no selected test used.
UNUSED_REASON = "no test used this model"


@dataclass(frozen=True)
class RunContext:
    """What the record says about where and when the run happened."""

    created_at: datetime
    fingerprint: FingerprintRecord
    git: GitRecord | None
    lockstep: LockstepStats | None = None
    interrupted: bool = False
    shard: ShardRecord | None = None  # --foundry-shard: which models this run measured
    load_average_start: tuple[float, float, float] | None = None


def cell_status(cell: CellState, model: PooledModel) -> tuple[CellStatus, str | None]:
    """A cell's status: the model's load failure, the cell's own failure, truncated or ok."""
    if model.error is not None:
        return ("skipped" if model.unavailable else "load-failed"), model.error
    if cell.status is not None:
        return cell.status, cell.reason
    finishes = [m.finish_reason for m in cell.samples] + (
        [cell.output["finish_reason"]] if cell.output else []
    )
    if "length" in finishes:
        return "truncated", f"output reached max_tokens={cell.max_tokens}"
    return "ok", None


def model_record(model: PooledModel, footprint: Footprint | None, backend: str) -> ModelRecord:
    loaded, request = model.loaded, model.request
    path = loaded.path if loaded else request.path
    status: ModelStatus
    reason: str | None
    if model.error:
        status, reason = ("skipped" if model.unavailable else "load-failed"), model.error
    elif model.broken:
        status, reason = "error", model.broken
    else:
        status, reason = ("ok", None) if loaded else ("skipped", UNUSED_REASON)
    memory: MemoryRecord | None = None
    if model.memory_pid is not None:
        delta = (
            model.peak_rss - model.rss_before_load
            if model.peak_rss is not None and model.rss_before_load is not None
            else None
        )
        hosted = loaded is not None and loaded.pid is not None
        memory = MemoryRecord(
            scope="host" if hosted else ("in-process" if backend == "foundry-local" else "server"),
            pid=model.memory_pid,
            rss_before_load_bytes=model.rss_before_load,
            peak_rss_bytes=model.peak_rss,
            delta_bytes=delta,
        )
        if hosted:
            assert loaded is not None
            memory["rss_after_load_bytes"] = loaded.rss_after_load
    record = ModelRecord(
        slug=request.slug,
        requested=request.requested,
        model_id=loaded.model_id if loaded else request.model_id,
        source=loaded.source if loaded else _unloaded_source(request),
        path=str(path) if path else None,
        execution_provider=loaded.execution_provider if loaded else None,
        device=loaded.device if loaded else None,
        files_sha256=footprint.sha256 if footprint else None,
        disk_bytes=footprint.bytes if footprint else None,
        # models.json entries first, then what the catalog record says.
        license=request.license or (loaded.license if loaded else None),
        capabilities=list(request.capabilities or (loaded.capabilities if loaded else ())),
        notes=request.notes,
        status=status,
        reason=reason,
        load_s=model.load_s,
        cold_ttft_s=model.cold_ttft_s,
        memory=memory,
    )
    if model.cold_starts:
        record["cold_starts"] = [start.as_dict() for start in model.cold_starts]
    detail = _failure_detail(model, status, reason)
    if detail:
        record["reason_detail"] = detail  # the whole text, where reason is shortened
    if loaded is not None and loaded.engine is not None:
        engine = loaded.engine
        record["engine"] = EngineRecord(name=engine.name, version=engine.version, threads=engine.threads)
        if engine.context is not None:
            record["engine"]["context"] = engine.context
    return record


def _unloaded_source(request: ModelRequest) -> ModelSource:
    """Where a model that never loaded would have come from."""
    if request.engine == "llama.cpp":
        return "gguf"
    return "folder" if request.path else "catalog"


def engines_fingerprint(models: Iterable[PooledModel]) -> dict[str, EngineFingerprintRecord]:
    """The engines other than Foundry Local (whose versions are in ``packages``) that
    served models, with their version and thread count."""
    engines: dict[str, EngineFingerprintRecord] = {}
    for model in models:
        engine = model.loaded.engine if model.loaded is not None else None
        if engine is not None and engine.name != "foundry-local":
            engines.setdefault(
                engine.name, EngineFingerprintRecord(version=engine.version, threads=engine.threads)
            )
    return engines


def _cell_record(cell: CellState, model: PooledModel) -> CellRecord:
    status, reason = cell_status(cell, model)
    record = CellRecord(
        model=cell.model,
        prompt=cell.prompt,
        status=status,
        reason=reason,
        max_tokens=cell.max_tokens,
        seed=cell.seed,
        warmup=[m.as_dict() for m in cell.warmup],  # type: ignore[misc]
        samples=[m.as_dict() for m in cell.samples],  # type: ignore[misc]
        summary={k: v.as_dict() for k, v in summarize_requests(cell.samples).items()},  # type: ignore[misc]
        output=cell.output,
    )
    detail = cell.detail if cell.status is not None else _failure_detail(model, status, reason)
    if detail and detail != reason:
        record["reason_detail"] = detail
    return record


def _failure_detail(model: PooledModel, status: str, reason: str | None) -> str | None:
    """The model's whole failure text behind a load-failed or error status, where the
    one-line reason shortened it."""
    if status not in ("load-failed", "error") or not model.detail or model.detail == reason:
        return None
    return model.detail


def _run_record(
    inputs: RunInputs,
    lockstep: LockstepStats | None,
    interrupted: bool,
    shard: ShardRecord | None = None,
    load_average: tuple[float, float, float] | None = None,
) -> RunRecord:
    s = inputs.settings
    run = RunRecord(
        backend=inputs.backend,  # type: ignore[typeddict-item]
        endpoint=s.endpoint,
        rounds=s.rounds,
        warmup=s.warmup,
        max_tokens=s.max_tokens,
        seed=s.seed,
        temperature=s.temperature,
        timeout_s=s.timeout_s,
        power_watts=s.power_watts,
        price_per_kwh=s.price_per_kwh,
        prompts_file=str(s.prompts_file) if s.prompts_file else None,
        models_file=str(s.models_file) if s.models_file else None,
    )
    if interrupted:
        run["interrupted"] = True
    if shard is not None:
        run["shard"] = shard
    if load_average is not None:
        run["load_average_start"] = [round(value, 2) for value in load_average]
    if lockstep is not None:
        run["lockstep"] = LockstepRecord(
            seat=lockstep.seat,
            partnered_turns=lockstep.partnered_turns,
            solo_turns=lockstep.solo_turns,
            waited_s=round(lockstep.waited_s, 6),
            note=lockstep.note,
        )
    return run


def build_results(
    inputs: RunInputs,
    recorder: Recorder,
    models: dict[str, PooledModel],
    context: RunContext,
    footprint_of: Callable[[Path], Footprint | None],
) -> Results:
    """The results.json record.  ``models`` holds the models under test by slug, in
    the order given; cells follow that order, then the prompts' order."""
    model_records = []
    for model in models.values():
        path = model.loaded.path if model.loaded else model.request.path
        footprint = footprint_of(path) if path is not None else None
        model_records.append(model_record(model, footprint, inputs.backend))
    prompt_order = {p.id: i for i, p in enumerate(inputs.prompts)}
    model_order = {slug: i for i, slug in enumerate(models)}
    keys = sorted(
        (key for key in recorder.cells if key[0] in models),
        key=lambda k: (model_order[k[0]], prompt_order.get(k[1], 1 << 30), k[1]),
    )
    cells = [_cell_record(recorder.cells[key], models[key[0]]) for key in keys]
    cells.extend(_unreached_cells(inputs, models.values(), {(c["model"], c["prompt"]) for c in cells}))
    fingerprint = FingerprintRecord(**context.fingerprint)
    engines = engines_fingerprint(models.values())
    if engines:
        fingerprint["engines"] = engines
    results = Results(
        schema=SCHEMA_NAME,
        schema_version=SCHEMA_VERSION,
        created_at=context.created_at.isoformat(timespec="seconds"),
        run=_run_record(
            inputs, context.lockstep, context.interrupted, context.shard, context.load_average_start
        ),
        fingerprint=fingerprint,
        git=context.git,
        models=model_records,
        cells=cells,
    )
    if recorder.levels:
        results["concurrency"] = _concurrency_record(inputs, recorder, model_order)
    return results


def _concurrency_record(
    inputs: RunInputs, recorder: Recorder, model_order: dict[str, int]
) -> ConcurrencyRecord:
    """The sweep's levels of the models under test, in the models' order, then by level."""
    from pytest_foundry.concurrency import level_record, sweep_record

    states = sorted(
        (state for (model, _), state in recorder.levels.items() if model in model_order),
        key=lambda state: (model_order[state.model], state.level),
    )
    records = [
        level_record(
            state.model,
            state.level,
            state.prompt,
            state.max_tokens,
            state.seed,
            state.run.requests if state.run else None,
            reason=state.reason,
            warmup=state.warmup,
            peak_rss=state.run.peak_rss if state.run else None,
            cpu_s=state.run.cpu_s if state.run else None,
        )
        for state in states
    ]
    return sweep_record(records, inputs.settings.concurrency)


def _unreached_cells(
    inputs: RunInputs, models: Iterable[PooledModel], recorded: set[tuple[str, str]]
) -> Iterable[CellRecord]:
    """Cells of a model that never loaded, or broke, still appear, with the reason."""
    for model in models:
        failure = model.error or model.broken
        if failure is None:
            continue
        for prompt in inputs.prompts:
            if (model.slug, prompt.id) not in recorded:
                yield CellRecord(
                    model=model.slug,
                    prompt=prompt.id,
                    status=("skipped" if model.unavailable else "load-failed") if model.error else "error",
                    reason=failure,
                    max_tokens=prompt.max_tokens or inputs.settings.max_tokens,
                    seed=inputs.settings.seed,
                    warmup=[],
                    samples=[],
                    summary={},
                    output=None,
                )
