"""How often does the regression gate cry wolf, and how often does it catch a slowdown?

Prints rates; asserts nothing (speed targets are measured, not unit-tested).

* A/A: N pairs of runs of the same model through the same pass-through proxy; every
  fail verdict is a false alarm (target: 0 of N).
* Injected slowdown: N pairs where the head goes through a loopback proxy that
  stretches each stream by ``--slowdown`` (default 15%); a fail verdict on the model's
  TPOT median and E2E (p50 and p95) is a detection (target: N of N each).

By default the two runs of a pair run at the same time and take turns request by request
(``--foundry-lockstep``), as the example workflow runs base and head; ``--mode sequential``
runs the head after the base instead, to show what a runner's speed drift does to a gate
fed by runs measured at different times.  A/A and slowdown pairs alternate, so drift over
the session falls on both kinds alike.  Each run is a real ``pytest
bench_tests/test_latency.py`` subprocess against the Foundry Local web service started
here (``--foundry-endpoint``), so the gate sees exactly what CI sees.  ``--max-tokens``
applies to every prompt of the default set (its per-prompt limits are dropped) so runs
stay short and alike.  Usage::

    python benchmarks/gate_accuracy.py                       # the embedded model
    python benchmarks/gate_accuracy.py --model path/to/onnx-genai-folder --keep runs/
    python benchmarks/gate_accuracy.py --from runs/ --gate 'tpot_median:+8%:fail'   # re-judge only
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pytest_foundry.gate.compare import GateReport, compare_results  # noqa: E402
from pytest_foundry.gate.policy import parse_gate_spec  # noqa: E402
from pytest_foundry.prompts import load_prompts  # noqa: E402
from pytest_foundry.runtime.base import ModelRequest  # noqa: E402
from pytest_foundry.runtime.embedded import EMBEDDED_ALIAS  # noqa: E402
from pytest_foundry.runtime.foundry_local import FoundryLocalRuntime  # noqa: E402
from tests.support.slow_proxy import SlowProxy  # noqa: E402

# CPU time per token is shown next to the wall-clock figures: the proxy's delay costs the
# server no CPU, so it must stay unchanged in both kinds of pair (it gates speed only for
# runs measured apart, where it is the one speed figure machine drift cannot move).
DETECTED_METRICS = ("tpot_median", "e2e_p50", "e2e_p95", "cpu_per_token")
KINDS = ("aa", "slow")
LABELS = {"aa": "A/A ", "slow": "slow"}
# (kind, index, base results, head results): one pair of runs, measured or kept.
Pair = tuple[str, int, dict[str, Any], dict[str, Any]]


@dataclass
class Tally:
    """Verdicts of one kind of pair (A/A or slowdown)."""

    pairs: int = 0
    gate_failed: int = 0
    gate_warned: int = 0  # passed, with warnings
    failed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DETECTED_METRICS, 0))
    flagged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DETECTED_METRICS, 0))
    failing_metrics: dict[str, int] = field(default_factory=dict)  # model-row metric -> pairs
    ratios: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in DETECTED_METRICS})

    def add(self, report: GateReport) -> None:
        self.pairs += 1
        self.gate_failed += report.failed
        self.gate_warned += report.outcome == "warn"
        for row in report.rows:
            failing = row.verdict == "regressed" and row.tier == "fail"
            if failing:
                key = row.metric if row.prompt is None else f"{row.metric} (per prompt)"
                self.failing_metrics[key] = self.failing_metrics.get(key, 0) + 1
            if row.prompt is None and row.metric in DETECTED_METRICS:
                self.failed[row.metric] += failing
                self.flagged[row.metric] += row.verdict == "regressed" and row.tier is not None
                if row.ratio is not None:
                    self.ratios[row.metric].append(row.ratio)


def bench_prompts(max_tokens: int, folder: Path) -> Path:
    """The default prompt set with its per-prompt max_tokens dropped, as a prompts.json."""
    entries: list[dict[str, Any]] = []
    for spec in load_prompts(None):
        entry: dict[str, Any] = {"id": spec.id, "prompt": spec.prompt}
        if spec.system:
            entry["system"] = spec.system
        entries.append(entry)
    path = folder / f"prompts-{max_tokens}.json"
    path.write_text(json.dumps({"prompts": entries}, indent=1), encoding="utf-8")
    return path


def bench_command(
    endpoint: str, model_id: str, out: Path, args: argparse.Namespace, prompts: Path, lockstep: Path | None
) -> list[str]:
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
        f"--foundry-prompts={prompts}",
        f"--foundry-rounds={args.rounds}",
        "--foundry-warmup=2",
        f"--foundry-max-tokens={args.max_tokens}",
        f"--foundry-report={out}",
    ]
    return command + ([f"--foundry-lockstep={lockstep}"] if lockstep else [])


def run_benches(commands: list[list[str]], outs: list[Path], together: bool) -> list[dict[str, Any]]:
    """Run the pytest commands one after the other, or all at once (lockstep)."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    if together:
        processes = [
            subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO, env=env
            )
            for command in commands
        ]
        finished = [
            (process.wait(), process.stdout.read() if process.stdout else "") for process in processes
        ]
    else:
        finished = []
        for command in commands:
            done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env)
            finished.append((done.returncode, done.stdout + done.stderr))
    for returncode, output in finished:
        if returncode != 0:
            raise SystemExit(f"bench run failed ({returncode}):\n{output[-3000:]}")
    return [json.loads((out / "results.json").read_text(encoding="utf-8")) for out in outs]


