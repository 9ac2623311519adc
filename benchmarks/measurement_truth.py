"""Does the harness measure the model, or itself?  The same requests through several
clients, interleaved on one endpoint, and their TTFT / TPOT / E2E medians side by side.

Clients, each round in a rotating order (so none always goes first or last):

* ``harness``: pytest-foundry's timed path (``runtime.streaming.stream_chat``);
* ``minimal``: an independent minimal client, raw ``http.client`` (``read1``, lines split
  by hand) and a bare SSE parser, a fresh connection per request: the reference every
  ratio is taken against;
* ``minimal2``: the same minimal client again, as a second client: how far two identical
  clients' medians drift apart in this run (the noise floor of every ratio);
* ``readline``: the minimal client reading with ``HTTPResponse.readline`` instead;
* ``autoconn``: the minimal client letting ``request()`` connect, which sends the request
  within microseconds of the TCP handshake; the SDK's web service then seems to notice it
  only at its next periodic wake-up (~0.6 ms more TTFT on the embedded model): a server
  artefact that a client's connect-to-send gap decides, shown for the record;
* ``socket``: a raw socket and a byte scan, no HTTP library at all (it sends right after
  the handshake, like ``autoconn``);
* ``curl``: ``curl -N`` with ``-w time_starttransfer/time_total`` (its first *byte*, not
  the first content token, and no token count: no TPOT);
* ``sdk``: the SDK's own in-process streaming loop (``ChatSession``), only when the model
  runs in this process (not with ``--endpoint``);
* ``openai``: the ``openai`` client's streaming (the harness's former timed path);
* ``reused``: raw ``http.client`` on one kept-alive connection: on the SDK web service it
  stalls ~40 ms a request (delayed ACK) when its requests follow each other closely,
  which is why the harness opens a fresh connection per request; interleaved with other
  clients and pauses, as here, it meets the stall only now and then.

Prints; asserts nothing (speed targets are measured, not unit-tested).  Usage::

    python benchmarks/measurement_truth.py                         # embedded model, in-process
    python benchmarks/measurement_truth.py --model-folder path/to/onnx-genai-model
    python benchmarks/measurement_truth.py --endpoint http://127.0.0.1:5273/v1 --model phi-4-mini:1
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pytest_foundry.runtime.embedded import EMBEDDED_MODEL_ID, embedded_model_path  # noqa: E402
from pytest_foundry.runtime.foundry_local import byom_model_id  # noqa: E402
from pytest_foundry.runtime.streaming import ChatClient, make_client, stream_chat  # noqa: E402

PROMPT = "Explain the principle of retrieval augmented generation in 2 sentences."
REFERENCE = "minimal"
CLIENTS = (
    "harness",
    "minimal",
    "minimal2",
    "readline",
    "autoconn",
    "socket",
    "curl",
    "sdk",
    "openai",
    "reused",
)


@dataclass
class Sample:
    ttft_s: float | None
    e2e_s: float
    tokens: int | None

    @property
    def tpot_s(self) -> float | None:
        if self.ttft_s is None or not self.tokens or self.tokens < 2:
            return None
        return (self.e2e_s - self.ttft_s) / (self.tokens - 1)


@dataclass
class Target:
    base_url: str
    model_id: str
    sdk_model: Any = None  # the SDK model object when the model runs in this process


# -- the clients -------------------------------------------------------------------------
def request_body(target: Target, max_tokens: int, seed: int) -> bytes:
    return json.dumps(
        {
            "model": target.model_id,
            "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "seed": seed,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    ).encode()


def _lines_read1(response: http.client.HTTPResponse) -> Iterator[tuple[int, bytes]]:
    """Body lines with the time their bytes arrived: one ``read1`` (what the socket has)
    at a time, split at newlines."""
    rest = b""
    while True:
        data = response.read1(65536)
        now = time.perf_counter_ns()
        if not data:
            return
        *lines, rest = (rest + data).split(b"\n")
        for line in lines:
            yield now, line


def _lines_readline(response: http.client.HTTPResponse) -> Iterator[tuple[int, bytes]]:
    """Body lines through ``HTTPResponse.readline``, the usual way to read them."""
    while True:
        line = response.readline()
        now = time.perf_counter_ns()
        if not line:
            return
        yield now, line


def _read_sse(lines: Iterator[tuple[int, bytes]], start: int) -> Sample:
    """A bare SSE parser: ``data:`` lines, json.loads, nothing else.  Times are those of
    the bytes' arrival, not of this client getting round to them."""
    ttft: int | None = None
    tokens: int | None = None
    end = start
    for end, line in lines:
        if not line.startswith(b"data:"):
            continue
        payload = line[5:].strip()
        if payload == b"[DONE]":
            break
        event = json.loads(payload)
        if ttft is None:
            for choice in event.get("choices") or ():
                if (choice.get("delta") or {}).get("content"):
                    ttft = end
        if event.get("usage"):
            tokens = event["usage"]["completion_tokens"]
    return Sample(None if ttft is None else (ttft - start) / 1e9, (end - start) / 1e9, tokens)


