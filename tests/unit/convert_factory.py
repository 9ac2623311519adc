"""Small, valid model files for the convert tests: GGUF, safetensors, checkpoint folders
and installed-package layouts, built from bytes (no torch, no gguf package)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from pytest_foundry.convert.gguf_header import DEFAULT_ALIGNMENT, MAGIC

Scalar = int | float | bool | str

TEMPLATE = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
F32 = 0


def llama_metadata(**extra: Scalar | list[str]) -> dict[str, Scalar | list[str]]:
    """GGUF metadata of a tiny llama chat model (override or drop keys with extra)."""
    meta: dict[str, Scalar | list[str]] = {
        "general.architecture": "llama",
        "general.name": "tiny",
        "general.license": "apache-2.0",
        "llama.context_length": 4096,
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.tokens": ["<|endoftext|>", "a", "b"],
        "tokenizer.chat_template": TEMPLATE,
    }
    meta.update(extra)
    return {k: v for k, v in meta.items() if v != ""}


def write_gguf(
    path: Path,
    metadata: dict[str, Scalar | list[str]] | None = None,
    tensors: list[tuple[str, tuple[int, ...], int, bytes]] | None = None,
    alignment: int = DEFAULT_ALIGNMENT,
) -> Path:
    """Write a GGUF v3 file; ``tensors`` are (name, shape, ggml type, raw data)."""
    metadata = llama_metadata() if metadata is None else metadata
    if tensors is None:
        tensors = [("token_embd.weight", (4, 3), F32, struct.pack("<12f", *range(12)))]

    def text(value: str) -> bytes:
        raw = value.encode("utf-8")
        return struct.pack("<Q", len(raw)) + raw

    def scalar(value: Scalar) -> bytes:
        if isinstance(value, bool):
            return struct.pack("<I?", 7, value)
        if isinstance(value, int):
            return struct.pack("<IQ", 10, value)
        if isinstance(value, float):
            return struct.pack("<If", 6, value)
        return struct.pack("<I", 8) + text(value)

    out = bytearray(MAGIC + struct.pack("<IQQ", 3, len(tensors), len(metadata)))
    for key, value in metadata.items():
        out += text(key)
        if isinstance(value, list):
            out += struct.pack("<IIQ", 9, 8, len(value)) + b"".join(text(v) for v in value)
        else:
            out += scalar(value)
    offset = 0
    blobs = []
    for name, shape, ggml_type, data in tensors:
        out += text(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in shape)
        out += struct.pack("<IQ", ggml_type, offset)
        padded = data + b"\0" * (-len(data) % alignment)
        blobs.append(padded)
        offset += len(padded)
    out += b"\0" * (-len(out) % alignment)
    path.write_bytes(bytes(out) + b"".join(blobs))
    return path


def write_safetensors(path: Path, tensors: dict[str, tuple[list[int], bytes]]) -> Path:
    """A safetensors file of F32 tensors: name -> (shape, raw bytes)."""
    header: dict[str, object] = {}
    data = b""
    for name, (shape, raw) in tensors.items():
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    encoded = json.dumps(header).encode("utf-8")
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)
    return path


def make_checkpoint(folder: Path, architecture: str = "LlamaForCausalLM", template: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {"architectures": [architecture], "model_type": "llama", "max_position_embeddings": 2048}
    (folder / "config.json").write_text(json.dumps(config))
    write_safetensors(folder / "model.safetensors", {"w": ([2, 2], struct.pack("<4f", 1, 2, 3, 4))})
    (folder / "tokenizer.json").write_text("{}")
    tokenizer_config = {"chat_template": TEMPLATE} if template else {}
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    (folder / "LICENSE").write_text("Apache License 2.0\n")
    return folder


def make_package(site: Path, name: str, files: dict[str, bytes], licence: str = "Apache-2.0") -> Path:
    """An installed distribution on ``site`` (a sys.path entry): ``files`` relative to site.

    Its dist-info holds METADATA, a LICENSE and a RECORD listing everything, as pip writes them.
    """
    module = name.replace("-", "_")
    dist_info = site / f"{module}-1.0.dist-info"
    dist_info.mkdir(parents=True)
    for rel, data in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_bytes(data)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\nLicense: {licence}\n"
    )
    (dist_info / "LICENSE").write_text("Apache License 2.0\n")
    records = [*files, f"{dist_info.name}/METADATA", f"{dist_info.name}/LICENSE", f"{dist_info.name}/RECORD"]
    (dist_info / "RECORD").write_text("".join(f"{r},,\n" for r in records))
    return site / next(iter(files))
