"""Model runtimes behind one small interface (``base.Runtime``); no pytest imports."""

from __future__ import annotations

from pathlib import Path

from pytest_foundry.runtime.base import LoadedModel, ModelRequest, Runtime
from pytest_foundry.runtime.catalog import CatalogSettings


def describe_backend(endpoint: str | None) -> str:
    """The backend, for the report header (devices are per model, known once loaded)."""
    return f"backend endpoint {endpoint}" if endpoint else "backend foundry-local (a host process per model)"


def create_runtime(
    endpoint: str | None,
    cache_dir: Path | None,
    catalog: CatalogSettings | None = None,
    timeout_s: float | None = None,
) -> Runtime:
    """The endpoint runtime when a URL is given, else Foundry Local with each model in a
    host process of its own."""
    if endpoint:
        from pytest_foundry.runtime.endpoint import EndpointRuntime

        # The probe of the endpoint honours --foundry-timeout.
        return EndpointRuntime(endpoint, timeout_s) if timeout_s else EndpointRuntime(endpoint)
    from pytest_foundry.runtime.hosted import HostedRuntime

    return HostedRuntime(cache_dir=cache_dir, catalog=catalog)


__all__ = ["CatalogSettings", "LoadedModel", "ModelRequest", "Runtime", "create_runtime", "describe_backend"]
