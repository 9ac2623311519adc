"""Whether two runs may be compared: same CPU, runtime versions and model files.

Pure: no pytest.  Timings from another CPU or another onnxruntime say nothing about the
change under review, so such a baseline is refused unless the caller forces the comparison.
"""

from __future__ import annotations

from pytest_foundry.errors import BaselineError, one_line
from pytest_foundry.results import Results


def hard_differences(base: Results, head: Results) -> list[str]:
    """What differs between the runs in a way that makes timings incomparable."""
    differences: list[str] = []
    base_fp, head_fp = base["fingerprint"], head["fingerprint"]
    if base_fp["cpu"] != head_fp["cpu"]:
        differences.append(f"CPU ({base_fp['cpu']!r} in the baseline, {head_fp['cpu']!r} now)")
    base_packages, head_packages = base_fp.get("packages", {}), head_fp.get("packages", {})
    for package in sorted(set(base_packages) | set(head_packages)):
        before, after = base_packages.get(package), head_packages.get(package)
        if before != after:
            differences.append(f"{package} ({before or 'absent'} in the baseline, {after or 'absent'} now)")
    # Another engine's version or thread count (llama.cpp's -t) changes its timings as
    # much as a runtime package does; an engine only one run used has no model to compare.
    base_engines, head_engines = base_fp.get("engines", {}), head_fp.get("engines", {})
    for name in sorted(set(base_engines) & set(head_engines)):
        base_engine, head_engine = base_engines[name], head_engines[name]
        compared: tuple[tuple[str, object, object], ...] = (
            ("version", base_engine["version"], head_engine["version"]),
            ("thread count", base_engine["threads"], head_engine["threads"]),
        )
        for label, engine_before, engine_after in compared:
            if engine_before != engine_after:
                differences.append(f"{name} {label} ({engine_before} in the baseline, {engine_after} now)")
    head_models = {model["slug"]: model for model in head["models"]}
    for base_model in base["models"]:
        head_model = head_models.get(base_model["slug"])
        if head_model is None:
            continue
        slug = base_model["slug"]
        before_id, after_id = base_model.get("model_id"), head_model.get("model_id")
        if before_id and after_id and before_id != after_id:
            differences.append(f"model variant of {slug} ({before_id} in the baseline, {after_id} now)")
        before_device, after_device = base_model.get("device"), head_model.get("device")
        if before_device and after_device and before_device != after_device:
            differences.append(f"device of {slug} ({before_device} in the baseline, {after_device} now)")
        before_ep, after_ep = base_model.get("execution_provider"), head_model.get("execution_provider")
        if before_ep and after_ep and before_ep != after_ep:
            differences.append(f"execution provider of {slug} ({before_ep} in the baseline, {after_ep} now)")
        before_hash, after_hash = base_model.get("files_sha256"), head_model.get("files_sha256")
        if before_hash and after_hash and before_hash != after_hash:
            differences.append(
                f"model files of {slug} (sha256 {before_hash[:12]} in the baseline, {after_hash[:12]} now)"
            )
    return differences


def soft_differences(base: Results, head: Results) -> list[str]:
    """Differences worth a warning that do not invalidate the comparison on their own."""
    notes: list[str] = []
    for key, label in (("os", "OS"), ("python", "Python"), ("cores", "core count"), ("ram_bytes", "RAM")):
        before, after = base["fingerprint"].get(key), head["fingerprint"].get(key)
        if before != after:
            notes.append(f"runs differ in {label} ({before} in the baseline, {after} now)")
    for key in ("backend", "max_tokens", "temperature", "seed"):
        before, after = base["run"].get(key), head["run"].get(key)
        if before != after:
            notes.append(f"runs differ in {key} ({before} in the baseline, {after} now)")
    return notes + lockstep_notes(base, head)


def measured_in_lockstep(base: Results, head: Results) -> bool:
    """Were both runs measured in lockstep, most of their turns partnered?"""
    sides = [base["run"].get("lockstep"), head["run"].get("lockstep")]
    return all(side is not None and side["partnered_turns"] > side["solo_turns"] for side in sides)


APART_NOTE = (
    "the runs were not measured in lockstep: wall-clock figures (TTFT, TPOT, decode, E2E, load "
    "time) only warn by default, and CPU time per token gates speed (docs/gate.md)"
)


def lockstep_notes(base: Results, head: Results) -> list[str]:
    """Where the runs were not measured in lockstep all along, drift is not cancelled."""
    sides = (("baseline", base["run"].get("lockstep")), ("head", head["run"].get("lockstep")))
    with_lockstep = [label for label, lockstep in sides if lockstep is not None]
    if len(with_lockstep) == 1:
        side = with_lockstep[0]
        return [f"only the {side} run was measured in lockstep: drift between the runs is not cancelled"]
    notes: list[str] = []
    for label, lockstep in sides:
        if lockstep is not None and lockstep["solo_turns"]:
            total = lockstep["partnered_turns"] + lockstep["solo_turns"]
            reason = f" ({lockstep['note']})" if lockstep["note"] else ""
            notes.append(
                f"the {label} run took {lockstep['solo_turns']} of {total} turns without its lockstep "
                f"partner{reason}: drift between the runs is cancelled only for the others"
            )
    return notes


def check_comparable(base: Results, head: Results, *, force: bool) -> list[str]:
    """Warnings to record; raises BaselineError on hard differences unless forced."""
    differences = hard_differences(base, head)
    if differences and not force:
        raise BaselineError(
            one_line(
                "refusing to compare with a baseline recorded on a different setup: different "
                + "; different ".join(differences)
                + ". Record a new baseline here, or force the comparison.",
                limit=600,
            )
        )
    return [f"compared across different {difference}" for difference in differences] + soft_differences(
        base, head
    )
