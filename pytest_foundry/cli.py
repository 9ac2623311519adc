"""``pytest-foundry`` / ``python -m pytest_foundry``: work with saved results, without models.

    pytest-foundry report RESULTS.json [--format md|html|csv|json ...] [--out DIR]
    pytest-foundry compare BASE HEAD [--gate SPEC] [--markdown FILE] ...
    pytest-foundry convert SOURCE --output DIR [--context N] ...   (the [convert] extra)
    pytest-foundry merge DIR... --output DIR [--force]           (CI shards, docs/shards.md)

Errors are one line on stderr (``pytest-foundry: error: ...``) and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pytest_foundry import __version__, merge_command
from pytest_foundry.convert import command as convert_command
from pytest_foundry.errors import FoundryError, one_line
from pytest_foundry.gate import compare_command
from pytest_foundry.report.writer import FILE_NAMES, FORMATS, write_report
from pytest_foundry.results_file import load_results

PROG = "pytest-foundry"
# Each adds its sub-command's parser and sets ``func`` (``args -> int``) as its default.
COMMANDS: tuple[Callable[[Any], None], ...] = (
    compare_command.add_parser,
    convert_command.add_parser,
    merge_command.add_parser,
)


def _report_command(args: argparse.Namespace) -> int:
    source = Path(args.results)
    results = load_results(source)
    out_dir = Path(args.out) if args.out else source.parent
    formats = list(args.formats or FORMATS)
    target_json = out_dir / FILE_NAMES["json"]
    if "json" in formats and target_json.exists() and target_json.samefile(source):
        # Re-rendering next to the file we read: rewriting it would change nothing.
        formats.remove("json")
    for path in write_report(results, out_dir, formats):
        print(f"{PROG}: wrote {path}")
    return 0


def _add_report_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="re-render the report from a saved results.json (no models are run)",
        description="Re-render report files from a saved results.json, without running any model.",
    )
    parser.add_argument("results", metavar="RESULTS.json", help="a results.json written by a run")
    parser.add_argument(
        "--format",
        dest="formats",
        action="append",
        choices=FORMATS,
        help="a format to write (repeatable; default: all of %(choices)s)",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="folder to write into (default: the folder of RESULTS.json)"
    )
    parser.set_defaults(func=_report_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Work with pytest-foundry results without running models.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_report_parser(subparsers)
    for add_parser in COMMANDS:
        add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        # argparse has printed usage or help; hand back its status instead of exiting.
        return exc.code if isinstance(exc.code, int) else 2
    try:
        status: int = args.func(args)
    except FoundryError as exc:
        print(f"{PROG}: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{PROG}: error: {where}{one_line(exc.strerror or str(exc))}", file=sys.stderr)
        return 2
    return status
