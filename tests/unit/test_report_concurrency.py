"""The report's concurrency sweep: the table, the verdict and the chart."""

from __future__ import annotations

from gate_factory import model, results
from test_concurrency import parallel_timeline, serial_timeline, sweep

from pytest_foundry.report.html_page import render_html
from pytest_foundry.report.markdown import render_markdown
from pytest_foundry.report.plots import render_plots


def run_with_sweep(timelines):
    run = results([model("tiny")], [])
    run["concurrency"] = sweep(timelines)
    return run


def test_markdown_has_a_row_per_level_and_says_the_runtime_serialises():
    text = render_markdown(run_with_sweep({1: serial_timeline(1, 4), 2: serial_timeline(2, 2)}))
    section = text[text.index("## Concurrency sweep") : text.index("## Models")]
    rows = [line for line in section.splitlines() if line.startswith("| tiny ")]
    assert len(rows) == 2
    assert rows[1].startswith("| tiny | 2 | 4 | 0 | 10.0 | ×1.00 | 0% |")
    assert "- tiny: serialises requests (2 streams: throughput ×1.00 of 1" in section


def test_html_shows_the_table_and_the_chart_of_a_parallel_runtime():
    run = run_with_sweep({1: parallel_timeline(1, 4), 2: parallel_timeline(2, 4)})
    page = render_html(run)
    assert '<section id="concurrency">' in page
    assert 'id="plot-concurrency"' in page
    assert "serves streams in parallel" in page
    (plot,) = [p for p in render_plots(run) if p.key == "concurrency"]
    assert plot.svg.startswith("<svg ")


def test_a_run_without_a_sweep_has_no_concurrency_section_or_chart():
    run = results([model("tiny")], [])
    assert "Concurrency" not in render_markdown(run)
    assert all(p.key != "concurrency" for p in render_plots(run))


def test_the_terminal_line_gives_throughput_and_p95_by_level_and_the_verdict():
    from pytest_foundry.report.concurrency_section import terminal_lines

    (line,) = terminal_lines(run_with_sweep({1: serial_timeline(1, 4), 2: serial_timeline(2, 2)}))
    assert line == (
        "concurrency tiny: 1/2 streams: 10.0 / 10.0 tok/s, E2E p95 1.00 s / 2.00 s; serialises requests"
    )
