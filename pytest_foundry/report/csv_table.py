"""results.csv: the per-prompt detail table, one row per model × prompt, for spreadsheets and tools.

Same columns as the Markdown detail table, each in one fixed unit named in its header,
without best marks or flags; unknown values are "n/a" (which pandas reads as missing).
"""

from __future__ import annotations

import csv
import io

from pytest_foundry.report.selection import detail_table
from pytest_foundry.report.table_cells import Table
from pytest_foundry.results import Results


def table_csv(table: Table) -> str:
    buffer = io.StringIO()
    # "\n" line ends: the file is the same on every OS (golden tests, diffs in git).
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(column.csv_header for column in table.columns)
    for row in table.rows:
        writer.writerow(row.cells[column.key].csv for column in table.columns)
    return buffer.getvalue()


def render_csv(results: Results) -> str:
    return table_csv(detail_table(results))
