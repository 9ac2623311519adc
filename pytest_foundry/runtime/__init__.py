"""Model runtimes behind one small interface (``base.Runtime``); no pytest imports."""

from __future__ import annotations

from pathlib import Path

from pytest_foundry.runtime.base import LoadedModel, ModelRequest, Runtime
from pytest_foundry.runtime.catalog import CatalogSettings


def create_runtime(
    endpoint: str | None, cache_dir: Path | None, catalog: CatalogSettings | None = None
) -> Runtime:
    """The endpoint runtime when a URL is given, else Foundry Local in this process."""
    if endpoint:
        from pytest_foundry.runtime.endpoint import EndpointRuntime

        return EndpointRuntime(endpoint)
    from pytest_foundry.runtime.foundry_local import FoundryLocalRuntime

    return FoundryLocalRuntime(cache_dir=cache_dir, catalog=catalog)


__all__ = ["CatalogSettings", "LoadedModel", "ModelRequest", "Runtime", "create_runtime"]
