"""Saving and finding baselines: earlier results.json files to compare a run with.

Pure: no pytest.  Layout, one folder per name (a later save under the same name replaces it)::

    <baseline_dir>/<name>/results.json    the run, exactly as results_file writes it
    <baseline_dir>/<name>/baseline.json   name, commit, dirty, created_at, saved_at,
                                          fingerprint_sha256, models

``baseline.json`` is written after ``results.json``, both atomically, so a reader never
sees a half-written baseline.  There is no shared index file: concurrent saves of
different names cannot clash, and listing a folder is cheap.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_foundry.atomic_files import atomic_write_text
from pytest_foundry.errors import BaselineError, ConfigError, one_line
from pytest_foundry.results import Results

DEFAULT_BASELINE_DIR = Path(".foundry") / "baselines"
RESULTS_FILE = "results.json"
META_FILE = "baseline.json"
# A name is one path component: no separators, no leading dot, nothing a shell must quote.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class BaselineInfo:
    name: str
    path: Path  # the results.json
    commit: str | None
    dirty: bool
    created_at: str  # when the run was recorded
    saved_at: str
    fingerprint_sha256: str


def fingerprint_sha256(results: Results) -> str:
    """Hash of what makes timings comparable: CPU, runtime versions and each model's files."""
    fingerprint = results["fingerprint"]
    key: dict[str, object] = {
        "cpu": fingerprint["cpu"],
        "packages": fingerprint["packages"],
        "models": sorted(
            [model["slug"], model.get("model_id"), model.get("files_sha256")] for model in results["models"]
        ),
    }
    if fingerprint.get("engines"):
        key["engines"] = fingerprint.get("engines")  # absent before llama.cpp: old hashes stand
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(
            f"baseline name {name!r}: use letters, digits, '.', '_' or '-' (starting with a letter or digit)"
        )
    return name


def save_baseline(
    results: Results, name: str, baseline_dir: str | os.PathLike[str] = DEFAULT_BASELINE_DIR
) -> Path:
    """Store ``results`` as baseline ``name``; returns the path of its results.json."""
    from pytest_foundry.results_file import dumps_results

    folder = Path(baseline_dir) / check_name(name)
    results_path = folder / RESULTS_FILE
    atomic_write_text(results_path, dumps_results(results, results_path))
    git = results.get("git")
    meta = {
        "name": name,
        "commit": git["commit"] if git else None,
        "dirty": bool(git["dirty"]) if git else False,
        "created_at": results["created_at"],
        "saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "fingerprint_sha256": fingerprint_sha256(results),
        "models": [model["slug"] for model in results["models"]],
    }
    atomic_write_text(folder / META_FILE, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return results_path


def resolve_baseline(
    name_or_path: str | os.PathLike[str], baseline_dir: str | os.PathLike[str] = DEFAULT_BASELINE_DIR
) -> Path:
    """The results.json that ``name_or_path`` means: a file, a folder holding one, or a saved name."""
    if not os.fspath(name_or_path).strip():
        raise BaselineError("no baseline given: name a saved baseline or a results.json")
    candidate = Path(name_or_path)
    if candidate.is_file():
        return candidate
    if candidate.is_dir():
        inside = candidate / RESULTS_FILE
        if inside.is_file():
            return inside
        raise BaselineError(f"{candidate}: the folder holds no {RESULTS_FILE}")
    text = os.fspath(name_or_path)
    if _NAME.match(text):
        saved = Path(baseline_dir) / text / RESULTS_FILE
        if saved.is_file():
            return saved
        names = [info.name for info in list_baselines(baseline_dir)]
        known = f"saved: {', '.join(names)}" if names else "none saved yet"
        raise BaselineError(
            f"baseline {text!r}: no such file, and no baseline of that name in {baseline_dir} ({known})"
        )
    raise BaselineError(f"{text}: no such file or folder")


def load_baseline(path: str | os.PathLike[str], role: str = "baseline") -> Results:
    """Read and validate a results.json; any problem is one BaselineError line naming the file."""
    from pytest_foundry.results_file import load_results

    try:
        return load_results(path)
    except ConfigError as error:
        # ConfigError's message already names the file and the JSON path.
        raise BaselineError(one_line(f"cannot use {role}: {error}")) from None


def list_baselines(baseline_dir: str | os.PathLike[str] = DEFAULT_BASELINE_DIR) -> list[BaselineInfo]:
    """The saved baselines, by name; folders without a readable baseline.json are skipped."""
    root = Path(baseline_dir)
    if not root.is_dir():
        return []
    infos: list[BaselineInfo] = []
    for folder in sorted(root.iterdir()):
        meta = _read_meta(folder / META_FILE)
        if meta is None or not (folder / RESULTS_FILE).is_file():
            continue
        infos.append(
            BaselineInfo(
                name=folder.name,
                path=folder / RESULTS_FILE,
                commit=meta.get("commit") if isinstance(meta.get("commit"), str) else None,
                dirty=bool(meta.get("dirty")),
                created_at=str(meta.get("created_at", "")),
                saved_at=str(meta.get("saved_at", "")),
                fingerprint_sha256=str(meta.get("fingerprint_sha256", "")),
            )
        )
    return infos


def _read_meta(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
