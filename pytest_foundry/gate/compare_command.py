"""``pytest-foundry compare BASE HEAD``: gate one saved run against another, outside pytest.

Pure: no pytest.  Exit status: 0 the gate passes (warnings included), 1 it fails,
2 an error (bad spec, missing or corrupt file, refused fingerprints), told in one line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_foundry.errors import FoundryError, one_line
from pytest_foundry.gate.apply import apply_gate
from pytest_foundry.gate.baselines import DEFAULT_BASELINE_DIR, load_baseline, resolve_baseline
from pytest_foundry.gate.policy import parse_gate_spec
from pytest_foundry.gate.render import terminal_lines

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_ERROR = 2


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``compare`` sub-command to an ``ArgumentParser.add_subparsers()`` object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "compare",
        help="compare two runs and apply the regression gate",
        description="Compare HEAD with the baseline BASE metric by metric and apply the regression gate. "
        "Exit status: 0 pass, 1 the gate fails, 2 error.",
    )
    parser.add_argument(
        "base", metavar="BASE", help="baseline: a saved name, a results.json or a folder holding one"
    )
    parser.add_argument(
        "head", metavar="HEAD", help="the run to check: a results.json, a folder or a saved name"
    )
    parser.add_argument(
        "--gate", metavar="SPEC", help="thresholds, e.g. 'ttft_p95:+10%%:fail, decode_tps:-5%%:warn'"
    )
    parser.add_argument(
        "--force", action="store_true", help="compare even when CPU, runtime versions or model files differ"
    )
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="pass when the runs share no measured model x prompt (by default that fails: exit 1)",
    )
    parser.add_argument("--markdown", metavar="FILE", help="also write the verdict as Markdown (gate.md)")
    parser.add_argument(
        "--benchmark-json",
        metavar="DIR",
        help="also write HEAD's metrics as github-action-benchmark customSmallerIsBetter.json and "
        "customBiggerIsBetter.json into DIR",
    )
    parser.add_argument(
        "--baseline-dir",
        metavar="DIR",
        default=str(DEFAULT_BASELINE_DIR),
        help=f"where saved baselines live (default {DEFAULT_BASELINE_DIR})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the verdict; 0 pass, 1 the gate fails, 2 error (one line on stderr)."""
    try:
        policy = parse_gate_spec(args.gate, option="--gate")
        base = load_baseline(resolve_baseline(args.base, args.baseline_dir), role="baseline")
        head_path = resolve_baseline(args.head, args.baseline_dir)
        head = load_baseline(head_path, role="head run")
        report = apply_gate(
            base,
            head,
            policy,
            force=args.force,
            allow_empty=args.allow_empty,
            markdown=Path(args.markdown) if args.markdown else None,
            benchmark_dir=Path(args.benchmark_json) if args.benchmark_json else None,
        ).report
        for line in terminal_lines(report):
            print(line)
    except FoundryError as error:
        print(f"pytest-foundry compare: error: {one_line(str(error))}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as error:
        where = f"{error.filename}: {error.strerror}" if error.filename else str(error)
        print(f"pytest-foundry compare: error: {one_line(where)}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_FAIL if report.failed else EXIT_PASS