def http_client(
    target: Target,
    max_tokens: int,
    seed: int,
    reader: Callable[..., Iterator[tuple[int, bytes]]] = _lines_read1,
    connect_first: bool = True,
) -> Sample:
    parts = urlsplit(target.base_url)
    body = request_body(target, max_tokens, seed)
    start = time.perf_counter_ns()
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)
    if connect_first:
        # Connect, then build and send the request, as curl and the harness do; see
        # ``autoconn`` for what sending within microseconds of the handshake costs.
        conn.connect()
    conn.request("POST", parts.path + "/chat/completions", body, {"Content-Type": "application/json"})
    sample = _read_sse(reader(conn.getresponse()), start)
    conn.close()
    return sample


_CONTENT = re.compile(rb'"content":\s*"(?:[^"\\]|\\.)')
_TOKENS = re.compile(rb'"completion_tokens":\s*(\d+)')


def socket_client(target: Target, max_tokens: int, seed: int) -> Sample:
    """The floor: a raw socket, the request bytes written by hand, and the answer scanned
    for the first non-empty ``"content"``, the usage and ``[DONE]`` as the bytes come."""
    parts = urlsplit(target.base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = request_body(target, max_tokens, seed)
    head = (
        f"POST {parts.path}/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    ttft: int | None = None
    seen = b""
    start = time.perf_counter_ns()
    sock = socket.create_connection((host, port), timeout=120)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(head.encode() + body)
    end = start
    while True:
        data = sock.recv(65536)
        end = time.perf_counter_ns()
        if not data:
            break
        # Search the new bytes with a little of the old: a pattern may straddle reads.
        window = seen[-64:] + data
        seen += data
        if ttft is None and _CONTENT.search(window):
            ttft = end
        if b"[DONE]" in window:
            break
    sock.close()
    counts = _TOKENS.findall(seen)
    return Sample(
        None if ttft is None else (ttft - start) / 1e9,
        (end - start) / 1e9,
        int(counts[-1]) if counts else None,
    )


def reused_client_factory(target: Target) -> Callable[[int, int], Sample]:
    parts = urlsplit(target.base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)

    def run(max_tokens: int, seed: int) -> Sample:
        body = request_body(target, max_tokens, seed)
        start = time.perf_counter_ns()
        conn.request("POST", parts.path + "/chat/completions", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        sample = _read_sse(_lines_read1(response), start)
        response.read()  # drain to the end of the body, so the connection can be reused
        return sample

    return run


def harness_factory(target: Target) -> Callable[[int, int], Sample]:
    client = ChatClient(target.base_url, 120.0)

    def run(max_tokens: int, seed: int) -> Sample:
        metrics = stream_chat(
            client,
            target.model_id,
            [{"role": "user", "content": PROMPT}],
            max_tokens=max_tokens,
            temperature=0.0,
            seed=seed,
            timeout_s=120.0,
        ).metrics
        tokens = None if metrics.tokens_estimated else metrics.output_tokens
        return Sample(metrics.ttft_s, metrics.e2e_s, tokens)

    return run


def openai_factory(target: Target) -> Callable[[int, int], Sample]:
    client = make_client(target.base_url, 120.0)

    def run(max_tokens: int, seed: int) -> Sample:
        ttft: int | None = None
        tokens: int | None = None
        start = time.perf_counter_ns()
        stream: Any = client.chat.completions.create(  # type: ignore[call-overload]
            model=target.model_id,
            messages=[{"role": "user", "content": PROMPT}],
            max_tokens=max_tokens,
            temperature=0.0,
            seed=seed,
            stream=True,
            stream_options={"include_usage": True},
        )
        with stream:
            for chunk in stream:
                if ttft is None and any(c.delta and c.delta.content for c in chunk.choices):
                    ttft = time.perf_counter_ns()
                if chunk.usage is not None:
                    tokens = chunk.usage.completion_tokens
        end = time.perf_counter_ns()
        return Sample(None if ttft is None else (ttft - start) / 1e9, (end - start) / 1e9, tokens)

    return run


def curl_factory(target: Target, workdir: Path) -> Callable[[int, int], Sample]:
    curl = shutil.which("curl")
    if curl is None:
        raise SystemExit("curl is not installed")

    def run(max_tokens: int, seed: int) -> Sample:
        body = workdir / "body.json"
        body.write_bytes(request_body(target, max_tokens, seed))
        out = subprocess.run(
            [curl, "-sS", "-N", "-o", "/dev/null", "-w", "%{time_starttransfer} %{time_total}",
             "-H", "Content-Type: application/json", "--data-binary", f"@{body}",
             f"{target.base_url}/chat/completions"],
            check=True, capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        return Sample(float(out[0]), float(out[1]), None)

    return run


def sdk_factory(target: Target) -> Callable[[int, int], Sample]:
    from foundry_local_sdk import (
        ChatSession,
        MessageItem,
        MessageRole,
        Request,
        RequestOptions,
        SearchOptions,
        TextItem,
    )

    def run(max_tokens: int, seed: int) -> Sample:
        # A new session per request: a session keeps its turn history.
        with ChatSession(target.sdk_model) as session:
            session.set_streaming(True)
            request = Request().add_item(MessageItem(MessageRole.USER, PROMPT))
            request.set_options(
                RequestOptions(search=SearchOptions(temperature=0.0, max_output_tokens=max_tokens, seed=seed))
            )
            ttft: int | None = None
            start = time.perf_counter_ns()
            with session.process_streaming_request(request) as stream:
                for item in stream:
                    if ttft is None and isinstance(item, TextItem) and item.text:
                        ttft = time.perf_counter_ns()
                end = time.perf_counter_ns()
                with stream.final_response as final:
                    tokens = final.get_usage().completion_tokens
        return Sample(None if ttft is None else (ttft - start) / 1e9, (end - start) / 1e9, tokens)

    return run


# -- the endpoint ------------------------------------------------------------------------
@contextmanager
def in_process_target(folder: Path, model_id: str, workdir: Path) -> Iterator[Target]:
    """The SDK web service in this process, serving one BYOM model from ``folder``."""
    from foundry_local_sdk import CatalogType, Configuration, FoundryLocalManager, LogLevel, ModelInfoBuilder

    FoundryLocalManager.initialize(
        Configuration(
            app_name="pytest-foundry-measurement-truth",
            model_cache_dir=str(workdir / "cache"),
            logs_dir=str(workdir / "logs"),
            log_level=LogLevel.WARNING,
        )
    )
    manager = FoundryLocalManager.instance
    model = None
    try:
        metadata = ModelInfoBuilder()
        metadata.set_string_property("task", "chat-completion")
        model = manager.get_catalog(CatalogType.LOCAL).register_model(
            model_path=str(folder), model_id=model_id, metadata=metadata
        )
        model.load()
        manager.start_web_service()
        yield Target(f"{manager.urls[0]}/catalogs/local/v1", model_id, sdk_model=model)
    finally:
        if manager.urls:
            manager.stop_web_service()
        if model is not None:
            model.unload()
        manager.close()


# -- the report --------------------------------------------------------------------------
def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def fmt_ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 1000:.3f}"


def ratio(value: float | None, reference: float | None) -> str:
    return "" if value is None or not reference else f"×{value / reference:.3f}"


def report(samples: dict[str, list[Sample]], target: Target, args: argparse.Namespace) -> None:
    print(f"\nendpoint {target.base_url}, model {target.model_id}")
    print(
        f"{args.rounds} rounds (+{args.warmup} warm-up), max_tokens {args.max_tokens}, "
        "clients interleaved in a random order each round\n"
    )
    rows = {
        name: (
            median([s.ttft_s for s in runs]),
            median([s.tpot_s for s in runs]),
            median([s.e2e_s for s in runs]),
            median([float(s.tokens) if s.tokens is not None else None for s in runs]),
        )
        for name, runs in samples.items()
    }
    ref = rows[REFERENCE]
    header = (
        f"{'client':<8} {'TTFT p50 ms':>12} {'ratio':>7} {'TPOT p50 ms':>12} {'ratio':>7} "
        f"{'E2E p50 ms':>11} {'ratio':>7} {'N_out':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, (ttft, tpot, e2e, tokens) in rows.items():
        print(
            f"{name:<8} {fmt_ms(ttft):>12} {ratio(ttft, ref[0]):>7} {fmt_ms(tpot):>12} "
            f"{ratio(tpot, ref[1]):>7} {fmt_ms(e2e):>11} {ratio(e2e, ref[2]):>7} "
            f"{'n/a' if tokens is None else f'{tokens:g}':>6}"
        )
    print("\nratios are to the minimal client; curl's TTFT is its first byte (time_starttransfer)")
    if "minimal2" in rows:
        twin = rows["minimal2"]
        drift = ", ".join(
            f"{label} {twin[i] / ref[i] - 1:+.1%}"
            for label, i in (("TTFT", 0), ("E2E", 2))
            if twin[i] and ref[i]
        )
        print(f"noise floor, minimal2 vs minimal (identical clients): {drift}")
    harness, minimal = rows["harness"], rows[REFERENCE]
    for label, index, field in (("TTFT", 0, "ttft_s"), ("TPOT", 1, "tpot_s"), ("E2E", 2, "e2e_s")):
        if harness[index] and minimal[index]:
            off = harness[index] / minimal[index] - 1
            low, high = ratio_interval(samples["harness"], samples[REFERENCE], field, args.seed)
            verdict = "within" if abs(off) <= args.target else "OUTSIDE"
            trimmed = trimmed_mean(samples["harness"], field) / trimmed_mean(samples[REFERENCE], field) - 1
            print(
                f"harness {label} median vs minimal client: {off:+.1%} "
                f"(95% CI {low - 1:+.1%} .. {high - 1:+.1%}; {verdict} ±{args.target:.0%}); "
                f"10%-trimmed means: {trimmed:+.1%}"
            )


def trimmed_mean(runs: list[Sample], field: str, cut: float = 0.1) -> float:
    """The mean of the middle 80 %: near the median when the spread is wide and even (the
    embedded model's TTFT), and steadier than it."""
    values = sorted(v for v in (getattr(s, field) for s in runs) if v is not None)
    drop = int(len(values) * cut)
    kept = values[drop : len(values) - drop] or values
    return sum(kept) / len(kept)


def ratio_interval(
    samples: list[Sample], reference: list[Sample], field: str, seed: int, resamples: int = 2000
) -> tuple[float, float]:
    """A bootstrap 95% interval of median(samples) / median(reference)."""
    import numpy as np

    def values(runs: list[Sample]) -> Any:
        present = [getattr(s, field) for s in runs]
        return np.array([v for v in present if v is not None], dtype=float)

    a, b = values(samples), values(reference)
    rng = np.random.default_rng(seed)
    ratios = np.median(rng.choice(a, (resamples, a.size)), axis=1) / np.median(
        rng.choice(b, (resamples, b.size)), axis=1
    )
    low, high = np.percentile(ratios, [2.5, 97.5])
    return float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", help="an OpenAI-compatible base URL (…/v1); needs --model")
    parser.add_argument("--model", help="the model id the endpoint serves")
    parser.add_argument("--model-folder", type=Path, help="an ONNX genai model folder to serve in-process")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1, help="seed of the client order and pauses")
    parser.add_argument(
        "--jitter-ms", type=float, default=10.0, help="random pause before each request, up to this"
    )
    parser.add_argument(
        "--target", type=float, default=0.05, help="allowed harness/minimal gap (0.05 = 5 %%)"
    )
    parser.add_argument(
        "--clients",
        default=",".join(CLIENTS),
        help=f"comma-separated subset of {','.join(CLIENTS)}",
    )
    args = parser.parse_args()
    if args.endpoint and not args.model:
        parser.error("--endpoint needs --model")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    with tempfile.TemporaryDirectory(prefix="measurement-truth-") as tmp:
        workdir = Path(tmp)
        if args.endpoint:
            context: Any = nullcontext(Target(args.endpoint.rstrip("/"), args.model))
        else:
            folder = args.model_folder or embedded_model_path()
            model_id = EMBEDDED_MODEL_ID if args.model_folder is None else byom_model_id(folder)
            context = in_process_target(folder.resolve(), model_id, workdir)
        with context as target:
            makers: dict[str, Callable[[], Callable[[int, int], Sample]]] = {
                "harness": lambda: harness_factory(target),
                "minimal": lambda: (
                    lambda max_tokens, seed: http_client(target, max_tokens, seed, _lines_read1)
                ),
                "minimal2": lambda: (
                    lambda max_tokens, seed: http_client(target, max_tokens, seed, _lines_read1)
                ),
                "readline": lambda: (
                    lambda max_tokens, seed: http_client(target, max_tokens, seed, _lines_readline)
                ),
                "autoconn": lambda: (
                    lambda max_tokens, seed: http_client(target, max_tokens, seed, connect_first=False)
                ),
                "socket": lambda: lambda max_tokens, seed: socket_client(target, max_tokens, seed),
                "curl": lambda: curl_factory(target, workdir),
                "sdk": lambda: sdk_factory(target),
                "openai": lambda: openai_factory(target),
                "reused": lambda: reused_client_factory(target),
            }
            wanted = [name.strip() for name in args.clients.split(",") if name.strip()]
            unknown = sorted(set(wanted) - set(makers))
            if unknown:
                parser.error(f"unknown clients: {', '.join(unknown)}")
            if target.sdk_model is None and "sdk" in wanted:
                wanted.remove("sdk")  # the model runs elsewhere
            for needed in ("harness", REFERENCE):
                if needed not in wanted:
                    wanted.append(needed)
            clients = {name: makers[name]() for name in wanted}
            samples: dict[str, list[Sample]] = {name: [] for name in clients}
            names = list(clients)
            order = random.Random(args.seed)
            for round_index in range(args.warmup + args.rounds):
                # A fresh order each round: no client always runs first, last, or right
                # after the same other one (after the reused client's stall, say).
                order.shuffle(names)
                for name in names:
                    # A random pause before each request: the service's first token waits
                    # for a periodic wake-up (TTFT spreads evenly over ~3 ms on the embedded
                    # model), and back-to-back requests would otherwise meet that period at
                    # a phase set by the previous client's teardown, not at random.
                    time.sleep(order.uniform(0, args.jitter_ms / 1000))
                    sample = clients[name](args.max_tokens, 42)
                    if round_index >= args.warmup:
                        samples[name].append(sample)
            report(samples, target, args)


if __name__ == "__main__":
    main()
