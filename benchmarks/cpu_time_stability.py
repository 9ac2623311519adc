"""How stable is CPU time per output token under CPU contention, next to wall-clock TPOT?

Serves one model in a model host (as the plugin does), then alternates blocks of
requests on a quiet machine and with CPU hogs running (busy loops, one per core),
and prints the medians of wall TPOT and of the host's CPU time per output token in
each condition, with their ratios loaded / quiet.  A figure the gate can trust on a
busy runner moves little when the machine gets busy.

    python benchmarks/cpu_time_stability.py --model-folder DIR [--rounds 24] [--hogs 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pytest_foundry.memory import cpu_seconds, measurable_cpu  # noqa: E402
from pytest_foundry.runtime.base import ModelRequest  # noqa: E402
from pytest_foundry.runtime.embedded import EMBEDDED_ALIAS  # noqa: E402
from pytest_foundry.runtime.hosted import HostedRuntime  # noqa: E402
from pytest_foundry.runtime.http_stream import ChatClient  # noqa: E402
from pytest_foundry.runtime.streaming import stream_chat  # noqa: E402

PROMPT = [
    {"role": "user", "content": "Explain the principle of retrieval augmented generation in 2 sentences."}
]


def _hog(stop: multiprocessing.synchronize.Event) -> None:
    while not stop.is_set():
        sum(range(10_000))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-folder", help="an ONNX Runtime GenAI folder (default: the embedded tiny)")
    parser.add_argument("--rounds", type=int, default=24, help="requests per condition")
    parser.add_argument("--block", type=int, default=4, help="requests per block before switching")
    parser.add_argument("--hogs", type=int, default=2, help="busy-loop processes while loaded")
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()

    folder = Path(args.model_folder).resolve() if args.model_folder else None
    request = ModelRequest(requested=str(folder) if folder else EMBEDDED_ALIAS, slug="model", path=folder)
    runtime = HostedRuntime()
    loaded = runtime.load(request)
    assert loaded.pid is not None
    client = ChatClient(loaded.base_url, 120.0)
    figures: dict[str, dict[str, list[float]]] = {c: {"tpot": [], "cpu": []} for c in ("quiet", "loaded")}

    def measure(condition: str) -> None:
        before = cpu_seconds(loaded.pid or 0)
        generation = stream_chat(
            client, loaded.model_id, PROMPT, max_tokens=args.max_tokens, temperature=0.0, seed=42
        )
        spent = measurable_cpu(before, cpu_seconds(loaded.pid or 0))
        metrics = generation.metrics
        if metrics.tpot_s is not None:
            figures[condition]["tpot"].append(metrics.tpot_s)
        if spent is not None and metrics.output_tokens:
            figures[condition]["cpu"].append(spent / metrics.output_tokens)

    try:
        for _ in range(3):
            measure("quiet")  # warm-up, discarded below
        figures["quiet"] = {"tpot": [], "cpu": []}
        done = 0
        while done < args.rounds:
            for _ in range(args.block):
                measure("quiet")
            stop = multiprocessing.Event()
            hogs = [multiprocessing.Process(target=_hog, args=(stop,)) for _ in range(args.hogs)]
            for hog in hogs:
                hog.start()
            time.sleep(0.5)  # let the hogs take the cores
            try:
                for _ in range(args.block):
                    measure("loaded")
            finally:
                stop.set()
                for hog in hogs:
                    hog.join()
            done += args.block
    finally:
        runtime.close()

    print(f"model {loaded.model_id}, {args.rounds} requests per condition, {args.hogs} CPU hogs while loaded")
    print(f"{'figure':<22}{'quiet p50':>12}{'loaded p50':>12}{'loaded/quiet':>14}")
    for key, label in (("tpot", "wall TPOT (ms)"), ("cpu", "CPU time/token (ms)")):
        quiet, busy = (statistics.median(figures[c][key]) * 1000 for c in ("quiet", "loaded"))
        print(f"{label:<22}{quiet:>12.3f}{busy:>12.3f}{busy / quiet:>13.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
