"""Variant selection, the catalog probe, the catalog options and the emulator itself.

In-process, on 127.0.0.1 (no namespace needed: nothing here uses the SDK).
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_catalog import FakeCatalog, standard_variants
from sealed import TINY, TINY_B

from pytest_foundry.errors import ConfigError
from pytest_foundry.options import resolve_settings
from pytest_foundry.runtime.catalog import (
    CPU_EP,
    CatalogSettings,
    CatalogVariant,
    DeviceUnavailable,
    available_providers,
    probe,
    select_variant,
    split_device,
)

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


@pytest.fixture(autouse=True)
def _direct(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's proxy settings must not route the probe's loopback requests."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeCatalog]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command (for the emulator's CA) is missing")
    with FakeCatalog(
        standard_variants(TINY, TINY_B), tmp_path_factory.mktemp("tls"), page_size=1, lifetime_s=120
    ) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def _no_faults(request: pytest.FixtureRequest) -> None:
    if "fake" in request.fixturenames:
        emulator: FakeCatalog = request.getfixturevalue("fake")
        emulator.faults.catalog_status = None
        emulator.clear()


def variants_of(alias: str) -> list[CatalogVariant]:
    found = [CatalogVariant.from_record(v.record()) for v in standard_variants(TINY, TINY_B)]
    return [v for v in found if v is not None and v.alias == alias]


# -- variant selection -----------------------------------------------------------------
CPU_ONLY = available_providers([])
WITH_CUDA = available_providers(["CUDAExecutionProvider"])


def test_providers_rank_gpu_first_and_always_include_cpu() -> None:
    assert CPU_ONLY == (CPU_EP,)
    assert WITH_CUDA == ("CUDAExecutionProvider", CPU_EP)
    assert available_providers(["QNNExecutionProvider", "CUDAExecutionProvider", CPU_EP]) == (
        "CUDAExecutionProvider",
        "QNNExecutionProvider",
        CPU_EP,
    )


def test_cpu_machine_gets_the_cpu_variant() -> None:
    assert select_variant("tiny-cat", variants_of("tiny-cat"), CPU_ONLY).id == "tiny-cat-generic-cpu:1"


def test_cuda_machine_gets_the_cuda_variant_unless_cpu_is_asked_for() -> None:
    variants = variants_of("tiny-cat")
    assert select_variant("tiny-cat", variants, WITH_CUDA).id == "tiny-cat-cuda-gpu:1"
    assert select_variant("tiny-cat", variants, WITH_CUDA, "gpu").id == "tiny-cat-cuda-gpu:1"
    assert select_variant("tiny-cat", variants, WITH_CUDA, "cpu").id == "tiny-cat-generic-cpu:1"


def test_gpu_asked_for_on_a_cpu_machine_is_refused_never_run_on_cpu() -> None:
    with pytest.raises(DeviceUnavailable) as raised:
        select_variant("tiny-cat", variants_of("tiny-cat"), CPU_ONLY, "gpu")
    assert str(raised.value) == (
        "no variant of tiny-cat for device gpu (this machine: cpu); variants: "
        "tiny-cat-cuda-gpu:1 (gpu/CUDAExecutionProvider), tiny-cat-generic-cpu:1 (cpu/CPUExecutionProvider)"
    )


def test_gpu_only_model_on_a_cpu_machine_names_the_variants() -> None:
    with pytest.raises(DeviceUnavailable) as raised:
        select_variant("gpu-only", variants_of("gpu-only"), CPU_ONLY)
    assert str(raised.value) == (
        "no variant of gpu-only for this device (cpu); variants: "
        "gpu-only-cuda-gpu:1 (gpu/CUDAExecutionProvider)"
    )
    assert select_variant("gpu-only", variants_of("gpu-only"), WITH_CUDA).id == "gpu-only-cuda-gpu:1"


def test_a_gpu_variant_for_another_provider_does_not_count() -> None:
    dml = available_providers(["DmlExecutionProvider"])
    with pytest.raises(DeviceUnavailable, match="for device gpu"):
        select_variant("tiny-cat", variants_of("tiny-cat"), dml, "gpu")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("phi-4-mini@gpu", ("phi-4-mini", "gpu")),
        ("phi-4-mini@CPU", ("phi-4-mini", "cpu")),
        ("phi-4-mini", ("phi-4-mini", None)),
        ("name@v2", ("name@v2", None)),
        ("@gpu", ("@gpu", None)),
    ],
)
def test_split_device(name: str, expected: tuple[str, str | None]) -> None:
    assert split_device(name) == expected


def test_a_record_missing_a_required_field_is_skipped_like_the_sdk_does() -> None:
    record = standard_variants(TINY, TINY_B)[0].record()
    assert CatalogVariant.from_record(record) is not None
    del record["properties"]["variantInfo"]
    assert CatalogVariant.from_record(record) is None


# -- the probe -----------------------------------------------------------------------------
def test_probe_finds_every_variant_across_pages(fake: FakeCatalog) -> None:
    settings = CatalogSettings(urls=(fake.catalog_url,))
    variants, failures = probe(settings, "tiny-cat")
    assert failures == []
    assert sorted(v.id for v in variants) == ["tiny-cat-cuda-gpu:1", "tiny-cat-generic-cpu:1"]
    cpu = next(v for v in variants if v.device == "cpu")
    assert (cpu.license, cpu.capabilities) == ("mit", ("chat-completion", "tools"))
    # page_size=1: two records took two pages, the second one asked for with the token.
    bodies = fake.requests("catalog")
    assert len(bodies) == 2


def test_probe_by_full_id_finds_that_variant_only(fake: FakeCatalog) -> None:
    variants, _ = probe(CatalogSettings(urls=(fake.catalog_url,)), "tiny-cat-cuda-gpu:1")
    assert [v.id for v in variants] == ["tiny-cat-cuda-gpu:1"]


def test_probe_of_an_unknown_alias_finds_nothing(fake: FakeCatalog) -> None:
    assert probe(CatalogSettings(urls=(fake.catalog_url,)), "nosuch") == ([], [])


def test_probe_of_a_down_catalog_says_why(fake: FakeCatalog) -> None:
    fake.faults.catalog_status = 503
    assert probe(CatalogSettings(urls=(fake.catalog_url,)), "tiny-cat") == (
        [],
        [f"HTTP 503 from {fake.catalog_url}"],
    )


def test_probe_of_a_closed_port_says_why_and_other_catalogs_still_count(fake: FakeCatalog) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{unused.getsockname()[1]}/asset-gallery/v1.0/models"
    variants, failures = probe(CatalogSettings(urls=(closed, fake.catalog_url)), "tiny-b-cat")
    assert [v.id for v in variants] == ["tiny-b-cat-generic-cpu:1"]
    assert len(failures) == 1
    assert failures[0].startswith(f"{closed}: ")
    assert "refused" in failures[0].lower()


def test_probe_gives_up_on_a_silent_catalog_within_its_bound() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/models"
        settings = CatalogSettings(urls=(url,), timeout_s=0.5)
        assert probe(settings, "tiny-cat") == ([], [f"{url}: no answer within 0.5 s"])


# -- options ---------------------------------------------------------------------------------
def resolve(cli: dict[str, object], ini: dict[str, object] | None = None) -> CatalogSettings:
    settings = resolve_settings(cli, ini or {}, {}, Path("/root"), Path("/here"))
    return settings.catalog


def test_catalog_url_is_repeatable_and_region_is_passed_through() -> None:
    catalog = resolve(
        {
            "foundry_catalog_url": ["https://a.example/models", "http://127.0.0.1:1/m"],
            "foundry_catalog_region": "eastus",
        }
    )
    assert catalog == CatalogSettings(
        urls=("https://a.example/models", "http://127.0.0.1:1/m"), region="eastus"
    )
    assert catalog.sdk_configuration() == {
        "catalog_urls": [("https://a.example/models", None), ("http://127.0.0.1:1/m", None)],
        "catalog_region": "eastus",
        "additional_settings": {"DisableRegionFallback": "true"},
    }


def test_catalog_urls_from_the_ini_one_per_line_and_the_default() -> None:
    assert resolve({}, {"foundry_catalog_url": ["https://a.example/m", " ", "https://b.example/m"]}).urls == (
        "https://a.example/m",
        "https://b.example/m",
    )
    default = resolve({})
    assert default == CatalogSettings()
    assert default.sdk_configuration() == {}
    assert default.endpoints == ("https://api.catalog.azureml.ms/asset-gallery/v1.0/models",)


def test_a_catalog_url_that_is_not_http_is_a_usage_error() -> None:
    with pytest.raises(
        ConfigError, match=r"^--foundry-catalog-url: expected an http\(s\) URL, got 'ftp://x'$"
    ):
        resolve({"foundry_catalog_url": ["ftp://x"]})
    with pytest.raises(ConfigError, match=r"^ini foundry_catalog_url: "):
        resolve({}, {"foundry_catalog_url": ["catalog.example"]})


# -- the emulator ----------------------------------------------------------------------------
def test_emulator_refuses_a_replayed_or_foreign_continuation_token(fake: FakeCatalog) -> None:
    body = {"filters": [{"field": "type", "operator": "eq", "values": ["models"]}], "pageSize": 50}
    first = fake.query(body)
    assert first["continuationToken"]
    with pytest.raises(ValueError, match="bad continuationToken"):
        fake.query({**body, "filters": [], "continuationToken": first["continuationToken"]})


def test_emulator_proxy_tunnels_only_azureml_hosts(fake: FakeCatalog) -> None:
    refused = http.client.HTTPConnection("127.0.0.1", fake.proxy_port, timeout=5)
    refused.set_tunnel("mobile.events.data.microsoft.com", 443)
    with pytest.raises(OSError, match="403"):
        refused.connect()
    refused.close()
    context = ssl.create_default_context(cafile=str(fake.ca_file))
    tunnel = http.client.HTTPSConnection("127.0.0.1", fake.proxy_port, timeout=5, context=context)
    tunnel.set_tunnel("api.catalog.azureml.ms", 443)
    tunnel.request(
        "POST",
        "/asset-gallery/v1.0/models",
        body=json.dumps(
            {"filters": [{"field": "annotations/tags/alias", "operator": "eq", "values": ["tiny-b-cat"]}]}
        ),
        headers={"content-type": "application/json"},
    )
    answer = json.loads(tunnel.getresponse().read())
    tunnel.close()
    assert [r["properties"]["name"] for r in answer["value"]] == ["tiny-b-cat-generic-cpu"]
    assert [(r.kind, r.status) for r in fake.requests("connect")] == [("connect", 403), ("connect", 200)]


def test_emulator_registry_and_ranged_blob_reads(fake: FakeCatalog) -> None:
    variant = fake.find("tiny-cat-generic-cpu")
    assert variant is not None
    context = ssl.create_default_context(cafile=str(fake.ca_file))
    registry = http.client.HTTPSConnection("127.0.0.1", fake.tls_port, timeout=5, context=context)
    registry.request(
        "GET",
        f"/.api.azureml.ms/modelregistry/v1.0/registry/models/nonazureaccount?assetId={variant.asset_id}",
    )
    container = json.loads(registry.getresponse().read())["blobSasUri"]
    registry.close()
    assert container == fake.blob_url(variant)
    blobs = http.client.HTTPConnection("127.0.0.1", fake.http_port, timeout=5)
    blobs.request(
        "GET", f"/blobs/{variant.name}/genai_config.json?sig=x", headers={"x-ms-range": "bytes=2-9"}
    )
    response = blobs.getresponse()
    data = (TINY / "genai_config.json").read_bytes()
    assert response.status == 206
    assert response.getheader("Content-Range") == f"bytes 2-9/{len(data)}"
    assert response.read() == data[2:10]
    blobs.close()
    fake.faults.registry_404.add(variant.name)
    try:
        registry = http.client.HTTPSConnection("127.0.0.1", fake.tls_port, timeout=5, context=context)
        registry.request(
            "GET",
            f"/.api.azureml.ms/modelregistry/v1.0/registry/models/nonazureaccount?assetId={variant.asset_id}",
        )
        assert registry.getresponse().status == 404
        registry.close()
    finally:
        fake.faults.registry_404.clear()
