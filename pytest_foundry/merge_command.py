"""``pytest-foundry merge DIR... --output DIR``: CI shards' results into one record and report.

Pure: no pytest.  Each DIR is a shard's report folder (or its results.json).  Exit status:

* 0: every shard was there and complete; results.json and the report are written;
* 1: written, but incomplete: a shard is missing or unreadable, was interrupted, or a
  model or cell failed (each problem is printed, and kept in ``run.merged.problems``);
* 2: refused, nothing written: mixed machines (without ``--force``), different settings,
  prompts or commits, a shard or a model given twice, nothing to merge (one line).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pytest_foundry.errors import FoundryError, one_line
from pytest_foundry.report.writer import FILE_NAMES, write_report
from pytest_foundry.results_file import load_results
from pytest_foundry.shard_merge import ShardInput, merge_shards

PROG = "pytest-foundry"
EXIT_COMPLETE = 0
EXIT_INCOMPLETE = 1


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``merge`` sub-command to an ``ArgumentParser.add_subparsers()`` object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "merge",
        help="merge CI shards' results (--foundry-shard=K/N) into one results.json and report",
        description="Merge the results of CI shards (runs with --foundry-shard=K/N) into one "
        "results.json and one report. Exit status: 0 complete, 1 written but incomplete "
        "(a shard missing, interrupted or failed), 2 refused (nothing written).",
    )
    parser.add_argument(
        "shards", metavar="DIR", nargs="+", help="a shard's report folder, or its results.json"
    )
    parser.add_argument("--output", metavar="DIR", required=True, help="folder to write the merged report to")
    parser.add_argument(
        "--force",
        action="store_true",
        help="merge shards measured on different CPUs or runtime versions (refused by default: "
        "their figures are not comparable side by side)",
    )
    parser.set_defaults(func=run)


def _results_path(given: str) -> Path:
    path = Path(given)
    return path / FILE_NAMES["json"] if path.is_dir() or not path.suffix else path


def run(args: argparse.Namespace) -> int:
    items: list[ShardInput] = []
    unreadable: list[str] = []
    for given in args.shards:
        path = _results_path(given)
        if not path.is_file():
            # A shard whose run failed before writing: a missing shard, said so below.
            unreadable.append(f"{path}: no results.json (did that shard's run fail?)")
            continue
        try:
            items.append(ShardInput(source=str(path), results=load_results(path)))
        except FoundryError as exc:
            unreadable.append(f"unreadable shard results: {one_line(str(exc))}")
    outcome = merge_shards(items, unreadable=unreadable, force=args.force)
    for note in outcome.notes:
        print(f"{PROG}: note: {note}")
    for path in write_report(outcome.results, Path(args.output)):
        print(f"{PROG}: wrote {path}")
    shards = outcome.results["run"].get("merged")
    given = len(shards["shards"]) if shards else 0
    if outcome.problems:
        for problem in outcome.problems:
            print(f"{PROG}: incomplete: {problem}")
        print(
            f"{PROG}: merged {given} shard(s) with {len(outcome.problems)} problem(s): "
            "the record is incomplete"
        )
        return EXIT_INCOMPLETE
    print(f"{PROG}: merged {given} shard(s): complete")
    return EXIT_COMPLETE
