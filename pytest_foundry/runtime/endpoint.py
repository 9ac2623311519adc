"""An already-running OpenAI-compatible server (``--foundry-endpoint``).

No pytest imports.  For example a Foundry Local service on a Windows host
(``http://host:5273/v1``), the SDK's web service (``<url>/catalogs/local/v1``) or any
server speaking ``/v1/chat/completions``.  Models are whatever ``GET <base>/models``
lists; nothing is loaded or unloaded here, so load time is "n/a".

A model the listing says llama.cpp owns (``owned_by: llamacpp``) is spoken to in
llama.cpp's dialect, as a managed GGUF model is: ``cache_prompt: false`` on every request,
and its end token left out of the token count (see ``llama_server.LLAMA_DIALECT``).
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from pytest_foundry.errors import ModelError, one_line
from pytest_foundry.runtime.base import EngineInfo, LoadedModel, ModelRequest, ProgressCallback
from pytest_foundry.runtime.embedded import EMBEDDED_MODEL_ID, EMBEDDED_NAMES

# The probe's timeout when none is given: --foundry-timeout, through create_runtime.
PROBE_TIMEOUT_S = 5.0
# What llama-server's /v1/models says in ``owned_by``.
LLAMA_CPP_OWNER = "llamacpp"


def normalise_base_url(url: str) -> str:
    """``http://host:5273`` -> ``http://host:5273/v1``; a URL ending in /v1 stays."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else f"{url}/v1"


def _get_json(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> Any:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return json.loads(response.read().decode("utf-8"))


def match_model_id(requested: str, available: list[str]) -> str | None:
    """The served id for a requested name: exact id, then ``name:version`` by name, then
    a Foundry-style variant (``alias-...:N``); ties pick the highest sorted id."""
    if requested in available:
        return requested
    by_name = sorted(i for i in available if i.split(":")[0] == requested)
    if by_name:
        return by_name[-1]
    by_alias = sorted(i for i in available if i.startswith(f"{requested}-"))
    return by_alias[-1] if by_alias else None


class EndpointRuntime:
    """Sends requests to a server someone else runs."""

    name = "endpoint"
    isolated = False  # a server someone else runs: nothing is loaded here

    def __init__(self, url: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
        self.base_url = normalise_base_url(url)
        self.timeout_s = timeout_s
        self._model_ids: list[str] | None = None
        self._owners: dict[str, str] = {}  # model id -> the listing's owned_by
        self._server_pid: int | None = None

    def start(self) -> None:
        if self._model_ids is not None:
            return
        try:
            data = _get_json(f"{self.base_url}/models", self.timeout_s)
        except urllib.error.HTTPError as exc:
            said = one_line(str(exc.reason))
            raise ModelError(
                f"endpoint {self.base_url}: GET /models answered HTTP {exc.code} ({said})"
            ) from None
        except ValueError:
            raise ModelError(f"endpoint {self.base_url}: GET /models did not answer with JSON") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ModelError(f"endpoint {self.base_url} is unreachable: {one_line(str(reason))}") from None
        except http.client.HTTPException as exc:
            # A non-HTTP answer (an SSH banner, a raw TCP service on that port).
            sent = one_line(str(exc.args[0]) if exc.args else type(exc).__name__, 100)
            raise ModelError(f"endpoint {self.base_url} did not answer with HTTP (it sent {sent})") from None
        entries = data.get("data", []) if isinstance(data, dict) else []
        listed = [entry for entry in entries if isinstance(entry, dict) and "id" in entry]
        self._model_ids = [str(entry["id"]) for entry in listed]
        self._owners = {str(entry["id"]): str(entry.get("owned_by") or "") for entry in listed}
        self._server_pid = self._find_server_pid()

    def _find_server_pid(self) -> int | None:
        """The server's pid, for memory sampling: Foundry Local's ``/status`` says it,
        and only a server on this machine can be sampled."""
        parts = urlsplit(self.base_url)
        if parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
            return None
        try:
            status = _get_json(f"{parts.scheme}://{parts.netloc}/status")
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException):
            return None
        pid = status.get("pid") if isinstance(status, dict) else None
        return int(pid) if isinstance(pid, int) else None

    def failure_cause(self, model: LoadedModel) -> str | None:
        return None  # the server is not ours to watch: its errors speak for themselves

    def load(self, request: ModelRequest, progress: ProgressCallback | None = None) -> LoadedModel:
        self.start()
        available = self._model_ids or []
        name = request.model_id or request.requested
        if request.engine == "llama.cpp" and request.path is not None:
            name = request.path.name  # a GGUF file: llama-server lists it by file name (or --alias)
        if name in EMBEDDED_NAMES:
            # A server (e.g. the SDK's web service) serves the embedded model by its full id.
            name = EMBEDDED_MODEL_ID
        model_id = match_model_id(name, available)
        if model_id is None and request.engine == "llama.cpp":
            # A llama-server started without --alias lists its model by the path it was given.
            model_id = next((i for i in available if i.replace("\\", "/").rsplit("/", 1)[-1] == name), None)
        if model_id is None:
            listed = ", ".join(available[:8]) or "none"
            raise ModelError(f"{request.requested}: not served by {self.base_url} (it lists: {listed})")
        loaded = LoadedModel(
            request=request,
            model_id=model_id,
            base_url=self.base_url,
            source="endpoint",
            path=None,
            device=None,
            execution_provider=None,
            load_s=None,
        )
        if self._owners.get(model_id) == LLAMA_CPP_OWNER:
            from pytest_foundry.runtime.llama_server import ENGINE, LLAMA_DIALECT

            loaded.dialect = LLAMA_DIALECT
            loaded.engine = EngineInfo(name=ENGINE, version=self._llama_build())
        return loaded

    def _llama_build(self) -> str | None:
        """llama-server's ``/props`` ``build_info`` (e.g. ``b7283-1a2b3c4``), if it says."""
        parts = urlsplit(self.base_url)
        try:
            props = _get_json(f"{parts.scheme}://{parts.netloc}/props", self.timeout_s)
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException):
            return None
        build = props.get("build_info") if isinstance(props, dict) else None
        return str(build) if build else None

    def memory_pid(self) -> int | None:
        return self._server_pid

    def unload(self, model: LoadedModel) -> None:
        """The server owns its models: nothing to release."""

    def close(self) -> None:
        self._model_ids = None