def describe(report: GateReport) -> str:
    """The model rows of the detected metrics, and every failing row, on one line each."""
    model_rows = {row.metric: row for row in report.rows if row.prompt is None}
    parts = []
    for metric in DETECTED_METRICS:
        row = model_rows.get(metric)
        if row is None or row.ratio is None:
            parts.append(f"{metric}=n/a")
            continue
        tier = f"/{row.tier}" if row.tier else ""
        ci = f" [{row.ci_low:.3f}, {row.ci_high:.3f}]" if row.ci_low is not None else ""
        parts.append(f"{metric}={row.verdict}{tier} x{row.ratio:.3f}{ci}")
    others = [
        f"{row.metric}{'' if row.prompt is None else '@' + row.prompt} x{row.ratio:.3f}"
        for row in report.rows
        if row.verdict == "regressed" and row.tier == "fail" and row.metric not in DETECTED_METRICS
        and row.ratio is not None
    ]  # fmt: skip
    return "  ".join(parts) + (f"  also failing: {', '.join(others)}" if others else "")


@contextmanager
def measured_pairs(
    args: argparse.Namespace,
) -> Iterator[Iterator[Pair]]:
    """(kind, index, base results, head results) for every pair, measured now."""
    runtime = FoundryLocalRuntime(cache_dir=Path(tempfile.mkdtemp(prefix="gate-cache-")))
    path = Path(args.model).resolve() if args.model != EMBEDDED_ALIAS else None
    try:
        loaded = runtime.load(ModelRequest(requested=args.model, slug="model", path=path))
        server = loaded.base_url.removesuffix("/catalogs/local/v1").removesuffix("/v1")
        suffix = loaded.base_url[len(server) :]
        with (
            SlowProxy(server, 0.0) as plain,
            SlowProxy(server, args.slowdown) as slow,
            tempfile.TemporaryDirectory() as tmp,
        ):
            prompts = bench_prompts(args.max_tokens, Path(tmp))

            def pairs() -> Iterator[Pair]:
                for index in range(args.pairs):
                    for kind, head_url in (("aa", plain.url), ("slow", slow.url)):
                        lockstep = Path(tmp, f"{kind}-{index}.lock") if args.mode == "lockstep" else None
                        outs = [Path(tmp, f"{kind}-{index}-{side}") for side in ("base", "head")]
                        commands = [
                            bench_command(url + suffix, loaded.model_id, out, args, prompts, lockstep)
                            for url, out in zip((plain.url, head_url), outs, strict=True)
                        ]
                        base, head = run_benches(commands, outs, together=lockstep is not None)
                        if args.keep:
                            for side, results in (("base", base), ("head", head)):
                                target = Path(args.keep, f"{kind}-{index:02d}-{side}.json")
                                target.write_text(json.dumps(results), encoding="utf-8")
                        yield kind, index, base, head

            yield pairs()
    finally:
        runtime.close()


