"""The tiny chat model shipped inside the package, so everything runs offline.

Built by ``scripts/build_tiny_model.py`` (random weights, deterministic): gibberish
text, but identical at temperature 0 everywhere, loaded in milliseconds.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

EMBEDDED_ALIAS = "tiny"
EMBEDDED_MODEL_ID = "pytest-foundry-tiny-generic-cpu:1"
EMBEDDED_LICENSE = "MIT"
EMBEDDED_CAPABILITIES = ("chat", "test-fixture")
# Names that all mean the embedded model.
EMBEDDED_NAMES = frozenset({EMBEDDED_ALIAS, EMBEDDED_MODEL_ID, EMBEDDED_MODEL_ID.split(":")[0]})


def embedded_model_path() -> Path:
    """The folder of the embedded model inside the installed package."""
    return Path(str(resources.files("pytest_foundry").joinpath("runtime", "models", "tiny")))
