"""The Foundry catalog path: settings, an honest reachability probe, variant selection.

No pytest imports; ``urllib`` is imported only when a probe runs.  The SDK's own catalog
query never raises: when the catalog is down it retries for ~4.5 s and answers "no such
model", so an alias that cannot resolve would look unknown.  Before the SDK is asked,
``probe`` POSTs the same kind of query itself, bounded in time and through the same
route (``HTTPS_PROXY`` / ``NO_PROXY``, ``SSL_CERT_FILE``), and says why an alias cannot
resolve: the catalog is unreachable, the alias is not in it, or it has no variant for
this machine's devices.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_foundry.errors import ModelError, ModelUnavailable, one_line

PUBLIC_CATALOG_URL = "https://api.catalog.azureml.ms/asset-gallery/v1.0/models"
DEPLOYMENT_OPTION = "Foundry Local on Devices"
# Pages followed per query: a catalog that keeps answering with tokens is cut off.
MAX_PAGES = 20
# Device requested with a model name: ``phi-4-mini@gpu``.
DEVICES = ("cpu", "gpu", "npu")

# Execution provider -> device, for the providers Foundry Local variants use.
_EP_DEVICE = {
    "cpuexecutionprovider": "cpu",
    "cudaexecutionprovider": "gpu",
    "tensorrtexecutionprovider": "gpu",
    "nvtensorrtrtxexecutionprovider": "gpu",
    "dmlexecutionprovider": "gpu",
    "webgpuexecutionprovider": "gpu",
    "migraphxexecutionprovider": "gpu",
    "rocmexecutionprovider": "gpu",
    "qnnexecutionprovider": "npu",
    "vitisaiexecutionprovider": "npu",
    "openvinoexecutionprovider": "npu",
}
CPU_EP = "CPUExecutionProvider"


class CatalogUnreachable(ModelError):
    """No configured catalog answered a query."""


class DeviceUnavailable(ModelUnavailable):
    """The model exists, but not for a device (or execution provider) this machine has."""


@dataclass(frozen=True)
class CatalogSettings:
    """Where the SDK looks models up; picklable, so a model host process can get it."""

    urls: tuple[str, ...] = ()  # catalog POST URLs; () = the public catalog
    region: str | None = None  # model-registry region; None = the SDK's choice
    timeout_s: float = 5.0  # bound on the probe of one catalog

    @property
    def endpoints(self) -> tuple[str, ...]:
        return self.urls or (PUBLIC_CATALOG_URL,)

    def sdk_configuration(self) -> dict[str, Any]:
        """Keyword arguments for the SDK's ``Configuration``."""
        kwargs: dict[str, Any] = {}
        if self.urls:
            kwargs["catalog_urls"] = [(url, None) for url in self.urls]
        if self.region:
            kwargs["catalog_region"] = self.region
            # A region named on purpose: do not wander off to the SDK's fallback regions.
            kwargs["additional_settings"] = {"DisableRegionFallback": "true"}
        return kwargs


@dataclass(frozen=True)
class CatalogVariant:
    """The parts of one catalog record the plugin uses."""

    id: str  # name:version
    alias: str
    device: str  # cpu / gpu / npu (lower case)
    execution_provider: str
    license: str | None
    capabilities: tuple[str, ...]
    size_bytes: int | None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CatalogVariant | None:
        """None for a record the SDK would skip too (a required field missing)."""
        try:
            properties = record["properties"]
            name, version = str(properties["name"]), str(properties["version"])
            metadata = properties["variantInfo"].get("variantMetadata") or {}
            record["assetId"]  # required, like the SDK
        except (KeyError, TypeError, AttributeError):
            return None
        annotations = record.get("annotations") or {}
        system = annotations.get("systemCatalogData") or {}
        provider = str(metadata.get("executionProvider") or CPU_EP)
        device = str(metadata.get("device") or device_of(provider)).lower()
        size = metadata.get("fileSizeBytes")
        return cls(
            id=f"{name}:{version}",
            alias=str(system.get("alias") or (annotations.get("tags") or {}).get("alias") or name),
            device=device,
            execution_provider=provider,
            license=system.get("license"),
            capabilities=tuple(str(c) for c in system.get("modelCapabilities") or ()),
            size_bytes=int(size) if isinstance(size, int | float) else None,
        )

    def describe(self) -> str:
        return f"{self.id} ({self.device}/{self.execution_provider})"


def device_of(execution_provider: str) -> str:
    return _EP_DEVICE.get(execution_provider.lower(), "gpu" if "gpu" in execution_provider.lower() else "cpu")


def available_providers(registered: Iterable[str]) -> tuple[str, ...]:
    """Execution providers this machine can run, best first: the registered ones the
    SDK discovered (GPU/NPU), then the CPU provider, which is always there."""
    rank = {"gpu": 0, "npu": 1, "cpu": 2}
    names = {name for name in registered if name} | {CPU_EP}
    return tuple(sorted(names, key=lambda name: (rank.get(device_of(name), 3), name)))


