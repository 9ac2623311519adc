"""Writing the report folder, and the few lines the terminal summary shows about it.

Each file is rendered in full in memory, then written atomically: if one renderer fails,
the files written before it stay complete, the previous version of the failing file is
left untouched, and the remaining files are still written.  The failures are then raised
together as one FoundryError.  Ctrl-C (KeyboardInterrupt) stops at once, leaving no
half-written or temporary file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from pytest_foundry.atomic_files import atomic_write_text
from pytest_foundry.errors import ConfigError, FoundryError, one_line
from pytest_foundry.report import csv_table, html_page, markdown
from pytest_foundry.report import formatting as fmt
from pytest_foundry.report.record_reading import model_stats, prompt_order
from pytest_foundry.results import Results
from pytest_foundry.results_file import dumps_results

DEFAULT_REPORT_DIR = "foundry-report"
FORMATS: tuple[str, ...] = ("json", "csv", "md", "html")
FILE_NAMES: dict[str, str] = {
    "json": "results.json",
    "csv": "results.csv",
    "md": "report.md",
    "html": "report.html",
}
# Which file the terminal summary points people at, best first.
_PREFERRED = ("html", "md", "csv", "json")
SUMMARY_MODEL_LIMIT = 8


def _renderer(fmt_name: str, path: Path) -> Callable[[Results], str]:
    # Looked up on the modules at call time, so tests can make one renderer fail.
    if fmt_name == "json":
        return lambda results: dumps_results(results, path)
    if fmt_name == "csv":
        return csv_table.render_csv
    if fmt_name == "md":
        return markdown.render_markdown
    return html_page.render_html


def check_formats(formats: Iterable[str]) -> list[str]:
    """The formats, deduplicated, in the given order; an unknown one raises ConfigError."""
    chosen = list(dict.fromkeys(formats))
    unknown = [name for name in chosen if name not in FILE_NAMES]
    if unknown:
        raise ConfigError(
            f"unknown report format {', '.join(map(repr, unknown))}: choose from {', '.join(FORMATS)}"
        )
    return chosen


def write_report(
    results: Results, out_dir: str | os.PathLike[str], formats: Iterable[str] = FORMATS
) -> list[Path]:
    """Write the chosen report files into ``out_dir``; return the paths written.

    Raises FoundryError (one line, naming the files) when any renderer failed; the files
    that could be written are written.
    """
    folder = Path(out_dir)
    written: list[Path] = []
    failures: list[tuple[Path, Exception]] = []
    for name in check_formats(formats):
        path = folder / FILE_NAMES[name]
        try:
            text = _renderer(name, path)(results)
            atomic_write_text(path, text)
        except Exception as exc:  # one broken renderer must not cost the others their files
            failures.append((path, exc))
        else:
            written.append(path)
    if failures:
        details = "; ".join(
            f"{path}: {exc if isinstance(exc, FoundryError) else f'{type(exc).__name__}: {exc}'}"
            for path, exc in failures
        )
        raise FoundryError(one_line(f"could not write the report: {details}")) from failures[0][1]
    return written


def _model_line(results: Results, slug: str, status: str, reason: str | None) -> str:
    if status != "ok":
        return f"  {slug}: {status}" + (f" ({one_line(reason, 80)})" if reason else "")
    stats = model_stats(results, slug)
    parts = [
        f"E2E p50 {fmt.duration(stats.e2e.median if stats.e2e else None)}",
        f"TTFT p50 {fmt.duration(stats.ttft.median if stats.ttft else None)}",
        f"decode {fmt.rate(stats.decode.median if stats.decode else None)} tok/s",
        f"n={stats.n}",
    ]
    return f"  {slug}: " + ", ".join(parts)


def summary_lines(
    results: Results, report_dir: str | os.PathLike[str], files: Sequence[Path] | None = None
) -> list[str]:
    """A few lines for the terminal: counts, one line per model, and last the report's path.

    ``files`` are the paths :func:`write_report` returned; without them the HTML report's
    path is assumed.
    """
    models = results["models"]
    counts: dict[str, int] = {}
    for model in models:
        counts[model["status"]] = counts.get(model["status"], 0) + 1
    tally = ", ".join(f"{count} {status}" for status, count in counts.items()) or "no models"
    lines = [f"pytest-foundry: {len(models)} model(s) × {len(prompt_order(results))} prompt(s): {tally}"]
    for model in models[:SUMMARY_MODEL_LIMIT]:
        lines.append(_model_line(results, model["slug"], model["status"], model["reason"]))
    if len(models) > SUMMARY_MODEL_LIMIT:
        lines.append(f"  … and {len(models) - SUMMARY_MODEL_LIMIT} more in the report")
    lines.append(f"pytest-foundry report: {_main_file(Path(report_dir), files)}")
    return lines


def _main_file(folder: Path, files: Sequence[Path] | None) -> Path:
    if files is None:
        return folder / FILE_NAMES["html"]
    by_name = {path.name: path for path in files}
    for name in _PREFERRED:
        if FILE_NAMES[name] in by_name:
            return by_name[FILE_NAMES[name]]
    return folder
