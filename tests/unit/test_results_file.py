"""results.json: the schema matches results.py, loading validates, writing is atomic and stable."""

from __future__ import annotations

import copy
import json
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from pytest_foundry import results as results_module
from pytest_foundry.errors import ConfigError
from pytest_foundry.json_files import load_schema
from pytest_foundry.results import SCHEMA_NAME, SCHEMA_VERSION, Results
from pytest_foundry.results_file import dumps_results, load_results, write_results
from pytest_foundry.runtime.base import Engine, ModelSource

FIXTURE = Path(__file__).parent / "data" / "results.json"
SOURCE = "foundry-report/results.json"


@pytest.fixture
def data() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return loaded


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- the schema says exactly what results.py says -------------------------------------

SCHEMA_DEFS = {
    "Results": None,  # the root
    "RunRecord": "run",
    "FingerprintRecord": "fingerprint",
    "GitRecord": "git",
    "ModelRecord": "model",
    "MemoryRecord": "memory",
    "CellRecord": "cell",
    "RequestRecord": "request",
    "SummaryRecord": "summary",
    "OutputRecord": "output",
    "QualityRecord": "quality",
}


def _json_types(annotation: Any) -> set[str]:
    """The JSON types a Python annotation allows."""
    origin = typing.get_origin(annotation)
    if origin is typing.NotRequired:
        return _json_types(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_json_types(arg) for arg in typing.get_args(annotation)))
    if origin is typing.Literal:
        return {"string" if isinstance(arg, str) else "integer" for arg in typing.get_args(annotation)}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}
    if annotation in simple:
        return {simple[annotation]}
    if origin is list:
        return {"array"}
    if origin is dict or typing.is_typeddict(annotation):
        return {"object"}
    raise AssertionError(f"no JSON type for {annotation!r}")


def _schema_types(schema: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    if "$ref" in schema:
        return _schema_types(defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    if "const" in schema:
        return {"integer" if isinstance(schema["const"], int) else "string"}
    if "enum" in schema:
        return {{str: "string", type(None): "null", int: "integer"}[type(v)] for v in schema["enum"]}
    kind = schema["type"]
    return set(kind) if isinstance(kind, list) else {kind}


@pytest.mark.parametrize("typed_dict", sorted(SCHEMA_DEFS))
def test_schema_has_the_same_keys_types_and_required_set_as_results_py(typed_dict: str) -> None:
    schema = load_schema("results")
    defs = schema["$defs"]
    node = schema if SCHEMA_DEFS[typed_dict] is None else defs[SCHEMA_DEFS[typed_dict]]
    cls = getattr(results_module, typed_dict)
    hints = typing.get_type_hints(cls, include_extras=True)
    assert set(node["properties"]) == set(hints), typed_dict
    if typed_dict == "QualityRecord":
        # Filled by another module: open to keys this version does not know yet.
        assert node.get("additionalProperties", True) is not False
        assert not node.get("required")
    else:
        assert node["additionalProperties"] is False
        # Not cls.__required_keys__: under postponed annotations Python 3.11 misses NotRequired.
        required = {key for key, hint in hints.items() if typing.get_origin(hint) is not typing.NotRequired}
        assert set(node["required"]) == required
    for key, annotation in hints.items():
        expected = _json_types(annotation)
        actual = _schema_types(node["properties"][key], defs)
        assert actual == expected, (typed_dict, key)


def test_enums_match_the_literals() -> None:
    defs = load_schema("results")["$defs"]
    assert tuple(defs["cell"]["properties"]["status"]["enum"]) == results_module.CELL_STATUSES
    assert set(defs["model"]["properties"]["status"]["enum"]) == set(
        typing.get_args(results_module.ModelStatus)
    )
    assert set(defs["model"]["properties"]["source"]["enum"]) == set(typing.get_args(ModelSource))
    assert set(defs["engine"]["properties"]["name"]["enum"]) == set(typing.get_args(Engine))
    schema = load_schema("results")
    assert schema["properties"]["schema"]["const"] == SCHEMA_NAME
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION


# --- loading -----------------------------------------------------------------------------


def test_the_fixture_loads() -> None:
    results = load_results(FIXTURE)
    assert [m["slug"] for m in results["models"]] == ["phi-3.5-mini", "qwen2.5-0.5b", "broken"]
    assert len(results["cells"]) == 12


def _mutate_status(d: dict[str, Any]) -> None:
    d["models"][0]["status"] = "fine"


def _drop_sample_key(d: dict[str, Any]) -> None:
    del d["cells"][1]["samples"][2]["e2e_s"]


def _extra_key(d: dict[str, Any]) -> None:
    d["run"]["colour"] = "blue"


def _bad_memory(d: dict[str, Any]) -> None:
    d["models"][1]["memory"]["peak_rss_bytes"] = "1 GB"


def _unknown_model(d: dict[str, Any]) -> None:
    d["cells"][4]["model"] = "gpt-9"


def _duplicate_slug(d: dict[str, Any]) -> None:
    d["models"][1]["slug"] = d["models"][0]["slug"]
    for cell in d["cells"]:
        cell["model"] = d["models"][0]["slug"] if cell["model"] == "qwen2.5-0.5b" else cell["model"]


def _duplicate_cell(d: dict[str, Any]) -> None:
    d["cells"].append(copy.deepcopy(d["cells"][0]))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_mutate_status, "models[0].status: 'fine' is not one of ['ok', 'load-failed', 'error', 'skipped']"),
        (_drop_sample_key, "cells[1].samples[2]: 'e2e_s' is a required property"),
        (_extra_key, "run: Additional properties are not allowed ('colour' was unexpected)"),
        (_bad_memory, "models[1].memory.peak_rss_bytes: '1 GB' is not of type 'integer', 'null'"),
        (_unknown_model, "cells[4].model: 'gpt-9' is not a slug in models[]"),
        (_duplicate_slug, "models[1].slug: 'phi-3.5-mini' appears twice"),
        (_duplicate_cell, "cells[12]: model 'phi-3.5-mini' × prompt 'rag_principle' appears twice"),
    ],
)
def test_invalid_content_is_one_line_naming_file_and_path(
    tmp_path: Path, data: dict[str, Any], mutate: Any, message: str
) -> None:
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_results(path)
    assert str(info.value) == f"{path}: {message}"
    assert "\n" not in str(info.value)


