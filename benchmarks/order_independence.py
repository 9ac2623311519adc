"""Do a model's memory and cold-start figures depend on the order the models run in?

Runs a real ``pytest`` subprocess on two models in one order, then in the other, a few
times each (alternating, so drift over the session falls on both orders alike), and
prints, per model, the median of each figure in each order and the ratio between the
orders: RSS before load, after load and the peak while generating, load time and cold
TTFT.  Target: every ratio within 20 % (or 16 MiB for memory).  Asserts nothing.

    python benchmarks/order_independence.py --models tiny,path/to/SmolLM2-folder \
        [--repeats 3] [--cold-starts 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ANSWER_TEST = """
def test_answer(foundry_generate, foundry_prompt):
    assert foundry_generate(foundry_prompt).metrics.output_tokens > 0
"""
PROMPTS = {"prompts": [{"id": "hello", "prompt": "Say hello in one sentence."}]}
MIB = 1024 * 1024
MEMORY = ("rss_before_load_bytes", "rss_after_load_bytes", "peak_rss_bytes")
TIMES = ("load_s", "cold_ttft_s")


def run_once(work: Path, models: list[str], cold_starts: int, index: int) -> dict[str, dict[str, Any]]:
    report = work / f"report-{index}"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--foundry-models={','.join(models)}",
            f"--foundry-report={report}",
            "--foundry-prompts=prompts.json",
            f"--foundry-cache-dir={work / 'cache'}",
            f"--foundry-cold-starts={cold_starts}",
            "--foundry-max-tokens=32",
            f"--basetemp={work / f'basetemp-{index}'}",
            "test_answer.py",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise SystemExit(f"run {index} failed (exit {done.returncode}): {done.stdout[-2000:]}")
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    return {model["slug"]: model for model in results["models"]}


def figures(model: dict[str, Any]) -> dict[str, float]:
    out = {key: float(model["memory"][key]) for key in MEMORY}
    out.update({key: float(model[key]) for key in TIMES})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--models", required=True, help="two models, comma-separated")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each order")
    parser.add_argument("--cold-starts", type=int, default=3, help="--foundry-cold-starts")
    args = parser.parse_args()
    models = [m.strip() for m in args.models.split(",")]
    if len(models) != 2:
        parser.error("--models: give exactly two models")
    orders = {"forward": models, "reversed": models[::-1]}
    samples: dict[str, dict[str, dict[str, list[float]]]] = {name: {} for name in orders}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="order-independence-") as tmp:
        work = Path(tmp)
        (work / "test_answer.py").write_text(ANSWER_TEST, encoding="utf-8")
        (work / "prompts.json").write_text(json.dumps(PROMPTS), encoding="utf-8")
        index = 0
        for _ in range(args.repeats):
            for name, order in orders.items():
                for slug, model in run_once(work, order, args.cold_starts, index).items():
                    per_model = samples[name].setdefault(slug, {})
                    for key, value in figures(model).items():
                        per_model.setdefault(key, []).append(value)
                index += 1
    print(
        f"{args.repeats} runs of each order, --foundry-cold-starts={args.cold_starts}, "
        f"{time.perf_counter() - started:.0f} s; medians per order, ratio reversed/forward"
    )
    worst = 0.0
    for slug in samples["forward"]:
        print(f"\n{slug}")
        for key in (*MEMORY, *TIMES):
            forward = statistics.median(samples["forward"][slug][key])
            backward = statistics.median(samples["reversed"][slug][key])
            ratio = backward / forward if forward else float("nan")
            memory = key in MEMORY
            within = abs(backward - forward) <= 16 * MIB if memory else False
            within = within or abs(ratio - 1) <= 0.20
            worst = max(worst, abs(ratio - 1))
            shown = (lambda v: f"{v / MIB:8.1f} MiB") if memory else (lambda v: f"{v * 1000:8.1f} ms")
            every = samples["forward"][slug][key] + samples["reversed"][slug][key]
            spread = [shown(v).strip() for v in every]
            print(
                f"  {key:22s} forward {shown(forward)}  reversed {shown(backward)}  "
                f"x{ratio:.3f} {'ok' if within else 'OUTSIDE 20 %'}   (all runs: {', '.join(spread)})"
            )
    print(f"\nlargest order effect: {worst:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
