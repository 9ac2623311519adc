"""The real-model tier's shared fixture: SmolLM2-135M-Instruct, converted once per machine."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from pytest_foundry.convert import extra
from pytest_foundry.convert.cache import (
    REAL_MODEL_INSTALL,
    REAL_MODEL_SOURCE,
    default_cache_root,
    ensure_converted,
)
from pytest_foundry.convert.progress import Progress


def _skip_reason() -> str | None:
    missing = extra.missing_modules()
    if missing:
        return f"the [convert] extra is not installed (missing: {', '.join(missing)}): {extra.INSTALL_HINT}"
    try:
        importlib.metadata.distribution(REAL_MODEL_SOURCE)
    except importlib.metadata.PackageNotFoundError:
        return f"the SmolLM2 package is not installed: {REAL_MODEL_INSTALL}"
    return None


@pytest.fixture(scope="session")
def smollm2() -> Path:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    return ensure_converted(REAL_MODEL_SOURCE, default_cache_root(), progress=Progress())
