"""llama.cpp as a second engine, its pure parts: command line, threads, version, token
counting, model keys, routing, settings, results and the gate's fingerprint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_runtime import FakeRuntime, settings

from pytest_foundry.errors import ConfigError, ModelError, ModelUnavailable
from pytest_foundry.gate.baselines import fingerprint_sha256
from pytest_foundry.gate.fingerprints import hard_differences
from pytest_foundry.model_config import load_models_file
from pytest_foundry.model_selection import model_requests
from pytest_foundry.report.selection import report_meta
from pytest_foundry.runtime import describe_backend
from pytest_foundry.runtime.base import DEFAULT_DIALECT, ModelRequest
from pytest_foundry.runtime.engines import EngineRouter
from pytest_foundry.runtime.llama_server import (
    LLAMA_DIALECT,
    LlamaServerRuntime,
    default_threads,
    find_server,
    last_error_line,
    listening_port,
    parse_version,
    server_command,
)
from pytest_foundry.runtime.streaming import answer_tokens, encode_request

GGUF = "models/SmolLM2-135M-Instruct.Q4_1.gguf"


def test_the_server_command_serves_one_model_on_loopback_under_its_file_name():
    command = server_command(Path("/opt/llama-server"), Path("/m/SmolLM2.Q4_1.gguf"), threads=1, context=4096)
    assert command == [
        "/opt/llama-server",
        "-m",
        "/m/SmolLM2.Q4_1.gguf",
        "--alias",
        "SmolLM2.Q4_1.gguf",  # the model id, the same wherever the file lies
        "--host",
        "127.0.0.1",
        "--port",
        "0",  # the server binds a free port itself and logs it: no race for it
        "-t",
        "1",
        "-c",
        "4096",
        "-np",
        "1",
        "--jinja",
        "--no-webui",
    ]


@pytest.mark.parametrize(("cores", "threads"), [(None, 1), (1, 1), (2, 1), (8, 7)])
def test_default_threads_leave_one_core_free(cores, threads):
    assert default_threads(cores) == threads


def test_the_version_is_read_from_llama_server_s_own_words():
    text = "version: 0.6.0-dev (build 0, commit unknown)\nbuilt with GNU 12.2.0 for Linux x86_64\n"
    assert parse_version(text) == "0.6.0-dev (build 0, commit unknown)"
    assert parse_version("usage: llama-server [options]") is None


def test_the_server_s_reason_is_its_last_error_line():
    # What llama-server logs for a truncated GGUF file.
    log = (
        "0.00.018.459 E llama_model_load_from_file_impl: failed to load model\n"
        "0.00.028.241 E llama_model_load: error loading model: tensor 'token_embd.weight' data is not "
        "within the file bounds, model is corrupted or incomplete\n"
        "0.00.028.327 E cmn  common_init_: failed to load model '/tmp/trunc.gguf'\n"
        "0.00.028.367 I srv    operator(): operator(): cleaning up before exit...\n"
        "0.00.028.994 E srv  llama_server: exiting due to model loading error\n"
    )
    assert last_error_line(log) == (
        "llama_model_load: error loading model: tensor 'token_embd.weight' data is not within the "
        "file bounds, model is corrupted or incomplete"
    )
    assert last_error_line("0.1 E srv init: couldn't bind HTTP server socket\n0.2 I bye\n") == (
        "srv init: couldn't bind HTTP server socket"
    )
    assert last_error_line("") is None


def test_the_port_is_read_from_the_server_s_log():
    # What llama-server started with --port 0 logs before it loads the model.
    log = (
        "0.00.301.118 I srv  llama_server: loading model\n"
        "0.00.397.906 I srv  llama_server: listening on http://127.0.0.1:46641\n"
    )
    assert listening_port(log) == 46641
    assert listening_port("0.00.301.118 I srv  llama_server: loading model\n") is None


def test_a_server_that_never_names_its_port_fails_its_model_in_one_line(tmp_path):
    silent = tmp_path / "llama-server"
    silent.write_text(
        '#!/bin/sh\n[ "$1" = --version ] && echo "version: 0.0 (fake)" && exit 0\nexec sleep 30\n'
    )
    silent.chmod(0o755)
    model = tmp_path / "x.gguf"
    model.write_bytes(b"GGUF")
    runtime = LlamaServerRuntime(threads=1, binary=silent, load_timeout_s=0.5)
    request = ModelRequest(requested="x.gguf", slug="x@llama.cpp", path=model, engine="llama.cpp")
    with pytest.raises(
        ModelError,
        match=r"^x@llama\.cpp: llama-server did not say which port it listens on within 0\.5 s "
        r"\(log: .*x@llama\.cpp\.log\)$",
    ):
        runtime.load(request)
    runtime.close()


@pytest.mark.parametrize(
    ("usage", "finish", "dialect", "expected"),
    [
        (14, "stop", LLAMA_DIALECT, 13),  # the end token llama.cpp sampled but never sent
        (5, "length", LLAMA_DIALECT, 5),  # cut at max_tokens: no end token was sampled
        (14, "stop", DEFAULT_DIALECT, 14),  # Foundry Local counts only what it sent
        (None, "stop", LLAMA_DIALECT, None),  # no usage: estimated from the text elsewhere
        (0, "stop", LLAMA_DIALECT, 0),
    ],
)
def test_answer_tokens_do_not_count_llama_cpp_s_end_token(usage, finish, dialect, expected):
    assert answer_tokens(usage, finish, dialect) == expected


def test_llama_cpp_requests_pay_the_full_prefill_every_time():
    messages = [{"role": "user", "content": "hi"}]
    body = json.loads(
        encode_request("m", messages, max_tokens=8, temperature=0.0, seed=1, dialect=LLAMA_DIALECT)
    )
    assert body["cache_prompt"] is False
    assert body["stream"] is True
    plain = json.loads(encode_request("m", messages, max_tokens=8, temperature=0.0, seed=1))
    assert "cache_prompt" not in plain


def test_a_gguf_file_gets_a_key_that_names_its_engine(tmp_path):
    requests = model_requests(["tiny", "models/smollm2", GGUF], None, tmp_path)
    by_slug = {request.slug: request for request in requests}
    assert list(by_slug) == ["tiny", "smollm2", "SmolLM2-135M-Instruct.Q4_1@llama.cpp"]
    gguf = by_slug["SmolLM2-135M-Instruct.Q4_1@llama.cpp"]
    assert gguf.engine == "llama.cpp"
    assert gguf.path == (tmp_path / GGUF).resolve()
    assert by_slug["smollm2"].engine == "foundry-local"
    # Upper-case suffixes too; a bare file name is a file, not a catalog alias.
    assert model_requests(["X.GGUF"], None, tmp_path)[0].engine == "llama.cpp"


def test_a_models_json_entry_with_a_gguf_path_is_served_by_llama_cpp(tmp_path):
    (tmp_path / "models.json").write_text(
        json.dumps({"models": {"smol-llama": {"path": "m/smol.gguf", "license": "Apache-2.0"}}}),
        encoding="utf-8",
    )
    models_file = load_models_file(tmp_path / "models.json")
    (request,) = model_requests(["smol-llama"], models_file, tmp_path)
    assert (request.slug, request.engine, request.license) == ("smol-llama", "llama.cpp", "Apache-2.0")


def test_the_router_sends_each_model_to_its_engine_and_starts_engines_on_demand():
    foundry, llama = FakeRuntime(), FakeRuntime()
    router = EngineRouter({"foundry-local": lambda: foundry, "llama.cpp": lambda: llama})
    router.start()
    assert (foundry.started, llama.started) == (0, 0)
    tiny = router.load(ModelRequest(requested="tiny", slug="tiny"))
    assert (foundry.loads, llama.started) == (["tiny"], 0)  # no llama-server looked for
    gguf = router.load(ModelRequest(requested="x.gguf", slug="x@llama.cpp", engine="llama.cpp"))
    assert llama.loads == ["x@llama.cpp"]
    llama.dead["x@llama.cpp"] = "x@llama.cpp: llama-server exited with signal 9"
    assert router.failure_cause(gguf) == "x@llama.cpp: llama-server exited with signal 9"
    assert router.failure_cause(tiny) is None
    router.unload(gguf)
    assert (llama.unloads, foundry.unloads) == (["x@llama.cpp"], [])
    router.close()
    assert (foundry.closed, llama.closed) == (1, 1)


def test_a_missing_server_makes_the_model_unavailable_in_one_line(tmp_path):
    missing = tmp_path / "no-such-llama-server"
    assert find_server(missing) is None
    runtime = LlamaServerRuntime(threads=1, binary=missing)
    request = ModelRequest(
        requested="x.gguf", slug="x@llama.cpp", path=tmp_path / "x.gguf", engine="llama.cpp"
    )
    with pytest.raises(
        ModelUnavailable, match=r"^x@llama\.cpp: llama-server not found at .*no-such-llama-server$"
    ):
        runtime.load(request)


def test_llama_threads_are_a_setting_with_a_one_line_error(tmp_path):
    assert settings(tmp_path).llama.threads is None
    assert settings(tmp_path, **{"llama-threads": "2"}).llama.threads == 2
    assert (
        settings(tmp_path, **{"llama-server": "bin/llama-server"}).llama.binary
        == tmp_path / "bin/llama-server"
    )
    with pytest.raises(ConfigError, match=r"^--foundry-llama-threads: must be at least 1, got 0$"):
        settings(tmp_path, **{"llama-threads": "0"})


def test_the_header_states_the_llama_threads(tmp_path):
    requests = model_requests(["tiny", GGUF], None, tmp_path)
    line = describe_backend(None, requests, settings(tmp_path, **{"llama-threads": "3"}).llama)
    assert "llama.cpp for 1 GGUF model(s)" in line
    assert "-t 3" in line
    assert "llama.cpp" not in describe_backend(None, requests[:1])


def _results(threads: int = 1, version: str = "0.6.0-dev") -> dict:
    engine = {"name": "llama.cpp", "version": version, "threads": threads, "context": 4096}
    return {
        "created_at": "2026-12-01T23:00:00+00:00",
        "run": {
            "backend": "foundry-local",
            "endpoint": None,
            "rounds": 3,
            "warmup": 1,
            "max_tokens": 64,
            "temperature": 0.0,
            "seed": 42,
            "timeout_s": 120.0,
            "prompts_file": None,
            "models_file": None,
            "load_average_start": [3.89, 3.49, 2.11],
        },
        "fingerprint": {
            "cpu": "cpu",
            "cores": 2,
            "ram_bytes": 1 << 34,
            "os": "Linux",
            "python": "3.11.7",
            "packages": {"foundry-local-sdk": "2.2.1"},
            "engines": {"llama.cpp": {"version": version, "threads": threads}},
        },
        "git": None,
        "models": [
            {
                "slug": "smollm2",
                "engine": {"name": "foundry-local", "version": "foundry-local-sdk 2.2.1", "threads": None},
            },
            {"slug": "smol@llama.cpp", "model_id": "smol.gguf", "engine": engine},
        ],
    }


def test_the_report_header_states_engines_threads_and_machine_load():
    meta = dict(report_meta(_results()))  # type: ignore[arg-type]
    assert meta["Engines"] == (
        "foundry-local: foundry-local-sdk 2.2.1 · llama.cpp: 0.6.0-dev, 1 thread (-t), context 4096"
    )
    assert meta["Load"] == "load average 3.89 / 3.49 / 2.11 (1 / 5 / 15 min) at the start, on 2 cores"


def test_the_gate_refuses_another_llama_cpp_thread_count_or_version():
    base = _results()
    assert hard_differences(base, _results()) == []  # type: ignore[arg-type]
    assert hard_differences(base, _results(threads=2)) == [  # type: ignore[arg-type]
        "llama.cpp thread count (1 in the baseline, 2 now)"
    ]
    assert hard_differences(base, _results(version="0.7.0")) == [  # type: ignore[arg-type]
        "llama.cpp version (0.6.0-dev in the baseline, 0.7.0 now)"
    ]
    assert fingerprint_sha256(base) != fingerprint_sha256(_results(threads=2))  # type: ignore[arg-type]
