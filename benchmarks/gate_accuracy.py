"""How often does the regression gate cry wolf, and how often does it catch a slowdown?

Prints rates; asserts nothing (speed targets are measured, not unit-tested).

* A/A: N pairs of runs of the same model through the same pass-through proxy; every
  fail verdict is a false alarm (target: 0 of N).
* Injected slowdown: N pairs where the head goes through a loopback proxy that
  stretches each stream by ``--slowdown`` (default 15%); a fail verdict on the model's
  TPOT median and E2E p95 is a detection (target: N of N each).

Each run is a real ``pytest bench_tests/test_latency.py`` subprocess against the Foundry
Local web service started here (``--foundry-endpoint``), so the gate sees exactly what CI
sees.  Usage::

    python benchmarks/gate_accuracy.py                       # the embedded model
    python benchmarks/gate_accuracy.py --model path/to/onnx-genai-folder --pairs 10
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pytest_foundry.gate.compare import compare_results  # noqa: E402
from pytest_foundry.gate.policy import parse_gate_spec  # noqa: E402
from pytest_foundry.runtime.base import ModelRequest  # noqa: E402
from pytest_foundry.runtime.embedded import EMBEDDED_ALIAS  # noqa: E402
from pytest_foundry.runtime.foundry_local import FoundryLocalRuntime  # noqa: E402
from pytest_foundry.slow_proxy import SlowProxy  # noqa: E402

DETECTED_METRICS = ("tpot_median", "e2e_p95")


def run_bench(endpoint: str, model_id: str, out: Path, rounds: int, max_tokens: int) -> dict:
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(REPO / "bench_tests" / "test_latency.py"),
        "-q",
        "-p",
        "no:cacheprovider",
        f"--foundry-endpoint={endpoint}",
        f"--foundry-models={model_id}",
        f"--foundry-rounds={rounds}",
        "--foundry-warmup=2",
        f"--foundry-max-tokens={max_tokens}",
        f"--foundry-report={out}",
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONHASHSEED": "0"}
    )
    if done.returncode != 0:
        raise SystemExit(
            f"bench run failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return json.loads((out / "results.json").read_text())


def verdicts(base: dict, head: dict, spec: str | None) -> tuple[bool, dict[str, str]]:
    """(gate failed, model-level verdict per metric); failing rows are printed."""
    report = compare_results(base, head, parse_gate_spec(spec))
    for row in report.rows:
        if row.verdict == "regressed" and row.tier == "fail":
            where = f"{row.model}/{row.prompt or '*'}"
            print(f"    fail: {where} {row.metric} x{row.ratio:.3f} CI [{row.ci_low}, {row.ci_high}]")
    model_rows = {
        row.metric: f"{row.verdict}/{row.tier} x{row.ratio:.3f} [{row.ci_low:.3f}, {row.ci_high:.3f}]"
        if row.ratio is not None and row.ci_low is not None and row.ci_high is not None
        else f"{row.verdict}/{row.tier}"
        for row in report.rows
        if row.prompt is None
    }
    return report.failed, model_rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=EMBEDDED_ALIAS, help="'tiny' or a local model folder")
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--slowdown", type=float, default=0.15)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument(
        "--gate",
        default=None,
        help="gate spec (default: the plugin's defaults), e.g. 'tpot_median:floor=0.01ms' for the "
        "embedded model, whose 0.13 ms TPOT sits below the default 0.1 ms floor's reach",
    )
    args = parser.parse_args()

    runtime = FoundryLocalRuntime(cache_dir=Path(tempfile.mkdtemp(prefix="gate-cache-")))
    path = Path(args.model).resolve() if args.model != EMBEDDED_ALIAS else None
    loaded = runtime.load(ModelRequest(requested=args.model, slug="model", path=path))
    server = loaded.base_url.removesuffix("/catalogs/local/v1").removesuffix("/v1")
    suffix = loaded.base_url[len(server) :]
    started = time.perf_counter()
    aa_fails = 0
    slow_fails = 0
    detections = dict.fromkeys(DETECTED_METRICS, 0)  # regressed at the fail tier
    flagged = dict.fromkeys(DETECTED_METRICS, 0)  # regressed at any tier (warn or fail)

    def pair(label: str, index: int, head_url: str, tmp: str) -> tuple[bool, dict[str, str]]:
        """One base run and one head run (through ``head_url``), compared by the gate."""
        runs = [
            run_bench(
                url + suffix,
                loaded.model_id,
                Path(tmp, f"{label}-{side}-{index}"),
                args.rounds,
                args.max_tokens,
            )
            for side, url in (("base", plain.url), ("head", head_url))
        ]
        failed, rows = verdicts(*runs, args.gate)
        verdict_text = "  ".join(f"{m}={rows.get(m)}" for m in DETECTED_METRICS)
        print(f"{label} pair {index + 1:2d}: {'FAIL' if failed else 'pass'}  {verdict_text}", flush=True)
        return failed, rows

    try:
        with (
            SlowProxy(server, 0.0) as plain,
            SlowProxy(server, args.slowdown) as slow,
            tempfile.TemporaryDirectory() as tmp,
        ):
            for index in range(args.pairs):
                aa_fails += pair("A/A ", index, plain.url, tmp)[0]
            for index in range(args.pairs):
                failed, rows = pair("slow", index, slow.url, tmp)
                slow_fails += failed
                for metric in DETECTED_METRICS:
                    detections[metric] += str(rows.get(metric)).startswith("regressed/fail")
                    flagged[metric] += str(rows.get(metric)).startswith("regressed")
    finally:
        runtime.close()
    print()
    print(
        f"model: {loaded.model_id}; rounds {args.rounds}; slowdown {args.slowdown:.0%}; "
        f"gate {args.gate or 'defaults'}; {time.perf_counter() - started:.0f} s"
    )
    print(f"A/A false alarms (gate failed): {aa_fails}/{args.pairs}   (target 0/{args.pairs})")
    for metric in DETECTED_METRICS:
        target = f"{args.pairs}/{args.pairs}"
        print(
            f"slowdown detected on {metric}: failed {detections[metric]}/{args.pairs}, "
            f"flagged (warn or fail) {flagged[metric]}/{args.pairs}   (target {target})"
        )
    print(f"slowdown runs where the gate failed: {slow_fails}/{args.pairs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
