"""A small, pure reader of GGUF headers: metadata and tensor table, no tensor data.

It lets ``convert`` reject a truncated or foreign file, and name its architecture,
before any heavy module is imported.  Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
(little-endian; versions 2 and 3 use 64-bit counts and lengths).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from pytest_foundry.convert.errors import CorruptInput

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

# ggml type id -> (elements per block, bytes per block), as in gguf-py's GGML_QUANT_SIZES.
GGML_TYPE_SIZES: dict[int, tuple[int, int]] = {
    0: (1, 4),  # F32
    1: (1, 2),  # F16
    2: (32, 18),  # Q4_0
    3: (32, 20),  # Q4_1
    6: (32, 22),  # Q5_0
    7: (32, 24),  # Q5_1
    8: (32, 34),  # Q8_0
    9: (32, 40),  # Q8_1
    10: (256, 84),  # Q2_K
    11: (256, 110),  # Q3_K
    12: (256, 144),  # Q4_K
    13: (256, 176),  # Q5_K
    14: (256, 210),  # Q6_K
    15: (256, 292),  # Q8_K
    16: (256, 66),  # IQ2_XXS
    17: (256, 74),  # IQ2_XS
    18: (256, 98),  # IQ3_XXS
    19: (256, 50),  # IQ1_S
    20: (32, 18),  # IQ4_NL
    21: (256, 110),  # IQ3_S
    22: (256, 82),  # IQ2_S
    23: (256, 136),  # IQ4_XS
    24: (1, 1),  # I8
    25: (1, 2),  # I16
    26: (1, 4),  # I32
    27: (1, 8),  # I64
    28: (1, 8),  # F64
    29: (256, 56),  # IQ1_M
    30: (1, 2),  # BF16
    34: (256, 54),  # TQ1_0
    35: (256, 66),  # TQ2_0
    39: (32, 17),  # MXFP4
}

# Metadata value types: id -> struct format of a scalar (8 = string, 9 = array).
_SCALARS: dict[int, str] = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRING, _ARRAY = 8, 9
# A header field larger than this is corruption, not a model (the largest real
# vocabularies hold a few hundred thousand strings).
_MAX_COUNT = 1 << 24

Scalar = int | float | bool | str


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int  # from the start of the data section

    @property
    def nbytes(self) -> int:
        block, size = GGML_TYPE_SIZES[self.ggml_type]
        elements = 1
        for dim in self.shape:
            elements *= dim
        return elements // block * size


@dataclass(frozen=True)
class GgufHeader:
    version: int
    metadata: dict[str, Scalar]  # scalars only; arrays are recorded by length in array_lengths
    array_lengths: dict[str, int]
    tensors: tuple[Tensor, ...]
    data_offset: int  # where tensor data starts in the file
    data_end: int = field(default=0)  # where the last tensor ends: the least valid file size

    @property
    def architecture(self) -> str | None:
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) else None

    def get_str(self, key: str) -> str | None:
        value = self.metadata.get(key)
        return value if isinstance(value, str) else None


class _Reader:
    def __init__(self, stream: BinaryIO, path: Path) -> None:
        self._stream = stream
        self._path = path

    def tell(self) -> int:
        return self._stream.tell()

    def take(self, size: int) -> bytes:
        data = self._stream.read(size)
        if len(data) != size:
            raise CorruptInput(
                f"{self._path}: truncated GGUF file (the header ends early at byte {self.tell()})"
            )
        return data

    def unpack(self, fmt: str) -> int | float | bool:
        value: int | float | bool = struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)))[0]
        return value

    def count(self, what: str) -> int:
        value = int(self.unpack("Q"))
        if value > _MAX_COUNT:
            raise CorruptInput(
                f"{self._path}: corrupt GGUF header ({what} {value} at byte {self.tell() - 8})"
            )
        return value

    def string(self) -> str:
        raw = self.take(self.count("string length"))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptInput(f"{self._path}: corrupt GGUF header (a string that is not UTF-8)") from None

    def skip_value(self, value_type: int) -> None:
        if value_type == _STRING:
            self.take(self.count("string length"))
        elif value_type in _SCALARS:
            self.take(struct.calcsize(_SCALARS[value_type]))
        else:
            raise CorruptInput(f"{self._path}: corrupt GGUF header (unknown value type {value_type})")


def read_gguf_header(path: Path) -> GgufHeader:
    """Parse ``path``'s header and tensor table; raise CorruptInput for anything invalid.

    A file shorter than its tensor table says (a truncated download) is corrupt too.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as stream:
            header = _parse(_Reader(stream, path), path)
    except OSError as exc:
        raise CorruptInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    if size < header.data_end:
        raise CorruptInput(
            f"{path}: truncated GGUF file ({size:,} bytes, its tensor table needs {header.data_end:,})"
        )
    return header


def _parse(reader: _Reader, path: Path) -> GgufHeader:
    magic = reader._stream.read(4)
    if magic != MAGIC:
        raise CorruptInput(f"{path}: not a GGUF file (it starts with {magic!r}, not b'GGUF')")
    version = int(reader.unpack("I"))
    if version not in (2, 3):
        raise CorruptInput(f"{path}: unsupported GGUF version {version} (2 and 3 are read)")
    tensor_count = reader.count("tensor count")
    kv_count = reader.count("metadata count")
    metadata: dict[str, Scalar] = {}
    array_lengths: dict[str, int] = {}
    for _ in range(kv_count):
        key = reader.string()
        value_type = int(reader.unpack("I"))
        if value_type == _ARRAY:
            item_type = int(reader.unpack("I"))
            length = reader.count("array length")
            array_lengths[key] = length
            for _ in range(length):
                reader.skip_value(item_type)
        elif value_type == _STRING:
            metadata[key] = reader.string()
        elif value_type in _SCALARS:
            metadata[key] = reader.unpack(_SCALARS[value_type])
        else:
            raise CorruptInput(f"{path}: corrupt GGUF header (unknown value type {value_type} for {key!r})")
    tensors = []
    for _ in range(tensor_count):
        name = reader.string()
        n_dims = int(reader.unpack("I"))
        if n_dims > 8:
            raise CorruptInput(f"{path}: corrupt GGUF header (tensor {name!r} has {n_dims} dimensions)")
        shape = tuple(int(reader.unpack("Q")) for _ in range(n_dims))
        ggml_type = int(reader.unpack("I"))
        if ggml_type not in GGML_TYPE_SIZES:
            raise CorruptInput(f"{path}: tensor {name!r} has an unknown ggml type {ggml_type}")
        tensors.append(Tensor(name, shape, ggml_type, int(reader.unpack("Q"))))
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0:
        raise CorruptInput(f"{path}: corrupt GGUF header (general.alignment = {alignment!r})")
    position = reader.tell()
    data_offset = -(-position // alignment) * alignment
    data_end = max((data_offset + t.offset + t.nbytes for t in tensors), default=data_offset)
    return GgufHeader(version, metadata, array_lengths, tuple(tensors), data_offset, data_end)