def split_device(name: str) -> tuple[str, str | None]:
    """``phi-4-mini@gpu`` -> (``phi-4-mini``, ``gpu``); other names are left alone."""
    base, at, device = name.rpartition("@")
    if at and base and device.lower() in DEVICES:
        return base, device.lower()
    return name, None


def select_variant(
    name: str, variants: Sequence[CatalogVariant], providers: Sequence[str], device: str | None = None
) -> CatalogVariant:
    """The variant of ``name`` to run here: for ``device`` when one is asked for, else
    the one whose execution provider ranks best in ``providers``.  Never a variant whose
    provider this machine lacks (no silent CPU fallback): raises DeviceUnavailable."""
    usable = [p.lower() for p in providers]
    candidates = [
        v
        for v in variants
        if v.execution_provider.lower() in usable and (device is None or v.device == device)
    ]
    if candidates:
        return min(candidates, key=lambda v: (usable.index(v.execution_provider.lower()), v.id))
    here = ", ".join(sorted({device_of(p) for p in providers}))
    listed = ", ".join(v.describe() for v in sorted(variants, key=lambda v: v.id))
    wanted = f"device {device} (this machine: {here})" if device else f"this device ({here})"
    raise DeviceUnavailable(f"no variant of {name} for {wanted}; variants: {listed}")


def _query(name: str, by_id: bool) -> dict[str, Any]:
    """The catalog query the SDK sends, narrowed to one alias (or one variant name) and
    with no device filter, so variants for other devices are seen too."""
    filters: list[dict[str, Any]] = [
        {"field": "type", "operator": "eq", "values": ["models"]},
        {"field": "kind", "operator": "eq", "values": ["Versioned"]},
    ]
    if by_id:
        filters.append({"field": "name", "operator": "eq", "values": [name.partition(":")[0]]})
    else:
        filters += [
            {
                "field": "annotations/systemCatalogData/deploymentOptions",
                "operator": "eq",
                "values": [DEPLOYMENT_OPTION],
            },
            {"field": "annotations/archived", "operator": "NotEquals", "values": ["true"]},
            {"field": "labels", "operator": "eq", "values": ["latest"]},
            {"field": "annotations/tags/alias", "operator": "eq", "values": [name]},
        ]
    return {"filters": filters, "pageSize": 50}


def _post(url: str, body: dict[str, Any], timeout_s: float, bound_s: float) -> dict[str, Any]:
    """One catalog page; ``timeout_s`` is what is left of the probe's ``bound_s``."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "content-type": "application/json",
            "user-agent": "AzureAiStudio",
            "x-ms-use-full-service-contracts": "true",
        },
    )
    try:
        # The default opener honours HTTPS_PROXY/NO_PROXY and, through OpenSSL,
        # SSL_CERT_FILE: the route the native library takes.
        with urllib.request.urlopen(request, timeout=max(0.1, timeout_s)) as response:
            payload = json.loads(response.read(16 << 20))
    except urllib.error.HTTPError as exc:
        raise CatalogUnreachable(f"HTTP {exc.code} from {url}") from None
    except urllib.error.URLError as exc:
        raise CatalogUnreachable(f"{url}: {one_line(str(exc.reason))}") from None
    except TimeoutError:
        raise CatalogUnreachable(f"{url}: no answer within {bound_s:g} s") from None
    except (OSError, ValueError) as exc:
        raise CatalogUnreachable(f"{url}: {one_line(str(exc)) or type(exc).__name__}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("value"), list):
        raise CatalogUnreachable(f"{url}: the answer is not a catalog page")
    return payload


def probe(settings: CatalogSettings, name: str) -> tuple[list[CatalogVariant], list[str]]:
    """The variants of ``name`` (an alias, or a full id ``name:version``) in every
    configured catalog, and the catalogs that could not be asked, with why.

    Each catalog gets at most ``settings.timeout_s`` (all its pages together)."""
    by_id = ":" in name
    found: list[CatalogVariant] = []
    failures: list[str] = []
    for url in settings.endpoints:
        deadline = time.monotonic() + settings.timeout_s
        body = _query(name, by_id)
        seen_tokens: set[str] = set()
        try:
            for _ in range(MAX_PAGES):
                page = _post(url, body, deadline - time.monotonic(), settings.timeout_s)
                for record in page["value"]:
                    variant = CatalogVariant.from_record(record) if isinstance(record, dict) else None
                    if variant is not None and (not by_id or variant.id == name):
                        found.append(variant)
                token = page.get("continuationToken")
                if not token or token in seen_tokens:
                    break
                seen_tokens.add(str(token))
                body = {**body, "continuationToken": token}
                if time.monotonic() >= deadline:
                    raise CatalogUnreachable(f"{url}: no answer within {settings.timeout_s:g} s")
        except CatalogUnreachable as exc:
            failures.append(str(exc))
    unique = {variant.id: variant for variant in found}
    return list(unique.values()), failures
