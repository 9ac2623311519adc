"""Checks of a Hugging Face checkpoint folder, without torch: config and weight files.

A safetensors file is an 8-byte little-endian header length, a JSON header that gives
each tensor's byte range, then the data: a file shorter than its last range, or whose
header is not JSON, is corrupt (an interrupted copy, a Git LFS pointer).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from pytest_foundry.convert.errors import CorruptInput, UnsupportedArchitecture
from pytest_foundry.convert.recipe import HF_ARCHITECTURES

_MAX_HEADER = 100 * 1024 * 1024  # the format's own limit


def read_config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorruptInput(f"{folder}: not a Hugging Face checkpoint (no config.json)") from None
    except (OSError, ValueError) as exc:
        raise CorruptInput(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise CorruptInput(f"{path}: not a JSON object")
    return config


def architecture(folder: Path, config: dict[str, Any]) -> str:
    """``architectures[0]`` of the config, checked against what the recipe can build."""
    names = config.get("architectures")
    name = names[0] if isinstance(names, list) and names and isinstance(names[0], str) else None
    if name is None:
        raise UnsupportedArchitecture(
            f"{folder / 'config.json'}: no 'architectures' entry, so the model family is unknown"
        )
    if name not in HF_ARCHITECTURES:
        raise UnsupportedArchitecture(
            f"{folder}: unsupported architecture {name} (supported: {', '.join(sorted(HF_ARCHITECTURES))})"
        )
    return name


def check_safetensors(path: Path) -> None:
    """Raise CorruptInput when ``path`` is not a complete safetensors file."""
    try:
        size = path.stat().st_size
        with path.open("rb") as stream:
            head = stream.read(8)
            if len(head) != 8:
                raise CorruptInput(f"{path}: truncated safetensors file ({size} bytes)")
            (length,) = struct.unpack("<Q", head)
            if length > _MAX_HEADER or 8 + length > size:
                raise CorruptInput(
                    f"{path}: corrupt or truncated safetensors file (header of {length:,} bytes)"
                )
            header = json.loads(stream.read(length))
    except OSError as exc:
        raise CorruptInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError:
        raise CorruptInput(f"{path}: corrupt safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise CorruptInput(f"{path}: corrupt safetensors file (its header is not a JSON object)")
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise CorruptInput(f"{path}: corrupt safetensors file (tensor {name!r} has no data_offsets)")
        end = max(end, offsets[1])
    if 8 + length + end > size:
        raise CorruptInput(
            f"{path}: truncated safetensors file ({size:,} bytes, its header needs {8 + length + end:,})"
        )


def weight_files(folder: Path) -> list[Path]:
    """The checkpoint's weight files, each checked; at least one safetensors file."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        found = sorted(p.name for p in folder.glob("*.bin"))
        hint = f" (found {', '.join(found)}: convert them to safetensors first)" if found else ""
        raise CorruptInput(f"{folder}: no *.safetensors weights{hint}")
    for path in files:
        check_safetensors(path)
    return files
