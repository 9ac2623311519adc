"""Which llama-server thread count (-t) holds up when the machine is busy?

Starts one llama-server per thread count on the same GGUF (as the plugin does), then
sends requests to them in turn, request by request, so drift in the machine's speed
hits every thread count alike.  Optional CPU hogs (busy loops) stand in for other work
on the machine.  Prints, per thread count, decode tok/s (median and the worst request),
TTFT median and the llama-server's CPU time per output token, with the load average.
This is the evidence behind ``llama_server.default_threads``.

    python benchmarks/llama_threads.py --gguf FILE [--threads 1,2] [--rounds 12] [--hogs 0]
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.synchronize
import os
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pytest_foundry.memory import cpu_seconds, measurable_cpu  # noqa: E402
from pytest_foundry.model_selection import model_requests  # noqa: E402
from pytest_foundry.runtime.http_stream import ChatClient  # noqa: E402
from pytest_foundry.runtime.llama_server import LLAMA_DIALECT, LlamaServerRuntime  # noqa: E402
from pytest_foundry.runtime.streaming import stream_chat  # noqa: E402

PROMPT = [{"role": "user", "content": "Provide two scenarios where an SLM is preferable to an LLM."}]


def _hog(stop: multiprocessing.synchronize.Event) -> None:
    while not stop.is_set():
        sum(range(10_000))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gguf", required=True, help="a .gguf model file")
    parser.add_argument("--threads", default="1,2", help="comma-separated -t values")
    parser.add_argument("--rounds", type=int, default=12, help="requests per thread count")
    parser.add_argument("--hogs", type=int, default=0, help="busy-loop processes while measuring")
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()

    counts = [int(value) for value in args.threads.split(",")]
    (request,) = model_requests([args.gguf], None, Path.cwd())
    runtimes = {threads: LlamaServerRuntime(threads=threads) for threads in counts}
    loaded = {threads: runtime.load(request) for threads, runtime in runtimes.items()}
    clients = {threads: ChatClient(model.base_url, 300.0) for threads, model in loaded.items()}
    stop = multiprocessing.Event()
    hogs = [multiprocessing.Process(target=_hog, args=(stop,), daemon=True) for _ in range(args.hogs)]
    for hog in hogs:
        hog.start()
    load_start = os.getloadavg()
    figures: dict[int, dict[str, list[float]]] = {t: {"tps": [], "ttft": [], "cpu": []} for t in counts}
    try:
        for _ in range(args.rounds):
            for threads in counts:
                pid = loaded[threads].pid or 0
                before = cpu_seconds(pid)
                generation = stream_chat(
                    clients[threads],
                    loaded[threads].model_id,
                    PROMPT,
                    max_tokens=args.max_tokens,
                    temperature=0.0,
                    seed=42,
                    dialect=LLAMA_DIALECT,
                )
                cpu = measurable_cpu(before, cpu_seconds(pid))
                metrics = generation.metrics
                if metrics.decode_tps is not None:
                    figures[threads]["tps"].append(metrics.decode_tps)
                if metrics.ttft_s is not None:
                    figures[threads]["ttft"].append(metrics.ttft_s)
                if cpu is not None and metrics.output_tokens:
                    figures[threads]["cpu"].append(cpu / metrics.output_tokens)
    finally:
        stop.set()
        for hog in hogs:
            hog.join()
        for runtime in runtimes.values():
            runtime.close()
    load_end = os.getloadavg()
    print(
        f"{Path(args.gguf).name} on {os.cpu_count()} cores, {args.hogs} hog(s), {args.rounds} requests each, "
        f"load average {load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end"
    )
    print(f"{'-t':>3}  {'decode tok/s p50':>16}  {'worst':>7}  {'TTFT p50':>9}  {'CPU/token p50':>13}")
    for threads in counts:
        f = figures[threads]
        cpu = f"{statistics.median(f['cpu']) * 1e3:.2f} ms" if f["cpu"] else "n/a"
        print(
            f"{threads:>3}  {statistics.median(f['tps']):>16.1f}  {min(f['tps']):>7.1f}  "
            f"{statistics.median(f['ttft']) * 1e3:>6.0f} ms  {cpu:>13}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
