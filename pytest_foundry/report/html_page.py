"""report.html: one self-contained page with the report's tables and charts.

It opens offline: the CSS is inline, the charts are inline SVG, there is no script, and a
Content-Security-Policy forbids the page from fetching anything at all.
"""

from __future__ import annotations

import html

from pytest_foundry import __version__
from pytest_foundry.report.plots import Plot, render_plots
from pytest_foundry.report.selection import build_report
from pytest_foundry.report.table_cells import BEST_MARK, FLAGS, Cell, Column, Report, Table
from pytest_foundry.results import SCHEMA_VERSION, Results

# Columns whose text is long prose: they wrap, every other column stays on one line.
WRAP_COLUMNS = frozenset({"status", "quality", "reason", "notes"})
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --head: #f6f8fa; --best: #dafbe1;
        --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --skip: #59636e; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff;
       font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1680px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 26px; margin: 0 0 8px; }
h2 { font-size: 19px; margin: 36px 0 10px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0;
          color: var(--muted); }
dl.meta dt { font-weight: 600; color: var(--fg); }
dl.meta dd { margin: 0; }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 9px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top;
         white-space: nowrap; font-size: 13px; }
td.wrap { white-space: normal; min-width: 14em; }
td.wide { min-width: 24em; }
.nb { white-space: nowrap; }
th { background: var(--head); font-weight: 600; white-space: nowrap; }
tbody tr:last-child td { border-bottom: 0; }
tbody tr:nth-child(even) { background: #fbfcfd; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.best { background: var(--best); }
.star { color: var(--ok); }
tr.row-load-failed td, tr.row-error td, tr.row-timeout td, tr.row-skipped td { color: var(--muted); }
.status { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
          border: 1px solid currentColor; white-space: nowrap; }
.status-ok { color: var(--ok); }
.status-truncated { color: var(--warn); }
.status-load-failed, .status-error, .status-timeout { color: var(--bad); }
.status-skipped { color: var(--skip); }
.why { display: block; font-size: 12px; color: var(--muted); min-width: 16em; max-width: 36em; }
sup.flag { color: var(--warn); font-weight: 600; }
ul.notes { margin: 8px 0 0; padding-left: 18px; color: var(--muted); font-size: 13px; }
.plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 20px; }
figure { margin: 0; padding: 12px; border: 1px solid var(--line); border-radius: 6px; }
figure svg { display: block; width: 100%; height: auto; }
figcaption { margin-top: 6px; color: var(--muted); font-size: 13px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""


def _status(row_status: str, text: str) -> str:
    """A coloured badge for the status word; any reason after it in a muted line."""
    word, why = (
        (row_status, text[len(row_status) :].lstrip(" :·")) if text.startswith(row_status) else (text, "")
    )
    badge = f'<span class="status status-{html.escape(row_status)}">{html.escape(word)}</span>'
    return badge + (f'<span class="why">{html.escape(why.strip())}</span>' if why.strip() else "")


def _cell_html(column: Column, cell: Cell, row_status: str) -> str:
    flags = (
        ("num", column.numeric),
        ("best", cell.best),
        ("wrap", column.key in WRAP_COLUMNS),
        ("wide", column.key == "reason"),
    )
    classes = [cls for cls, on in flags if on]
    if column.key == "status":
        content = _status(row_status, cell.text)
    else:
        # Keep each " · " part of a list (quality sources) on one line when the cell wraps.
        content = " · ".join(
            f'<span class="nb">{html.escape(part)}</span>' for part in cell.text.split(" · ")
        )
        if " · " not in cell.text:
            content = html.escape(cell.text)
        content += "".join(
            f'<sup class="flag" title="{html.escape(FLAGS[flag][1])}">{FLAGS[flag][0]}</sup>'
            for flag in cell.flags
        )
        if cell.best:
            content = f'<strong>{content}</strong> <span class="star" title="best">{BEST_MARK}</span>'
    attribute = f' class="{" ".join(classes)}"' if classes else ""
    return f"<td{attribute}>{content}</td>"


def table_html(table: Table) -> str:
    parts = [f'<section id="{table.key}">', f"<h2>{html.escape(table.title)}</h2>"]
    if not table.rows:
        parts.append("<p>No models in this run.</p></section>")
        return "\n".join(parts)
    header = "".join(
        f'<th{" class=num" if column.numeric else ""} scope="col">{html.escape(column.header)}</th>'
        for column in table.columns
    )
    parts.append(f'<div class="table-wrap"><table>\n<thead><tr>{header}</tr></thead>\n<tbody>')
    for row in table.rows:
        cells = "".join(_cell_html(column, row.cells[column.key], row.status) for column in table.columns)
        parts.append(f'<tr class="row-{html.escape(row.status)}">{cells}</tr>')
    parts.append("</tbody>\n</table></div>")
    notes = table.footnotes()
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def plots_html(plots: list[Plot]) -> str:
    figures = "\n".join(
        f'<figure id="plot-{html.escape(plot.key)}">\n{plot.svg}\n'
        f"<figcaption>{html.escape(plot.caption)}</figcaption>\n</figure>"
        for plot in plots
    )
    return f'<section id="plots">\n<h2>Charts</h2>\n<div class="plots">\n{figures}\n</div>\n</section>'


def render_report_html(report: Report, plots: list[Plot]) -> str:
    meta = "".join(
        f"<dt>{html.escape(label)}</dt><dd>{html.escape(text)}</dd>" for label, text in report.meta
    )
    sweep = [] if report.concurrency is None else [table_html(report.concurrency)]
    body = "\n".join(
        [
            f'<header>\n<h1>{html.escape(report.title)}</h1>\n<dl class="meta">{meta}</dl>\n</header>',
            table_html(report.selection),
            plots_html(plots),
            table_html(report.detail),
            *sweep,
            table_html(report.models),
            f"<footer>Generated by pytest-foundry {html.escape(__version__)} "
            f"from results.json (schema version {SCHEMA_VERSION}).</footer>",
        ]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(report.title)}</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def render_html(results: Results) -> str:
    return render_report_html(build_report(results), render_plots(results))
