"""Turns the builder's output into the final Foundry Local BYOM folder.

* ``genai_config.json``: ``search.max_length`` (and ``model.context_length``) set to the
  recipe's context, because onnxruntime-genai reserves the KV cache for all of it.
* ``tokenizer_config.json``: the chat template inlined as ``chat_template``: transformers
  5 writes it to ``chat_template.jinja``, which onnxruntime-genai does not read (chat
  then fails with "Empty chat template").
* the source's licence files, and ``provenance.json``: the source's hash, the recipe,
  the tool versions and every file's hash.  Nothing time- or path-dependent goes in, so
  the same input gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from pytest_foundry.convert.errors import ConvertError
from pytest_foundry.convert.recipe import Recipe
from pytest_foundry.convert.sources import Source, sha256_file

PROVENANCE = "provenance.json"
PROVENANCE_FORMAT = 1


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConvertError(f"{path}: the builder wrote no valid JSON here: {exc}") from None
    if not isinstance(data, dict):
        raise ConvertError(f"{path}: the builder wrote no JSON object here")
    return data


def _write_json(path: Path, data: dict[str, Any], indent: int = 4) -> None:
    path.write_text(json.dumps(data, indent=indent, ensure_ascii=False) + "\n", encoding="utf-8")


def set_context(folder: Path, context: int) -> None:
    path = folder / "genai_config.json"
    config = _read_json(path)
    try:
        config["search"]["max_length"] = context
        config["model"]["context_length"] = context
    except (KeyError, TypeError):
        raise ConvertError(f"{path}: no search/model section (not an onnxruntime-genai config)") from None
    _write_json(path, config)


def set_chat_template(folder: Path, template: str) -> None:
    path = folder / "tokenizer_config.json"
    config = _read_json(path) if path.exists() else {}
    config["chat_template"] = template
    _write_json(path, config, indent=2)
    jinja = folder / "chat_template.jinja"
    if jinja.exists():
        # Keep transformers' copy in step with the one onnxruntime-genai reads.
        jinja.write_text(template, encoding="utf-8")


def copy_licences(folder: Path, files: tuple[Path, ...]) -> list[str]:
    """Copy licence files in; a second file of the same name gets its parent's name prefixed."""
    written: list[str] = []
    for path in files:
        name = path.name
        if (folder / name).exists():
            if sha256_file(folder / name) == sha256_file(path):
                continue
            name = f"{path.parent.name}-{path.name}"
        shutil.copyfile(path, folder / name)
        written.append(name)
    return written


def file_hashes(folder: Path) -> dict[str, dict[str, Any]]:
    """{relative path: {"sha256", "bytes"}} of every file but provenance.json, sorted."""
    entries = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel != PROVENANCE:
            entries[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return entries


def write_provenance(
    folder: Path,
    source: Source,
    input_sha256: str,
    recipe: Recipe,
    tools: dict[str, str],
    licence_files: list[str],
) -> dict[str, Any]:
    provenance = {
        "format": PROVENANCE_FORMAT,
        "made_by": "pytest-foundry convert",
        "source": {
            "kind": source.kind,
            "label": source.label,
            "sha256": input_sha256,
            "architecture": source.architecture,
            "licence": source.licence,
            "licence_files": licence_files,
        },
        "recipe": {**recipe.as_dict(), "digest": recipe.digest()},
        "tools": tools,
        "files": file_hashes(folder),
    }
    _write_json(folder / PROVENANCE, provenance, indent=2)
    return provenance


def read_provenance(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / PROVENANCE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def looks_complete(folder: Path) -> bool:
    """True when provenance.json is there and lists files that all exist at their size."""
    provenance = read_provenance(folder)
    files = provenance.get("files") if provenance else None
    if not isinstance(files, dict) or "genai_config.json" not in files:
        return False
    for rel, entry in files.items():
        path = folder / rel
        if not (isinstance(entry, dict) and path.is_file() and path.stat().st_size == entry.get("bytes")):
            return False
    return True


def folder_digest(folder: Path) -> str:
    """One sha256 over every file's path and bytes: equal folders, equal digests."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        digest.update(sha256_file(path).encode("ascii"))
    return digest.hexdigest()


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