@contextmanager
def kept_pairs(folder: Path) -> Iterator[Iterator[Pair]]:
    """The pairs a ``--keep`` run stored, in the order they were measured."""
    bases = sorted(folder.glob("*-base.json"), key=lambda p: (int(p.name.split("-")[1]), p.name))
    if not bases:
        raise SystemExit(f"{folder}: no kept runs (*-base.json) found")

    def pairs() -> Iterator[Pair]:
        for base_path in bases:
            kind, index, _ = base_path.name.split("-")
            head_path = base_path.with_name(base_path.name.replace("-base.json", "-head.json"))
            yield (
                kind,
                int(index),
                json.loads(base_path.read_text(encoding="utf-8")),
                json.loads(head_path.read_text(encoding="utf-8")),
            )

    yield pairs()


def spread(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"median x{statistics.median(values):.3f}, range x{min(values):.3f}..x{max(values):.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--model", default=EMBEDDED_ALIAS, help="'tiny' or a local model folder")
    parser.add_argument("--pairs", type=int, default=20, help="pairs of each kind")
    parser.add_argument("--slowdown", type=float, default=0.15)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--max-tokens", type=int, default=32, help="for every prompt")
    parser.add_argument(
        "--mode",
        choices=("lockstep", "sequential"),
        default="lockstep",
        help="lockstep (default): base and head run at the same time, taking turns request by "
        "request (--foundry-lockstep), as the example workflow does; sequential: head after base",
    )
    parser.add_argument("--gate", default=None, help="gate spec (default: the plugin's defaults)")
    parser.add_argument("--keep", type=Path, help="store every run's results.json in this folder")
    parser.add_argument("--from", dest="kept", type=Path, help="re-judge runs stored with --keep")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)

    policy = parse_gate_spec(args.gate)
    tallies = {kind: Tally() for kind in KINDS}
    started = time.perf_counter()
    source = kept_pairs(args.kept) if args.kept else measured_pairs(args)
    with source as pairs:
        for kind, index, base, head in pairs:
            report = compare_results(base, head, policy)
            tallies[kind].add(report)
            verdict = "FAIL" if report.failed else "pass"
            print(f"{LABELS[kind]} pair {index + 1:2d}: {verdict}  {describe(report)}", flush=True)
            model = base["models"][0]["model_id"] if base["models"] else "?"
            run = base["run"]

    aa, slow = tallies["aa"], tallies["slow"]
    print()
    print(
        f"model: {model}; {'lockstep' if 'lockstep' in run else 'sequential'} runs; "
        f"rounds {run['rounds']}, max_tokens {run['max_tokens']}; "
        f"slowdown {args.slowdown:.0%} (measured runs only); "
        f"gate {args.gate or 'defaults'}; {time.perf_counter() - started:.0f} s"
    )
    print(f"A/A false alarms (gate failed): {aa.gate_failed}/{aa.pairs}   (target 0/{aa.pairs})")
    print(f"A/A pairs that passed with warnings: {aa.gate_warned}/{aa.pairs}")
    if aa.failing_metrics:
        print(f"  failing in A/A: {aa.failing_metrics}")
    for metric in DETECTED_METRICS[:-1]:
        print(
            f"slowdown detected on {metric}: failed {slow.failed[metric]}/{slow.pairs}, "
            f"flagged (warn or fail) {slow.flagged[metric]}/{slow.pairs}   (target {slow.pairs}/{slow.pairs})"
        )
    print(
        f"cpu_per_token (the proxy costs no CPU: target 0 in both kinds): A/A failed "
        f"{aa.failed['cpu_per_token']}/{aa.pairs}, flagged {aa.flagged['cpu_per_token']}/{aa.pairs}; "
        f"slowdown failed {slow.failed['cpu_per_token']}/{slow.pairs}, "
        f"flagged {slow.flagged['cpu_per_token']}/{slow.pairs}"
    )
    print(f"slowdown runs where the gate failed: {slow.gate_failed}/{slow.pairs}")
    for metric in DETECTED_METRICS:
        print(f"ratio {metric}: A/A {spread(aa.ratios[metric])}; slowdown {spread(slow.ratios[metric])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
