"""The model-comparison report: results.json, results.csv, report.md and report.html.

Pure: no pytest.  ``selection`` decides what the tables hold; ``markdown``, ``csv_table``,
``html_page`` and ``plots`` lay it out; ``writer`` writes the folder atomically.
"""

from __future__ import annotations

from pytest_foundry.report.writer import DEFAULT_REPORT_DIR, FILE_NAMES, FORMATS, summary_lines, write_report

__all__ = ["DEFAULT_REPORT_DIR", "FILE_NAMES", "FORMATS", "summary_lines", "write_report"]
