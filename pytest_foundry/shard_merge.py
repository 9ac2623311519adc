"""Merging CI shards' results.json files into one record (``pytest-foundry merge``).

Pure: no pytest, no I/O.  Each shard (``--foundry-shard=K/N``) measured whole models on
its own machine; the merge puts their models and cells into one record, so one report
compares them side by side.  Two kinds of trouble, kept apart:

* **refused** (MergeRefused, nothing written): the shards cannot stand side by side.
  Mixed machine fingerprints (another CPU or runtime version: their timings are not
  comparable, so a side-by-side report would mislead; ``force`` merges them anyway and
  names each shard's CPU), different settings (rounds, max_tokens, ...), different
  prompts, commits or splits, one shard or one model given twice.
* **incomplete** (``problems``, written, exit 1): a shard that is missing (no
  results.json for it, or an unreadable one), a shard that was interrupted, a model its
  shard should have measured but did not, models or cells that failed.  Never dropped
  silently: each is one line in the record, the report and the terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pytest_foundry.errors import FoundryError, one_line
from pytest_foundry.gate.fingerprints import hard_differences, soft_differences
from pytest_foundry.results import (
    CellRecord,
    ConcurrencyRecord,
    MergedRecord,
    MergedShardRecord,
    ModelRecord,
    Results,
    RunRecord,
    ShardRecord,
)
from pytest_foundry.shards import shard_slugs

# Run settings every shard must share: the figures differ with any of them.
SHARED_SETTINGS = (
    "backend",
    "rounds",
    "warmup",
    "max_tokens",
    "seed",
    "temperature",
    "timeout_s",
    "power_watts",
    "price_per_kwh",
)
FAILED_MODEL = ("load-failed", "error")
FAILED_CELL = ("error", "timeout", "load-failed")


class MergeRefused(FoundryError):
    """The shards cannot be merged into one record (one line)."""


@dataclass(frozen=True)
class ShardInput:
    source: str  # where it was read from, for messages
    results: Results


@dataclass(frozen=True)
class MergeOutcome:
    results: Results
    problems: tuple[str, ...]  # the merged record is incomplete (exit 1)
    notes: tuple[str, ...] = field(default=())  # worth telling, not a problem


def _shard(item: ShardInput) -> ShardRecord:
    shard = item.results["run"].get("shard")
    if shard is None:
        raise MergeRefused(f"{item.source}: not a shard's results (the run had no --foundry-shard=K/N)")
    return shard


def _check_split(items: Sequence[ShardInput]) -> tuple[int, list[str]]:
    first = _shard(items[0])
    seen: dict[int, str] = {}
    for item in items:
        shard = _shard(item)
        if (shard["count"], shard["all_models"]) != (first["count"], first["all_models"]):
            raise MergeRefused(
                f"{item.source}: shard {shard['index']}/{shard['count']} of models "
                f"{', '.join(shard['all_models'])} is not of the same split as {items[0].source} "
                f"({first['count']} shards of {', '.join(first['all_models'])})"
            )
        if shard["index"] in seen:
            raise MergeRefused(
                f"shard {shard['index']}/{shard['count']} given twice: "
                f"{seen[shard['index']]} and {item.source}"
            )
        seen[shard["index"]] = item.source
    return first["count"], first["all_models"]


def _check_same_run(items: Sequence[ShardInput], force: bool) -> list[str]:
    base = items[0]
    notes: list[str] = []
    for item in items[1:]:
        for key in SHARED_SETTINGS:
            before, after = base.results["run"].get(key), item.results["run"].get(key)
            if before != after:
                raise MergeRefused(
                    f"the shards differ in {key}: {before} in {base.source}, {after} in {item.source}; "
                    "run every shard with the same settings"
                )
        prompts = {cell["prompt"] for cell in item.results["cells"]}
        base_prompts = {cell["prompt"] for cell in base.results["cells"]}
        if prompts and base_prompts and prompts != base_prompts:
            only = sorted(prompts ^ base_prompts)
            raise MergeRefused(
                f"the shards ran different prompts ({', '.join(only)} in one only): "
                f"{base.source}, {item.source}"
            )
        base_git, git = base.results["git"], item.results["git"]
        if base_git and git and base_git["commit"] != git["commit"]:
            raise MergeRefused(
                f"the shards measured different commits: {base_git['commit'][:12]} in {base.source}, "
                f"{git['commit'][:12]} in {item.source}"
            )
        differences = hard_differences(base.results, item.results)
        if differences and not force:
            raise MergeRefused(
                one_line(
                    f"refusing to merge shards measured on different machines ({item.source} vs "
                    f"{base.source}: different " + "; different ".join(differences) + "): their figures "
                    "are not comparable side by side. Run the shards on one machine type, or merge "
                    "anyway with --force (the record then names each shard's CPU).",
                    limit=600,
                )
            )
        notes.extend(f"{item.source}: merged across different {d}" for d in differences)
        notes.extend(
            f"{item.source}: {note.replace('in the baseline', 'in ' + base.source)}"
            for note in soft_differences(base.results, item.results)
        )
    return notes


def _shard_problems(item: ShardInput) -> list[str]:
    shard = _shard(item)
    label = f"shard {shard['index']}/{shard['count']} ({item.source})"
    problems: list[str] = []
    if item.results["run"].get("interrupted"):
        problems.append(f"{label} was interrupted: its cells are partial")
    measured = {model["slug"] for model in item.results["models"]}
    for slug in shard["models"]:
        if slug not in measured:
            problems.append(f"{label}: model {slug} has no record")
    for model in item.results["models"]:
        if model["status"] in FAILED_MODEL:
            problems.append(f"{label}: model {model['slug']} {model['status']}: {model['reason']}")
    failed = [cell for cell in item.results["cells"] if cell["status"] in FAILED_CELL]
    if failed:
        names = ", ".join(f"{c['model']}-{c['prompt']} ({c['status']})" for c in failed[:5])
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        problems.append(f"{label}: {len(failed)} cell(s) failed: {names}{more}")
    return problems


def merge_shards(
    items: Sequence[ShardInput], *, unreadable: Sequence[str] = (), force: bool = False
) -> MergeOutcome:
    """One record from the shards' records.  ``unreadable``: one line per shard folder
    that held no usable results.json (each a problem, as a missing shard is).

    Raises MergeRefused when there is nothing to merge or the shards cannot stand side
    by side (see the module docstring).
    """
    if not items:
        raise MergeRefused("no shard results to merge" + (f": {'; '.join(unreadable)}" if unreadable else ""))
    items = sorted(items, key=lambda item: _shard(item)["index"])
    count, all_models = _check_split(items)
    notes = _check_same_run(items, force)
    problems: list[str] = list(unreadable)
    owner: dict[str, str] = {}
    for item in items:
        for model in item.results["models"]:
            if model["slug"] in owner:
                raise MergeRefused(
                    f"model {model['slug']} was measured by two shards: {owner[model['slug']]} and "
                    f"{item.source}; which figures hold?"
                )
            owner[model["slug"]] = item.source
        problems.extend(_shard_problems(item))
    present = {_shard(item)["index"] for item in items}
    missing = [index for index in range(1, count + 1) if index not in present]
    for index in missing:
        lost = ", ".join(shard_slugs(all_models, index, count))
        problems.append(f"shard {index}/{count} is missing: no results for {lost}")

    order = {slug: position for position, slug in enumerate(all_models)}
    models: list[ModelRecord] = sorted(
        (model for item in items for model in item.results["models"]),
        key=lambda model: order.get(model["slug"], len(order)),
    )
    prompt_order: dict[str, int] = {}
    for item in items:
        for cell in item.results["cells"]:
            prompt_order.setdefault(cell["prompt"], len(prompt_order))
    cells: list[CellRecord] = sorted(
        (cell for item in items for cell in item.results["cells"]),
        key=lambda cell: (order.get(cell["model"], len(order)), prompt_order[cell["prompt"]]),
    )
    first = items[0].results
    run: RunRecord = {key: value for key, value in first["run"].items() if key not in ("shard", "lockstep")}  # type: ignore[assignment]
    if any(item.results["run"].get("interrupted") for item in items):
        run["interrupted"] = True
    run["merged"] = MergedRecord(
        shards=[
            MergedShardRecord(
                index=_shard(item)["index"],
                count=count,
                source=item.source,
                created_at=item.results["created_at"],
                cpu=item.results["fingerprint"]["cpu"],
                models=[model["slug"] for model in item.results["models"]],
            )
            for item in items
        ],
        missing_shards=missing,
        problems=problems,
    )
    merged = Results(
        schema=first["schema"],
        schema_version=first["schema_version"],
        created_at=max(item.results["created_at"] for item in items),
        run=run,
        fingerprint=first["fingerprint"],
        git=first["git"],
        models=models,
        cells=cells,
    )
    sweep = _merged_concurrency(items, order)
    if sweep is not None:
        merged["concurrency"] = sweep
    return MergeOutcome(results=merged, problems=tuple(problems), notes=tuple(notes))


def _merged_concurrency(items: Sequence[ShardInput], order: dict[str, int]) -> ConcurrencyRecord | None:
    """The shards' concurrency sweeps as one: each shard swept its own whole models."""
    sweeps = [item.results["concurrency"] for item in items if "concurrency" in item.results]
    if not sweeps:
        return None

    def rank(slug: str) -> int:
        return order.get(slug, len(order))

    return ConcurrencyRecord(
        levels_requested=sweeps[0]["levels_requested"],
        serial_max_speedup=sweeps[0]["serial_max_speedup"],
        serial_max_overlap=sweeps[0]["serial_max_overlap"],
        levels=sorted(
            (entry for sweep in sweeps for entry in sweep["levels"]), key=lambda e: rank(e["model"])
        ),
        verdicts=sorted((v for sweep in sweeps for v in sweep["verdicts"]), key=lambda v: rank(v["model"])),
    )