def test_newer_schema_version_is_named_before_other_errors(tmp_path: Path, data: dict[str, Any]) -> None:
    data["schema_version"] = SCHEMA_VERSION + 1
    data["models"] = "changed shape in v2"
    with pytest.raises(
        ConfigError, match=r"schema_version: 2 is not supported \(this pytest-foundry reads version 1\)"
    ):
        load_results(_write(tmp_path, data))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "<root>: expected a JSON object"),
        ('{"benchmarks": []}', "schema: expected 'pytest-foundry/results', got None"),
        ('{"schema": "pytest-foundry/results"', "invalid JSON at line 1"),
    ],
)
def test_not_a_results_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "results.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_results(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_results(tmp_path / "nope.json")


def test_quality_stays_open_for_the_quality_module(tmp_path: Path, data: dict[str, Any]) -> None:
    data["cells"][0]["output"]["quality"]["rubric_v2"] = {"anything": [1, 2]}
    output = load_results(_write(tmp_path, data))["cells"][0]["output"]
    assert output is not None
    assert output["quality"]["rubric_v2"] == {"anything": [1, 2]}  # type: ignore[typeddict-item]


# --- writing -----------------------------------------------------------------------------


def test_write_is_sorted_indented_with_trailing_newline_and_round_trips(tmp_path: Path) -> None:
    results = load_results(FIXTURE)
    path = tmp_path / "out" / "results.json"
    write_results(path, results)
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert text.startswith('{\n  "cells": [')
    assert load_results(path) == results
    # The fixture was written the same way: the output is byte-stable.
    assert text == FIXTURE.read_text(encoding="utf-8")


def test_write_refuses_nan_and_leaves_the_old_file(tmp_path: Path) -> None:
    results: Results = load_results(FIXTURE)
    path = tmp_path / "results.json"
    path.write_text("old", encoding="utf-8")
    broken = copy.deepcopy(results)
    broken["cells"][0]["samples"][0]["e2e_s"] = float("nan")
    with pytest.raises(ConfigError, match=r"cells\[0\]\.samples\[0\]\.e2e_s: NaN or infinity"):
        write_results(path, broken)
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_write_refuses_an_invalid_record(tmp_path: Path) -> None:
    results = copy.deepcopy(load_results(FIXTURE))
    results["cells"][0]["status"] = "great"  # type: ignore[typeddict-item]
    with pytest.raises(ConfigError, match=r"cells\[0\]\.status: 'great' is not one of"):
        dumps_results(results, "x/results.json")
