"""models.json: aliases with path or id, licence and capabilities; one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_foundry.errors import ConfigError
from pytest_foundry.model_config import ModelEntry, load_models_file

REPO = Path(__file__).resolve().parents[2]


def write(folder: Path, data: object, name: str = "models.json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_entries_with_every_field(tmp_path):
    path = write(
        tmp_path / "conf",
        {
            "default": ["mine"],
            "models": {
                "mine": {
                    "path": "../weights/mine",
                    "capabilities": ["chat", "meeting-notes"],
                    "license": "proprietary",
                    "size_mb": 812.5,
                    "notes": "fine-tuned",
                },
                "phi": {"id": "phi-4-mini:1"},
            },
        },
    )
    models = load_models_file(path)
    assert models.source == path
    assert models.default == ("mine",)
    assert list(models.entries) == ["mine", "phi"]
    assert models.entries["mine"] == ModelEntry(
        alias="mine",
        path=(tmp_path / "weights" / "mine").resolve(),
        capabilities=("chat", "meeting-notes"),
        license="proprietary",
        size_mb=812.5,
        notes="fine-tuned",
    )
    assert models.entries["phi"] == ModelEntry(alias="phi", id="phi-4-mini:1")


def test_paths_are_relative_to_the_models_file_not_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "a" / "b", {"models": {"m": {"path": "m-onnx"}}})
    assert load_models_file(path).entries["m"].path == tmp_path / "a" / "b" / "m-onnx"
    # A relative models.json path works the same.
    assert load_models_file(Path("a/b/models.json")).entries["m"].path == tmp_path / "a" / "b" / "m-onnx"


def test_absolute_paths_stay(tmp_path):
    target = tmp_path / "elsewhere" / "m"
    path = write(tmp_path / "conf", {"models": {"m": {"path": str(target)}}})
    assert load_models_file(path).entries["m"].path == target


def test_the_shipped_example_is_valid():
    models = load_models_file(REPO / "bench_tests" / "models.example.json")
    assert models.default == ("tiny",)
    assert {"tiny", "qwen2.5-0.5b", "phi-4-mini", "my-finetune"} <= set(models.entries)
    assert models.entries["my-finetune"].path == (REPO / "models" / "my-finetune-onnx").resolve()
    assert models.entries["qwen2.5-0.5b"].id == "qwen2.5-0.5b"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"models": {"m": {"id": "a", "licence": "MIT"}}}, r"models\.m: .*'licence' was unexpected"),
        ({"models": {"m": {"id": "a", "path": "b"}}}, r"models\.m: "),
        ({"models": {"m": {}}}, r"models\.m: "),
        ({"models": {"m": {"id": ""}}}, r"models\.m"),
        ({"models": {"m": {"id": "a", "size_mb": -1}}}, r"models\.m\.size_mb: -1 is less than the minimum"),
        ({"models": {"m": {"id": "a", "capabilities": "chat"}}}, r"models\.m\.capabilities"),
        ({"models": {"bad alias": {"id": "a"}}}, r"models: 'bad alias' does not match"),
        ({"models": {}}, r"models: \{\} should be non-empty"),
        ({"model": {"m": {"id": "a"}}}, r"<root>: "),
        ({"models": {"m": {"id": "a"}}, "default": []}, r"default: \[\] should be non-empty"),
        ([], r"<root>: \[\] is not of type 'object'"),
    ],
)
def test_invalid_files_name_the_file_and_the_key(tmp_path, data, message):
    path = write(tmp_path, data)
    with pytest.raises(ConfigError, match=message) as info:
        load_models_file(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ")
    assert "\n" not in text


def test_malformed_json(tmp_path):
    path = tmp_path / "models.json"
    path.write_text('{"models": {"m": {"id": "a",}}}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"models\.json: invalid JSON at line 1 column"):
        load_models_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"models\.json: file not found"):
        load_models_file(tmp_path / "models.json")
