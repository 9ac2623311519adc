"""report.html: one self-contained page with the tables and four inline SVG charts."""

from __future__ import annotations

import copy
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pytest_foundry.report.html_page import render_html, render_report_html
from pytest_foundry.report.plots import speed_memory_plot
from pytest_foundry.report.selection import DETAIL_COLUMNS, SELECTION_COLUMNS, build_report
from pytest_foundry.results import Results
from pytest_foundry.results_file import load_results

FIXTURE = Path(__file__).parent / "data" / "results.json"


class PageParser(HTMLParser):
    """Collects what the structure tests look at."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.ids: list[str] = []
        self.references: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.svg_depth = 0
        self.page_styles = 0  # <style> outside the SVGs (matplotlib puts one in each SVG)
        self.top_level_svgs = 0
        self.headers: list[list[str]] = []
        self._in_th = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "style" and self.svg_depth == 0:
            self.page_styles += 1
        for name, value in attrs:
            if name == "id" and value:
                self.ids.append(value)
            if name in ("src", "href", "xlink:href", "action", "poster", "data") and value is not None:
                self.references.append((tag, name, value))
        if tag == "svg":
            self.top_level_svgs += self.svg_depth == 0
            self.svg_depth += 1
        if tag == "thead":
            self.headers.append([])
        if tag == "th":
            self._in_th = True
            self.headers[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.svg_depth -= 1
        if tag == "th":
            self._in_th = False

    def handle_data(self, data: str) -> None:
        if self._in_th:
            self.headers[-1][-1] += data
        self.text.append(data)


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(load_results(FIXTURE))


@pytest.fixture(scope="module")
def parsed(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return parser


def test_is_one_html_document_with_inline_style_and_no_script(page: str, parsed: PageParser) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert parsed.tags.count("html") == 1
    assert parsed.page_styles == 1
    assert "script" not in parsed.tags
    assert "link" not in parsed.tags
    assert "img" not in parsed.tags
    assert "Content-Security-Policy" in page


def test_nothing_is_fetched_from_the_network(parsed: PageParser, page: str) -> None:
    external = [ref for ref in parsed.references if not ref[2].startswith("#")]
    assert external == []
    assert "@import" not in page
    assert "url(http" not in page


def test_four_inline_svg_charts_in_figures(parsed: PageParser, page: str) -> None:
    assert parsed.top_level_svgs == 4
    assert parsed.tags.count("figure") == 4
    assert "<?xml" not in page
    assert "<!DOCTYPE svg" not in page
    for key in ("ttft-distribution", "e2e-distribution", "decode-vs-memory", "latency-per-prompt"):
        assert f'id="plot-{key}"' in page


def test_ids_are_unique_across_the_inlined_svgs(parsed: PageParser) -> None:
    assert len(parsed.ids) == len(set(parsed.ids))
    internal = {value[1:] for _, _, value in parsed.references if value.startswith("#")}
    assert internal <= set(parsed.ids)


def test_the_same_tables_as_the_markdown(parsed: PageParser) -> None:
    assert parsed.tags.count("table") == 3
    assert parsed.headers[0] == [column.header for column in SELECTION_COLUMNS]
    assert parsed.headers[1] == [column.header for column in DETAIL_COLUMNS]
    text = " ".join(parsed.text)
    assert "genai_config.json not found in models/broken" in text
    assert "n < 20: p95/p99 unreliable" in text
    assert "Cost per 1M output tokens is an estimate" in text


def test_best_values_are_marked_and_small_n_flagged(page: str) -> None:
    assert page.count('<td class="num best"><strong>') >= 9
    assert '<sup class="flag" title="n &lt; 20: p95/p99 unreliable">†</sup>' in page


def test_text_from_the_record_is_escaped() -> None:
    results = copy.deepcopy(load_results(FIXTURE))
    results["models"][2]["reason"] = '<script>alert("x")</script>'
    page = render_report_html(build_report(results), plots=[])
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_rendering_is_reproducible(page: str) -> None:
    assert render_html(load_results(FIXTURE)) == page


def _without_memory(results: Results, slug: str) -> Results:
    changed = copy.deepcopy(results)
    for model in changed["models"]:
        if model["slug"] == slug:
            model["memory"] = None
    return changed


def test_model_with_unknown_memory_is_noted_not_plotted_at_zero(page: str) -> None:
    results = _without_memory(load_results(FIXTURE), "qwen2.5-0.5b")
    plot = speed_memory_plot(results)
    assert "Not plotted (peak memory unknown): qwen2.5-0.5b (ok)." in plot.caption
    # One scatter collection per plotted model: one fewer than in the full page's chart.
    marker = '<g id="decode-vs-memory-PathCollection_'
    assert plot.svg.count(marker) == 1
    assert page.count(marker) == 2


def test_a_run_where_every_model_failed_still_renders() -> None:
    results = copy.deepcopy(load_results(FIXTURE))
    results["models"] = [results["models"][2]]
    results["cells"] = [cell for cell in results["cells"] if cell["model"] == "broken"]
    parser = PageParser()
    parser.feed(render_html(results))
    assert parser.top_level_svgs == 4
    assert "load-failed" in " ".join(parser.text)
