"""models.json: the candidate models by alias, with licence and capabilities.

Pure: no pytest.  Format (``schemas/models.schema.json``)::

    {"default"?: ["tiny", ...],
     "models": {"phi-mini": {"path": "../models/phi" | "id": "phi-4-mini",
                             "capabilities": ["chat"], "license": "MIT",
                             "size_mb": 2400, "notes": "..."}}}

A ``path`` is relative to the models.json file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_foundry.json_files import load_json_file, validate_json


@dataclass(frozen=True)
class ModelEntry:
    alias: str
    path: Path | None = None
    id: str | None = None
    capabilities: tuple[str, ...] = ()
    license: str | None = None
    size_mb: float | None = None
    notes: str | None = None


@dataclass(frozen=True)
class ModelsFile:
    source: Path
    entries: dict[str, ModelEntry]
    default: tuple[str, ...] = ()


def load_models_file(path: str | Path) -> ModelsFile:
    file = Path(path)
    data = load_json_file(file)
    validate_json(data, "models", file)
    entries: dict[str, ModelEntry] = {}
    for alias, spec in data["models"].items():
        entries[alias] = ModelEntry(
            alias=alias,
            path=(file.parent / spec["path"]).resolve() if "path" in spec else None,
            id=spec.get("id"),
            capabilities=tuple(spec.get("capabilities", ())),
            license=spec.get("license"),
            size_mb=spec.get("size_mb"),
            notes=spec.get("notes"),
        )
    return ModelsFile(source=file, entries=entries, default=tuple(data.get("default", ())))
