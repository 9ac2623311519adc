"""Which models a run tests: requested names expanded to ModelRequests with stable,
collision-free slugs.

Pure: no pytest.  Test ids read ``[<model-slug>-<prompt-id>]``.  Prompt ids hold no
"-" (see prompts.py), so the last "-" splits the pair unambiguously; model slugs are
checked for collisions here, so two different models never share test ids or a
snapshot folder.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from pytest_foundry.errors import ConfigError
from pytest_foundry.model_config import ModelsFile
from pytest_foundry.runtime.base import ModelRequest
from pytest_foundry.runtime.embedded import (
    EMBEDDED_ALIAS,
    EMBEDDED_CAPABILITIES,
    EMBEDDED_LICENSE,
    EMBEDDED_NAMES,
)

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]")


def model_slug(name: str) -> str:
    """A file-name and test-id safe slug.  ':' becomes '@' (``phi-4:1`` -> ``phi-4@1``),
    so ``phi-4:1`` and ``phi-41`` stay apart; other unsafe characters become '_'."""
    return _UNSAFE.sub("_", name.replace(":", "@")).strip("._") or "model"


# GGUF models are served by llama.cpp; their slugs say so, so they never share a snapshot
# folder with the same model served by Foundry Local (their outputs differ).
GGUF_SUFFIX = ".gguf"
LLAMA_SLUG_SUFFIX = "@llama.cpp"


def is_gguf(name: str | Path) -> bool:
    return str(name).lower().endswith(GGUF_SUFFIX)


def gguf_slug(path: Path) -> str:
    """``models/SmolLM2-135M-Instruct.Q4_1.gguf`` -> ``SmolLM2-135M-Instruct.Q4_1@llama.cpp``."""
    return model_slug(path.name[: -len(GGUF_SUFFIX)]) + LLAMA_SLUG_SUFFIX


def _looks_like_folder(name: str) -> bool:
    return "/" in name or "\\" in name or name.startswith((".", "~")) or Path(name).is_dir()


def model_requests(
    names: Sequence[str], models_file: ModelsFile | None, base_dir: Path
) -> list[ModelRequest]:
    """Expand requested names (models.json aliases, folders, ids) into ModelRequests."""
    requests: list[ModelRequest] = []
    for name in names:
        entry = models_file.entries.get(name) if models_file else None
        if entry is not None:
            request = ModelRequest(
                requested=name,
                slug=model_slug(name),
                path=entry.path,
                model_id=entry.id,
                license=entry.license,
                capabilities=entry.capabilities,
                notes=entry.notes,
                size_mb=entry.size_mb,
                engine="llama.cpp" if entry.path is not None and is_gguf(entry.path) else "foundry-local",
            )
        elif name in EMBEDDED_NAMES:
            request = ModelRequest(
                requested=name,
                slug=EMBEDDED_ALIAS,
                license=EMBEDDED_LICENSE,
                capabilities=EMBEDDED_CAPABILITIES,
                notes="embedded random-weight test model",
            )
        elif is_gguf(name):
            file = (base_dir / Path(name).expanduser()).resolve()
            request = ModelRequest(requested=name, slug=gguf_slug(file), path=file, engine="llama.cpp")
        elif _looks_like_folder(name):
            folder = (base_dir / Path(name).expanduser()).resolve()
            request = ModelRequest(requested=name, slug=model_slug(folder.name), path=folder)
        else:
            request = ModelRequest(requested=name, slug=model_slug(name), model_id=name)
        requests.append(request)
    # Compared case-insensitively: snapshots/<slug>/ folders must stay apart on Windows and macOS.
    by_slug: dict[str, str] = {}
    for request in requests:
        key = request.slug.lower()
        if key in by_slug:
            raise ConfigError(
                f"--foundry-models: {by_slug[key]!r} and {request.requested!r} share the id "
                f"{request.slug!r}; give them distinct aliases in a models.json"
            )
        by_slug[key] = request.requested
    return requests


def default_model_names(models_file: ModelsFile | None) -> tuple[str, ...]:
    if models_file and models_file.default:
        return models_file.default
    return (EMBEDDED_ALIAS,)
