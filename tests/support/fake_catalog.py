"""A local emulator of the Foundry Local public catalog, for offline tests of the real SDK.

Standard library plus the ``openssl`` command only.  It serves ONNX Runtime GenAI model
folders as catalog models, on 127.0.0.1 only, speaking the three protocols the native
library uses (see the project's catalog notes):

1. the catalog: ``POST .../asset-gallery/v1.0/models`` with filters and pagination;
2. the model registry: ``GET .../modelregistry/v1.0/registry/models/nonazureaccount``
   (HTTPS only), answering with a blob container URL;
3. the blob store: container list, ``HEAD`` and ranged ``GET`` of each file.

Two wirings: *region mode* (catalog URL ``http://127.0.0.1:<port>/...`` and
``catalog_region="127.0.0.1:<tls_port>/"``) and *proxy mode* (``HTTPS_PROXY`` at the
emulator's CONNECT proxy, which terminates TLS for ``*.azureml.ms`` with a throw-away CA
and refuses every other host).  Either way the CA must be trusted via ``SSL_CERT_FILE``.

Faults can be injected per run (a 503 catalog) or per variant (a registry 404, a stalled
or truncated file).  Every request is logged, so tests can assert what was (not)
fetched.  Every wait is bounded and the emulator stops by itself after ``lifetime_s``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape

CATALOG_PATH = "/asset-gallery/v1.0/models"
REGISTRY_PATH = "/modelregistry/v1.0/registry/models/nonazureaccount"
BLOB_PREFIX = "/blobs/"
DEPLOYMENT_OPTION = "Foundry Local on Devices"
# The hosts the SDK reaches through a proxy; anything else (telemetry) is refused.
PROXIED_SUFFIX = ".azureml.ms"


@dataclass(frozen=True)
class Variant:
    """One catalog model variant, served from ``folder``."""

    alias: str
    name: str  # e.g. "tiny-cat-generic-cpu"; the id is "<name>:<version>"
    folder: Path
    device: str = "cpu"
    execution_provider: str = "CPUExecutionProvider"
    version: int = 1
    license: str = "mit"
    license_description: str = "MIT License"
    capabilities: tuple[str, ...] = ("chat-completion",)
    publisher: str = "Microsoft"

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def asset_id(self) -> str:
        return f"azureml://registries/azureml/models/{self.name}/versions/{self.version}"

    def files(self) -> list[Path]:
        return sorted(p for p in self.folder.rglob("*") if p.is_file())

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.files())

    def record(self) -> dict[str, Any]:
        """The catalog record, in the shape the native library parses."""
        return {
            "assetId": self.asset_id,
            # Top-level copies of the filterable fields the SDK sends ("type", "kind",
            # "name", "labels"): the real service filters on them too.
            "type": "models",
            "kind": "Versioned",
            "name": self.name,
            "labels": ["latest"],
            "properties": {
                "name": self.name,
                "version": str(self.version),
                "creationContext": {"createdTime": "2025-01-01T00:00:00Z"},
                "variantInfo": {
                    "parents": [{"assetId": f"azureml://registries/azureml/models/{self.alias}/versions/1"}],
                    "variantMetadata": {
                        "modelType": "ONNX",
                        "device": self.device,
                        "executionProvider": self.execution_provider,
                        "fileSizeBytes": self.size(),
                        "quantization": ["int4"],
                    },
                },
            },
            "annotations": {
                "systemCatalogData": {
                    "alias": self.alias,
                    "displayName": self.alias,
                    "publisher": self.publisher,
                    "license": self.license,
                    "licenseDescription": self.license_description,
                    "inferenceTasks": ["chat-completion"],
                    "modelCapabilities": list(self.capabilities),
                    "textContextWindow": 2048,
                    "maxOutputTokens": 1024,
                    "inputModalities": ["text"],
                    "outputModalities": ["text"],
                    "deploymentOptions": [DEPLOYMENT_OPTION],
                },
                "tags": {"alias": self.alias},
            },
        }


@dataclass
class Faults:
    """What goes wrong; tests may change it between runs (reads are atomic enough)."""

    catalog_status: int | None = None  # every catalog POST answers this status (e.g. 503)
    registry_404: set[str] = field(default_factory=set)  # variant names
    stall: dict[str, str] = field(default_factory=dict)  # variant name -> file that stalls
    truncate: dict[str, str] = field(default_factory=dict)  # variant name -> file cut short
    stall_s: float = 20.0  # how long a stalled response hangs before the connection drops
    slow: dict[str, str] = field(default_factory=dict)  # variant name -> file sent slowly
    slow_s: float = 1.5  # the pause in the middle of a slow file


@dataclass(frozen=True)
class Request:
    """One request the emulator answered (after TLS termination, for proxied ones)."""

    kind: str  # "catalog", "registry", "list", "head", "get", "connect", "other"
    method: str
    host: str
    path: str
    status: int
    variant: str | None = None
    file: str | None = None
    range: str | None = None
    time: float = 0.0


def _matches(record: dict[str, Any], filters: Iterable[dict[str, Any]]) -> bool:
    for item in filters:
        field_path = str(item.get("field", ""))
        operator = str(item.get("operator", "eq")).lower()
        wanted = {str(v).lower() for v in item.get("values", [])}
        value: Any = record
        for part in field_path.split("/"):
            value = value.get(part) if isinstance(value, dict) else None
        have = {str(v).lower() for v in (value if isinstance(value, list) else [value]) if v is not None}
        hit = bool(have & wanted)
        if operator == "eq" and not hit:
            return False
        if operator == "notequals" and hit:
            return False
    return True


def make_tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate it signed, for 127.0.0.1 and the
    azureml.ms hosts.  Returns (ca.pem, server.pem, server.key)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_pem = folder / "ca.key", folder / "ca.pem"
    key, csr, pem, ext = (
        folder / "server.key",
        folder / "server.csr",
        folder / "server.pem",
        folder / "ext.cnf",
    )
    ext.write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,"
        "DNS:api.catalog.azureml.ms,DNS:*.catalog.azureml.ms,DNS:*.api.azureml.ms,DNS:*.azureml.ms\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    commands = [
        [
            "openssl",
            "req",
            "-x509",
            *ec,
            "-keyout",
            ca_key,
            "-out",
            ca_pem,
            "-days",
            "2",
            "-subj",
            "/CN=pytest-foundry throw-away test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        ["openssl", "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=api.catalog.azureml.ms"],
        [
            "openssl",
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca_pem,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            pem,
            "-days",
            "2",
            "-extfile",
            ext,
        ],
    ]
    for command in commands:
        subprocess.run([str(c) for c in command], check=True, capture_output=True, timeout=30)
    return ca_pem, pem, key


class FakeCatalog:
    """The emulator: ``start()``, point the SDK at it, read ``requests``, ``stop()``."""

    def __init__(
        self,
        variants: Iterable[Variant],
        tls_dir: Path,
        *,
        page_size: int = 2,
        lifetime_s: float = 300.0,
    ) -> None:
        self.variants = list(variants)
        self.faults = Faults()
        self.page_size = page_size
        self.lifetime_s = lifetime_s
        self.ca_file, cert, key = make_tls_files(tls_dir)
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(cert, key)
        self._log: list[Request] = []
        self._lock = threading.Lock()
        self.stopped = threading.Event()  # also releases stalled responses
        self._servers: list[ThreadingHTTPServer] = []
        self._timer: threading.Timer | None = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> FakeCatalog:
        handler = _handler_for(self)
        for _ in range(3):  # plain HTTP (catalog + blobs), HTTPS (registry), CONNECT proxy
            server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            server.daemon_threads = True
            self._servers.append(server)
        https = self._servers[1]
        https.socket = self._tls.wrap_socket(https.socket, server_side=True, do_handshake_on_connect=False)
        for server in self._servers:
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        self._timer = threading.Timer(self.lifetime_s, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        if self.stopped.is_set():
            return
        self.stopped.set()
        if self._timer is not None:
            self._timer.cancel()
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> FakeCatalog:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- where it listens ------------------------------------------------------------
    def _port(self, index: int) -> int:
        return int(self._servers[index].server_address[1])

    @property
    def http_port(self) -> int:
        return self._port(0)

    @property
    def tls_port(self) -> int:
        return self._port(1)

    @property
    def proxy_port(self) -> int:
        return self._port(2)

    @property
    def catalog_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}{CATALOG_PATH}"

    @property
    def region(self) -> str:
        """The ``catalog_region`` that makes the SDK's registry URL point here."""
        return f"127.0.0.1:{self.tls_port}/"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def proxy_env(self) -> dict[str, str]:
        """The environment of proxy mode: the user's default configuration, proxied."""
        proxy = self.proxy_url
        no_proxy = "127.0.0.1,localhost"
        return {
            "HTTPS_PROXY": proxy,
            "https_proxy": proxy,
            "NO_PROXY": no_proxy,
            "no_proxy": no_proxy,
            "SSL_CERT_FILE": str(self.ca_file),
        }

    # -- the request log -------------------------------------------------------------
    def record(self, request: Request) -> None:
        with self._lock:
            self._log.append(request)

    def requests(self, *kinds: str) -> list[Request]:
        with self._lock:
            return [r for r in self._log if not kinds or r.kind in kinds]

    def clear(self) -> None:
        with self._lock:
            self._log.clear()

    def find(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)

    # -- the catalog -----------------------------------------------------------------
    def query(self, body: dict[str, Any]) -> dict[str, Any]:
        filters = body.get("filters", [])
        hits = [v.record() for v in self.variants if _matches(v.record(), filters)]
        size = max(1, min(int(body.get("pageSize") or 50), self.page_size))
        # The token names the offset and the query, so a token from another query (or a
        # replayed one) is not silently accepted.
        key = hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:12]
        token = body.get("continuationToken")
        offset = 0
        if token:
            prefix, _, number = str(token).rpartition("-")
            if prefix != f"page-{key}" or not number.isdigit():
                raise ValueError(f"bad continuationToken {token!r}")
            offset = int(number)
        page = hits[offset : offset + size]
        following = offset + size
        return {
            "value": page,
            "continuationToken": f"page-{key}-{following}" if following < len(hits) else None,
            "totalCount": len(hits),
        }

    def blob_url(self, variant: Variant) -> str:
        return f"http://127.0.0.1:{self.http_port}{BLOB_PREFIX}{quote(variant.name)}?sv=2024-01-01&sig=fake"


