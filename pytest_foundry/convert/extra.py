"""The ``[convert]`` extra: which of its modules are missing, and the versions in use."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pytest_foundry.convert.errors import MissingExtra

# (module, the PyPI package that provides it).  Torch, transformers and gguf load and
# dequantize the source; onnx, onnx-ir and onnxruntime-genai's model builder write the
# ONNX folder.  onnxruntime-genai-core (which foundry-local-sdk installs) has no builder.
REQUIRED: tuple[tuple[str, str], ...] = (
    ("torch", "torch"),
    ("transformers", "transformers"),
    ("accelerate", "accelerate"),  # transformers refuses to load a GGUF without it
    ("gguf", "gguf"),
    ("safetensors", "safetensors"),
    ("onnx", "onnx"),
    ("onnx_ir", "onnx-ir"),
    ("onnxruntime_genai", "onnxruntime-genai"),
)

# Versions written into provenance.json: the ones that decide the output's bytes.
TOOL_PACKAGES = (
    "pytest-foundry",
    "onnxruntime-genai",
    "onnxruntime",
    "onnx",
    "onnx-ir",
    "torch",
    "transformers",
    "accelerate",
    "tokenizers",
    "gguf",
    "safetensors",
)

INSTALL_HINT = "pip install 'pytest-foundry[convert]'"

Finder = Callable[[str], Any]


def _builder_present(spec: Any) -> bool:
    locations = getattr(spec, "submodule_search_locations", None) or []
    return any((Path(location) / "models" / "builder.py").is_file() for location in locations)


def missing_modules(
    required: Sequence[tuple[str, str]] | None = None, find_spec: Finder = importlib.util.find_spec
) -> list[str]:
    """The packages of ``required`` (default: REQUIRED) whose module cannot be found.

    Nothing is imported but the top-level packages' specs.
    """
    missing = []
    for module, package in REQUIRED if required is None else required:
        spec = find_spec(module)
        if spec is None or (module == "onnxruntime_genai" and not _builder_present(spec)):
            missing.append(package)
    return missing


def check_extra(
    required: Sequence[tuple[str, str]] | None = None, find_spec: Finder = importlib.util.find_spec
) -> None:
    """Raise MissingExtra, naming each missing package and the install command."""
    missing = missing_modules(required, find_spec)
    if missing:
        raise MissingExtra(
            f"convert needs the [convert] extra; missing: {', '.join(missing)} (install: {INSTALL_HINT})"
        )


def tool_versions(packages: Sequence[str] = TOOL_PACKAGES) -> dict[str, str]:
    versions = {}
    for package in packages:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions
