"""What a pytest-xdist worker hands the controller: its cells and its models' figures.

Pure: no pytest.  Under ``-n N`` each worker measures whole models (grouped by model),
then sends one payload of plain values (dicts, lists, numbers, strings: what execnet
carries) through ``workeroutput``.  The controller merges every worker's payload into
its own recorder and model pool, and only it writes results.json, the report, the
baseline and the gate, and prints the table: one run, one record.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

from pytest_foundry.concurrency import TimedRequest
from pytest_foundry.level_runner import LevelRun
from pytest_foundry.metrics import RequestMetrics
from pytest_foundry.model_pool import ColdStart, PooledModel
from pytest_foundry.recorder import CellState, LevelState, Recorder
from pytest_foundry.results import OutputRecord
from pytest_foundry.runtime.base import EngineInfo, LoadedModel
from pytest_foundry.status import CellStatus

PAYLOAD_VERSION = 2

# The model figures a worker measured, copied onto the controller's PooledModel as they are.
_MODEL_FIELDS = ("error", "broken", "detail", "unavailable", "rss_before_load", "memory_pid")
_LOADED_FIELDS = (
    "model_id",
    "base_url",
    "source",
    "device",
    "execution_provider",
    "load_s",
    "pid",
    "rss_before_load",
    "rss_after_load",
    "license",
)


def _loaded(model: LoadedModel) -> dict[str, Any]:
    data: dict[str, Any] = {name: getattr(model, name) for name in _LOADED_FIELDS}
    data["path"] = str(model.path) if model.path is not None else None
    data["extra"] = dict(model.extra)
    data["capabilities"] = list(model.capabilities)
    data["engine"] = asdict(model.engine) if model.engine is not None else None
    return data


def export_records(
    recorder: Recorder, models: dict[str, PooledModel], errors: list[str] | tuple[str, ...] = ()
) -> dict[str, Any]:
    """The worker's payload: every cell it recorded and every model it touched."""
    cells = [
        {
            "model": cell.model,
            "prompt": cell.prompt,
            "max_tokens": cell.max_tokens,
            "seed": cell.seed,
            "warmup": [m.as_dict() for m in cell.warmup],
            "samples": [m.as_dict() for m in cell.samples],
            "output": dict(cell.output) if cell.output is not None else None,
            "status": cell.status,
            "reason": cell.reason,
            "detail": cell.detail,
        }
        for cell in recorder.cells.values()
    ]
    touched: dict[str, Any] = {}
    for slug, model in models.items():
        if not (model.loads or model.error or model.broken):
            continue
        data: dict[str, Any] = {name: getattr(model, name) for name in _MODEL_FIELDS}
        data["loads"] = model.loads
        data["peak_rss"] = model.peak_rss
        data["cold_starts"] = [asdict(start) for start in model.cold_starts]
        data["loaded"] = _loaded(model.loaded) if model.loaded is not None else None
        touched[slug] = data
    return {
        "version": PAYLOAD_VERSION,
        "cells": cells,
        "asserted_snapshots": sorted([list(key) for key in recorder.asserted_snapshots]),
        "models": touched,
        "levels": [_level(state) for state in recorder.levels.values()],
        "errors": list(errors),
    }


def _level(state: LevelState) -> dict[str, Any]:
    data = {
        name: getattr(state, name) for name in ("model", "level", "prompt", "max_tokens", "seed", "warmup")
    }
    data["reason"] = state.reason
    run = state.run
    data["run"] = (
        None
        if run is None
        else {"requests": [asdict(r) for r in run.requests], "peak_rss": run.peak_rss, "cpu_s": run.cpu_s}
    )
    return data


def _level_state(data: dict[str, Any]) -> LevelState:
    run = data["run"]
    return LevelState(
        model=str(data["model"]),
        level=int(data["level"]),
        prompt=str(data["prompt"]),
        max_tokens=int(data["max_tokens"]),
        seed=int(data["seed"]),
        warmup=int(data["warmup"]),
        run=None
        if run is None
        else LevelRun(tuple(TimedRequest(**r) for r in run["requests"]), run["peak_rss"], run["cpu_s"]),
        reason=data["reason"],
    )


def import_records(payload: Any, recorder: Recorder, models: dict[str, PooledModel]) -> list[str]:
    """Merge one worker's payload into the controller's recorder and models.

    Returns the errors the worker reported (snapshot writes that failed), and one line
    for anything in the payload this controller cannot place (a model it does not run,
    another payload version): nothing is dropped without a word.
    """
    if not isinstance(payload, dict) or payload.get("version") != PAYLOAD_VERSION:
        version = payload.get("version") if isinstance(payload, dict) else None
        return [f"a worker sent records of another version ({version!r}): its cells are missing"]
    problems = [str(error) for error in payload.get("errors", [])]
    for data in payload["cells"]:
        key = (str(data["model"]), str(data["prompt"]))
        cell = recorder.cells.get(key)
        if cell is None:
            cell = recorder.cells[key] = CellState(
                model=key[0], prompt=key[1], max_tokens=int(data["max_tokens"]), seed=int(data["seed"])
            )
        cell.warmup.extend(RequestMetrics.from_dict(m) for m in data["warmup"])
        cell.samples.extend(RequestMetrics.from_dict(m) for m in data["samples"])
        if data["output"] is not None:
            cell.output = cast(OutputRecord, data["output"])
        if data["status"] is not None and cell.status is None:
            cell.status = cast(CellStatus, data["status"])
            cell.reason, cell.detail = data["reason"], data["detail"]
    recorder.asserted_snapshots.update((str(m), str(p)) for m, p in payload["asserted_snapshots"])
    for data in payload["levels"]:
        recorder.record_level(_level_state(data))
    for slug, data in payload["models"].items():
        model = models.get(slug)
        if model is None:
            problems.append(f"a worker measured model {slug!r}, which this run does not test")
            continue
        _merge_model(model, data)
    return problems


def _merge_model(model: PooledModel, data: dict[str, Any]) -> None:
    model.loads += int(data["loads"])
    for name in _MODEL_FIELDS:
        # The first worker to report a figure keeps it (one worker loads a model).
        if getattr(model, name) in (None, False) and data[name] is not None:
            setattr(model, name, data[name])
    if data["peak_rss"] is not None:
        model.peak_rss = max(model.peak_rss or 0, int(data["peak_rss"]))
    if not model.cold_starts:  # one worker loads a model: its samples, as measured
        model.cold_starts = [ColdStart(**start) for start in data["cold_starts"]]
    loaded = data["loaded"]
    if loaded is not None and model.loaded is None:
        fields = {name: loaded[name] for name in _LOADED_FIELDS}
        model.loaded = LoadedModel(
            request=model.request,
            path=Path(loaded["path"]) if loaded["path"] is not None else None,
            extra=dict(loaded["extra"]),
            capabilities=tuple(loaded["capabilities"]),
            engine=EngineInfo(**loaded["engine"]) if loaded.get("engine") is not None else None,
            **fields,
        )
    # The worker unloaded it: the controller never serves (or unloads) it.
    model.released = True
