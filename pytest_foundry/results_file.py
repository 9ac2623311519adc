"""Reading and writing results.json, validated against ``schemas/results.schema.json``.

Pure: no pytest.  Every problem is a one-line ConfigError naming the file, the JSON path
and what is wrong, e.g. ``foundry-report/results.json: models[0].status: 'fine' is not
one of ['ok', 'load-failed', 'skipped']``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from pytest_foundry.atomic_files import atomic_write_text
from pytest_foundry.errors import ConfigError
from pytest_foundry.json_files import json_path, load_json_file, validate_json
from pytest_foundry.results import SCHEMA_NAME, SCHEMA_VERSION, Results

RESULTS_SCHEMA = "results"


def _non_finite(data: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Paths of NaN/inf floats, which JSON cannot hold."""
    if isinstance(data, float) and not math.isfinite(data):
        yield path
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _non_finite(value, (*path, str(key)))
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            yield from _non_finite(value, (*path, index))


def validate_results(data: Any, source: str | os.PathLike[str]) -> Results:
    """Check that ``data`` is a results record this version reads; return it typed.

    The schema name and version are checked first, so a file from another tool or a newer
    pytest-foundry gets a clear message rather than the first of many schema errors.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: <root>: expected a JSON object (a pytest-foundry results file)")
    if data.get("schema") != SCHEMA_NAME:
        raise ConfigError(
            f"{source}: schema: expected {SCHEMA_NAME!r}, got {data.get('schema')!r}"
            " (not a pytest-foundry results file)"
        )
    version = data.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise ConfigError(
            f"{source}: schema_version: {version!r} is not supported"
            f" (this pytest-foundry reads version {SCHEMA_VERSION})"
        )
    for bad in _non_finite(data):
        raise ConfigError(f"{source}: {json_path(bad)}: NaN or infinity is not valid JSON")
    validate_json(data, RESULTS_SCHEMA, os.fspath(source))
    results = cast(Results, data)
    _check_references(results, source)
    return results


def _check_references(results: Results, source: str | os.PathLike[str]) -> None:
    """What the schema cannot say: slugs are unique and every cell names a model, once per prompt."""
    slugs: set[str] = set()
    for index, model in enumerate(results["models"]):
        if model["slug"] in slugs:
            raise ConfigError(f"{source}: models[{index}].slug: {model['slug']!r} appears twice")
        slugs.add(model["slug"])
    pairs: set[tuple[str, str]] = set()
    for index, cell in enumerate(results["cells"]):
        if cell["model"] not in slugs:
            raise ConfigError(f"{source}: cells[{index}].model: {cell['model']!r} is not a slug in models[]")
        pair = (cell["model"], cell["prompt"])
        if pair in pairs:
            raise ConfigError(
                f"{source}: cells[{index}]: model {pair[0]!r} × prompt {pair[1]!r} appears twice"
            )
        pairs.add(pair)


def load_results(path: str | os.PathLike[str]) -> Results:
    """Parse and validate a results.json; raises a one-line ConfigError on any problem."""
    file = Path(path)
    return validate_results(load_json_file(file), file)


def dumps_results(results: Results, source: str | os.PathLike[str] = "results.json") -> str:
    """The validated record as JSON text: sorted keys, indent 2, trailing newline."""
    validate_results(results, source)
    return json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def write_results(path: str | os.PathLike[str], results: Results) -> None:
    """Validate, then write atomically: a reader sees the old file or the new one, never half."""
    atomic_write_text(path, dumps_results(results, path))
