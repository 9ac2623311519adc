"""The folder writer: context, chat template, licences, provenance, digests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from convert_factory import TEMPLATE, write_gguf

from pytest_foundry.convert import folder
from pytest_foundry.convert.errors import ConvertError
from pytest_foundry.convert.recipe import Recipe
from pytest_foundry.convert.sources import input_sha256, resolve_source

GENAI = {"model": {"context_length": 8192, "type": "llama"}, "search": {"max_length": 8192, "top_k": 50}}


def built_folder(path: Path) -> Path:
    """What the builder leaves: config, tokenizer files, the template beside them, weights."""
    path.mkdir()
    (path / "genai_config.json").write_text(json.dumps(GENAI, indent=4))
    (path / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<|im_end|>"}))
    (path / "chat_template.jinja").write_text("old")
    (path / "model.onnx").write_bytes(b"\x08\x01")
    return path


def test_set_context_sets_max_length_and_context_length(tmp_path: Path) -> None:
    out = built_folder(tmp_path / "out")
    folder.set_context(out, 2048)
    config = json.loads((out / "genai_config.json").read_text())
    assert (config["search"]["max_length"], config["model"]["context_length"]) == (2048, 2048)
    assert config["search"]["top_k"] == 50


def test_set_context_rejects_a_foreign_config(tmp_path: Path) -> None:
    (tmp_path / "genai_config.json").write_text("{}")
    with pytest.raises(ConvertError, match="not an onnxruntime-genai config"):
        folder.set_context(tmp_path, 2048)


def test_chat_template_goes_into_tokenizer_config(tmp_path: Path) -> None:
    out = built_folder(tmp_path / "out")
    folder.set_chat_template(out, TEMPLATE)
    config = json.loads((out / "tokenizer_config.json").read_text())
    assert config == {"eos_token": "<|im_end|>", "chat_template": TEMPLATE}
    assert (out / "chat_template.jinja").read_text() == TEMPLATE


def test_licences_are_copied_and_same_named_ones_kept_apart(tmp_path: Path) -> None:
    out = built_folder(tmp_path / "out")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "LICENSE").write_text("one")
    (tmp_path / "b" / "LICENSE").write_text("two")
    (tmp_path / "b" / "NOTICE").write_text("notice")
    files = (tmp_path / "a" / "LICENSE", tmp_path / "b" / "LICENSE", tmp_path / "b" / "NOTICE")
    assert folder.copy_licences(out, files) == ["LICENSE", "b-LICENSE", "NOTICE"]
    assert (out / "b-LICENSE").read_text() == "two"


def test_provenance_records_source_recipe_tools_and_files(tmp_path: Path) -> None:
    gguf = write_gguf(tmp_path / "m.gguf")
    source = resolve_source(str(gguf))
    out = built_folder(tmp_path / "out")
    sha = input_sha256(source)
    provenance = folder.write_provenance(out, source, sha, Recipe(), {"onnxruntime-genai": "0.18.0"}, [])
    assert provenance == folder.read_provenance(out)
    assert provenance["source"]["sha256"] == sha
    assert provenance["source"]["label"] == "m.gguf"
    assert provenance["recipe"]["digest"] == Recipe().digest()
    assert set(provenance["files"]) == {
        "genai_config.json",
        "tokenizer_config.json",
        "chat_template.jinja",
        "model.onnx",
    }
    assert str(tmp_path) not in (out / folder.PROVENANCE).read_text()


def test_same_inputs_give_the_same_bytes(tmp_path: Path) -> None:
    source = resolve_source(str(write_gguf(tmp_path / "m.gguf")))
    digests = []
    for name in ("one", "two"):
        out = built_folder(tmp_path / name)
        folder.set_context(out, 2048)
        folder.set_chat_template(out, TEMPLATE)
        folder.write_provenance(out, source, input_sha256(source), Recipe(), {"x": "1"}, [])
        digests.append(folder.folder_digest(out))
    assert digests[0] == digests[1]


def test_folder_digest_sees_any_byte(tmp_path: Path) -> None:
    out = built_folder(tmp_path / "out")
    before = folder.folder_digest(out)
    (out / "model.onnx").write_bytes(b"\x08\x02")
    assert folder.folder_digest(out) != before


def test_looks_complete_needs_provenance_and_every_file_at_its_size(tmp_path: Path) -> None:
    source = resolve_source(str(write_gguf(tmp_path / "m.gguf")))
    out = built_folder(tmp_path / "out")
    assert not folder.looks_complete(out)
    folder.write_provenance(out, source, "00" * 32, Recipe(), {}, [])
    assert folder.looks_complete(out)
    (out / "model.onnx").write_bytes(b"\x08")
    assert not folder.looks_complete(out)
    (out / "model.onnx").unlink()
    assert not folder.looks_complete(out)
