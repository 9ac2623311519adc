"""report.md: GitHub-flavoured Markdown for a pull request or a CI job summary."""

from __future__ import annotations

import re

from pytest_foundry.report.selection import build_report
from pytest_foundry.report.table_cells import BEST_MARK, FLAGS, Cell, Report, Table
from pytest_foundry.results import Results

# Characters that would end a table cell or start emphasis, code, HTML or a link.  An
# underscore inside a word (max_tokens) cannot start emphasis in GFM, so it stays readable.
_SPECIAL = re.compile(r"([\\|*`<>\[\]]|(?<!\w)_|_(?!\w))")


def escape(text: str) -> str:
    return _SPECIAL.sub(lambda match: "\\" + match.group(0), " ".join(text.split()))


def cell_markdown(cell: Cell) -> str:
    text = escape(cell.text) + "".join(FLAGS[flag][0] for flag in cell.flags)
    return f"**{text}** {BEST_MARK}" if cell.best else text


def table_markdown(table: Table) -> list[str]:
    lines = [f"## {table.title}", ""]
    if not table.rows:
        return [*lines, "_No models in this run._", ""]
    lines.append("| " + " | ".join(escape(column.header) for column in table.columns) + " |")
    lines.append("|" + "|".join("---:" if column.numeric else "---" for column in table.columns) + "|")
    for row in table.rows:
        lines.append(
            "| " + " | ".join(cell_markdown(row.cells[column.key]) for column in table.columns) + " |"
        )
    lines.append("")
    notes = table.footnotes()
    if notes:
        lines.extend(f"- {escape(note)}" for note in notes)
        lines.append("")
    return lines


def render_report_markdown(report: Report) -> str:
    lines = [f"# {report.title}", ""]
    lines.extend(f"- **{label}:** {escape(text)}" for label, text in report.meta)
    lines.append("")
    for table in report.tables:
        lines.extend(table_markdown(table))
    return "\n".join(lines).rstrip("\n") + "\n"


def render_markdown(results: Results) -> str:
    return render_report_markdown(build_report(results))
