"""How much faster do output tests with many prompts run under ``pytest -n 2``?

Output (snapshot) tests' requests are untimed, so under pytest-xdist they run in
parallel (shared_turn.py); latency rounds take the turn alone and gain nothing.  This
runs ``bench_tests/test_outputs.py`` over N generated prompts and the given models,
plain and with ``-n 2`` in alternation (so drift hits both alike), after one untimed
pass that writes the snapshots, and prints each run's wall time and the speed-up.

Prints; asserts nothing (speed claims are measured, not unit-tested).  Usage::

    python benchmarks/xdist_speedup.py                                   # tiny + tests/models/tiny-b
    python benchmarks/xdist_speedup.py --models "tiny,$(python3 scripts/build_real_model.py)"
    python benchmarks/xdist_speedup.py --prompts 40 --repeats 3 --max-tokens 32
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOPICS = (
    "retrieval augmented generation",
    "local inference",
    "model quantisation",
    "tokenisers",
    "latency budgets",
    "batch sizes",
    "speculative decoding",
    "KV caches",
)


def prompts_file(folder: Path, count: int) -> Path:
    prompts = [
        {
            "id": f"p{index:03d}",
            "prompt": f"In one sentence, what is {TOPICS[index % len(TOPICS)]}? ({index})",
        }
        for index in range(count)
    ]
    path = folder / "prompts.json"
    path.write_text(json.dumps({"prompts": prompts}), encoding="utf-8")
    return path


def run(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise SystemExit(f"pytest {' '.join(args)} exited {done.returncode}:\n{tail}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--models", default=f"tiny,{REPO / 'tests' / 'models' / 'tiny-b'}")
    parser.add_argument("--prompts", type=int, default=40)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    options = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory(prefix="xdist-speedup-") as tmp:
        folder = Path(tmp)
        common = [
            "bench_tests/test_outputs.py",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--foundry-models={options.models}",
            f"--foundry-prompts={prompts_file(folder, options.prompts)}",
            f"--foundry-max-tokens={options.max_tokens}",
            f"--foundry-snapshot-dir={folder / 'snapshots'}",
            f"--foundry-cache-dir={folder / 'cache'}",
            "--foundry-report=none",
        ]
        run([*common, "-p", "no:xdist", "--snapshot-update"], env)  # untimed: writes the snapshots
        times: dict[str, list[float]] = {"plain": [], "-n 2": []}
        for _ in range(options.repeats):
            times["plain"].append(run([*common, "-p", "no:xdist"], env))
            times["-n 2"].append(run([*common, "-n", "2"], env))
    cases = options.prompts * len(options.models.split(","))
    print(
        f"output tests: {cases} ({options.prompts} prompts x {options.models}), "
        f"max_tokens {options.max_tokens}"
    )
    print(f"machine: {os.cpu_count()} logical cores, load average {os.getloadavg()[0]:.2f} at the end")
    for mode, values in times.items():
        print(
            f"  {mode:6}: "
            + ", ".join(f"{v:.1f} s" for v in values)
            + f" (median {statistics.median(values):.1f} s)"
        )
    speedup = statistics.median(times["plain"]) / statistics.median(times["-n 2"])
    print(f"speed-up of -n 2 over plain (median wall time, whole pytest run): {speedup:.2f}x")


if __name__ == "__main__":
    main()
