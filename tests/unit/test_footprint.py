"""Size and hash of a model folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from pytest_foundry.footprint import CHUNK_BYTES, folder_footprint, folder_size


def _make(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


FILES = {
    "genai_config.json": b'{"model": {}}',
    "model.onnx": b"\x08\x07" * 1000,
    "weights/model.onnx.data": bytes(range(256)) * 50,
}


def test_size_is_the_sum_of_the_files_recursively(tmp_path: Path) -> None:
    root = _make(tmp_path / "m", FILES)
    expected = sum(len(data) for data in FILES.values())
    assert folder_size(root) == expected
    footprint = folder_footprint(root)
    assert footprint.bytes == expected
    assert footprint.files == 3


def test_hash_covers_sorted_relative_names_sizes_and_bytes(tmp_path: Path) -> None:
    root = _make(tmp_path / "m", FILES)
    digest = hashlib.sha256()
    for name in sorted(FILES):
        digest.update(f"{name}\0{len(FILES[name])}\0".encode())
        digest.update(FILES[name])
    assert folder_footprint(root).sha256 == digest.hexdigest()


def test_hash_does_not_depend_on_location_or_creation_order(tmp_path: Path) -> None:
    first = _make(tmp_path / "a", FILES)
    second = _make(tmp_path / "elsewhere" / "b", dict(reversed(list(FILES.items()))))
    assert folder_footprint(first).sha256 == folder_footprint(second).sha256


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "model.onnx").write_bytes(b"\x08\x07" * 999 + b"\x08\x08"),
        lambda root: (root / "model.onnx").rename(root / "model2.onnx"),
        lambda root: (root / "extra.txt").write_bytes(b""),
    ],
    ids=["one-byte", "rename", "empty-file-added"],
)
def test_any_change_of_bytes_or_names_changes_the_hash(tmp_path: Path, change: object) -> None:
    root = _make(tmp_path / "m", FILES)
    before = folder_footprint(root).sha256
    change(root)  # type: ignore[operator]
    assert folder_footprint(root).sha256 != before


def test_file_boundaries_are_part_of_the_hash(tmp_path: Path) -> None:
    one = _make(tmp_path / "one", {"a": b"xy", "b": b"z"})
    two = _make(tmp_path / "two", {"a": b"x", "b": b"yz"})
    assert folder_footprint(one).sha256 != folder_footprint(two).sha256


def test_large_files_are_streamed_in_chunks_with_the_same_digest(tmp_path: Path) -> None:
    data = os.urandom(CHUNK_BYTES * 2 + 12345)
    root = _make(tmp_path / "m", {"big.bin": data})
    expected = hashlib.sha256(f"big.bin\0{len(data)}\0".encode() + data).hexdigest()
    footprint = folder_footprint(root)
    assert footprint.sha256 == expected
    assert footprint.bytes == len(data)


def test_a_single_file_is_its_own_footprint(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"abc")
    assert folder_footprint(path).bytes == 3
    assert folder_size(path) == 3


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="needs POSIX symlinks")
def test_symlinks_are_followed_but_counted_once_and_loops_end(tmp_path: Path) -> None:
    blobs = _make(tmp_path / "blobs", {"blob1": b"x" * 100})
    root = tmp_path / "snapshot"
    root.mkdir()
    # Hugging Face style: the snapshot's files are links to blobs elsewhere.
    (root / "model.onnx").symlink_to(blobs / "blob1")
    (root / "same-again.onnx").symlink_to(blobs / "blob1")
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "dangling").symlink_to(tmp_path / "missing")
    footprint = folder_footprint(root)
    assert footprint.bytes == 100
    assert footprint.files == 2  # both names are hashed; the loop is not entered again
    assert folder_size(root) == 100


def test_missing_folder_raises_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        folder_footprint(tmp_path / "nope")
    with pytest.raises(FileNotFoundError):
        folder_size(tmp_path / "nope")