def _handler_for(emulator: FakeCatalog) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 15  # a silent client cannot hold a thread for long
        server_version = "fake-catalog/1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the request log is the record; stderr stays quiet

        # -- helpers -------------------------------------------------------------------
        def _log(self, kind: str, status: int, **extra: Any) -> None:
            emulator.record(
                Request(
                    kind=kind,
                    method=self.command,
                    host=self.headers.get("Host", ""),
                    path=self.path,
                    status=status,
                    time=time.monotonic(),
                    **extra,
                )
            )

        def _send(
            self, status: int, body: bytes = b"", content_type: str = "application/json", **headers: str
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, payload: Any) -> None:
            self._send(status, json.dumps(payload).encode())

        def _read_body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(min(length, 1 << 20)) if length else b""

        # -- verbs -----------------------------------------------------------------------
        def do_CONNECT(self) -> None:
            host, _, _port = self.path.rpartition(":")
            if self.server is not emulator._servers[2] or not host.lower().endswith(PROXIED_SUFFIX):
                self._log("connect", 403)
                self._send(403, b"refused by the test proxy", "text/plain")
                self.close_connection = True
                return
            self._log("connect", 200)
            self.send_response(200, "Connection established")
            self.end_headers()
            self.wfile.flush()
            try:
                tunnel = emulator._tls.wrap_socket(self.connection, server_side=True)
            except (ssl.SSLError, OSError):
                self.close_connection = True
                return
            tunnel.settimeout(self.timeout)
            # Serve the decrypted requests on the tunnel with a fresh handler.
            Handler(tunnel, self.client_address, self.server)
            self.close_connection = True

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            body = self._read_body()
            if not path.endswith(CATALOG_PATH):
                self._log("other", 404)
                self._json(404, {"error": "no such route"})
                return
            if emulator.faults.catalog_status is not None:
                status = emulator.faults.catalog_status
                self._log("catalog", status)
                self._json(status, {"error": {"code": "ServiceUnavailable", "message": "injected fault"}})
                return
            try:
                answer = emulator.query(json.loads(body or b"{}"))
            except (ValueError, TypeError) as exc:
                self._log("catalog", 400)
                self._json(400, {"error": str(exc)})
                return
            self._log("catalog", 200)
            self._json(200, answer)

        def do_HEAD(self) -> None:
            self._blob(head=True)

        def do_GET(self) -> None:
            split = urlsplit(self.path)
            if split.path.endswith(REGISTRY_PATH):
                self._registry(parse_qs(split.query))
            elif split.path.startswith(BLOB_PREFIX):
                self._blob(head=False)
            else:
                self._log("other", 404)
                self._json(404, {"error": "no such route"})

        # -- routes ----------------------------------------------------------------------
        def _registry(self, query: dict[str, list[str]]) -> None:
            asset = (query.get("assetId") or [""])[0]
            variant = next((v for v in emulator.variants if v.asset_id == asset), None)
            if variant is None or variant.name in emulator.faults.registry_404:
                name = variant.name if variant else None
                self._log("registry", 404, variant=name)
                self._json(404, {"error": {"code": "NotFound", "message": f"no model {asset}"}})
                return
            self._log("registry", 200, variant=variant.name)
            self._json(200, {"blobSasUri": emulator.blob_url(variant)})

        def _blob(self, head: bool) -> None:
            split = urlsplit(self.path)
            rest = unquote(split.path[len(BLOB_PREFIX) :]) if split.path.startswith(BLOB_PREFIX) else ""
            name, _, relative = rest.partition("/")
            variant = emulator.find(name)
            if variant is None:
                self._log("other", 404)
                self._send(404)
                return
            if not relative:
                self._list(variant)
                return
            target = (variant.folder / relative).resolve()
            if variant.folder.resolve() not in target.parents or not target.is_file():
                self._log("head" if head else "get", 404, variant=name, file=relative)
                self._send(404)
                return
            data = target.read_bytes()
            stamp = formatdate(target.stat().st_mtime, usegmt=True)
            headers = {
                "Last_Modified": stamp,
                "ETag": f'"{hashlib.sha256(data).hexdigest()[:16]}"',
                "x_ms_blob_type": "BlockBlob",
                "x_ms_creation_time": stamp,
                "Accept_Ranges": "bytes",
                # The storage client reads these with map::at: a missing one aborts.
                "x_ms_server_encrypted": "true",
                "x_ms_request_id": "00000000-0000-0000-0000-000000000000",
                "x_ms_version": "2024-08-04",
                "x_ms_lease_status": "unlocked",
                "x_ms_lease_state": "available",
                "x_ms_access_tier": "Hot",
                "x_ms_access_tier_inferred": "true",
                "Date": formatdate(usegmt=True),
            }
            if head:
                self._log("head", 200, variant=name, file=relative)
                self._send(200, data, "application/octet-stream", **headers)
                return
            wanted = self.headers.get("x-ms-range") or self.headers.get("Range")
            start, end = 0, len(data) - 1
            if wanted and wanted.startswith("bytes="):
                first, _, last = wanted[6:].partition("-")
                start = int(first or 0)
                end = min(int(last), len(data) - 1) if last else len(data) - 1
            chunk = data[start : end + 1]
            stalled = emulator.faults.stall.get(name) == relative
            if emulator.faults.truncate.get(name) == relative:
                # An honest response with half the bytes asked for: Content-Length and
                # Content-Range say so, the range asked for is not met.
                chunk = chunk[: len(chunk) // 2]
            status = 206 if wanted else 200
            self._log("get", status, variant=name, file=relative, range=wanted)
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(chunk)))
            if wanted:
                self.send_header("Content-Range", f"bytes {start}-{start + len(chunk) - 1}/{len(data)}")
            for key, value in headers.items():
                self.send_header(key.replace("_", "-"), value)
            self.end_headers()
            if stalled:
                # Half the bytes, then silence until the stall ends (or the emulator
                # stops), then the connection drops.
                self.wfile.write(chunk[: len(chunk) // 2])
                self.wfile.flush()
                emulator.stopped.wait(emulator.faults.stall_s)
                self.close_connection = True
                return
            if emulator.faults.slow.get(name) == relative:
                # A live but slow transfer: half, a pause, the rest.
                self.wfile.write(chunk[: len(chunk) // 2])
                self.wfile.flush()
                emulator.stopped.wait(emulator.faults.slow_s)
                self.wfile.write(chunk[len(chunk) // 2 :])
                return
            self.wfile.write(chunk)

        def _list(self, variant: Variant) -> None:
            items = "".join(
                f"<Blob><Name>{escape(p.relative_to(variant.folder).as_posix())}</Name><Properties>"
                f"<Content-Length>{p.stat().st_size}</Content-Length><BlobType>BlockBlob</BlobType>"
                "</Properties></Blob>"
                for p in variant.files()
            )
            xml = (
                '<?xml version="1.0" encoding="utf-8"?><EnumerationResults ContainerName="'
                f'{escape(variant.name)}"><Blobs>{items}</Blobs><NextMarker/></EnumerationResults>'
            )
            self._log("list", 200, variant=variant.name)
            self._send(200, xml.encode(), "application/xml")

    return Handler


def standard_variants(tiny: Path, tiny_b: Path) -> list[Variant]:
    """The emulator's usual catalog: ``tiny-cat`` with a cpu and a cuda-gpu variant (the
    same files: a CPU box must skip the gpu one, never run it on CPU), ``tiny-b-cat`` with
    a cpu variant, and copies of ``tiny`` under aliases meant for fault injection."""
    cuda = {"device": "gpu", "execution_provider": "CUDAExecutionProvider"}
    return [
        Variant("tiny-cat", "tiny-cat-generic-cpu", tiny, capabilities=("chat-completion", "tools")),
        Variant("tiny-cat", "tiny-cat-cuda-gpu", tiny, **cuda),
        Variant("tiny-b-cat", "tiny-b-cat-generic-cpu", tiny_b, license="apache-2.0"),
        Variant("gpu-only", "gpu-only-cuda-gpu", tiny, **cuda),
        Variant("reg-404", "reg-404-generic-cpu", tiny),
        Variant("cut-short", "cut-short-generic-cpu", tiny),
        Variant("stalls", "stalls-generic-cpu", tiny_b),
        Variant("slow", "slow-generic-cpu", tiny),
    ]


def _serve(argv: list[str]) -> int:
    """``python fake_catalog.py TINY TINY_B TLS_DIR``: serve until stdin closes (or the
    lifetime ends) and print the wiring as one JSON line; for trying the SDK by hand."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tiny", type=Path)
    parser.add_argument("tiny_b", type=Path)
    parser.add_argument("tls_dir", type=Path)
    parser.add_argument("--lifetime", type=float, default=600.0)
    args = parser.parse_args(argv)
    with FakeCatalog(
        standard_variants(args.tiny, args.tiny_b), args.tls_dir, lifetime_s=args.lifetime
    ) as fake:
        print(
            json.dumps({"catalog_url": fake.catalog_url, "region": fake.region, **fake.proxy_env()}),
            flush=True,
        )
        reader = threading.Thread(target=sys.stdin.read, daemon=True)
        reader.start()
        reader.join(args.lifetime)
    return 0


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1:]))
