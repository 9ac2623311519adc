"""The report's charts, drawn by matplotlib and returned as inline SVG text.

Pure: no pytest.  Figures are built with ``matplotlib.figure.Figure`` directly, never
pyplot, so rendering touches no global backend or figure registry of the user's process.
matplotlib is imported on first use: importing the report package stays cheap.

Text is drawn as paths (``svg.fonttype = "path"``), so the SVG needs no font to look the
same everywhere.  Several SVGs share one HTML document, so every id is prefixed per plot.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pytest_foundry.metrics import summarize
from pytest_foundry.report import formatting as fmt
from pytest_foundry.report.record_reading import (
    measured_cells,
    metric_values,
    model_stats,
    pooled_samples,
    prompt_order,
)
from pytest_foundry.results import ModelRecord, Results

FIGURE_SIZE = (7.5, 4.2)
PALETTE = "tab10"


@dataclass(frozen=True)
class Plot:
    key: str  # used as the SVG id prefix and the figure's HTML id
    title: str
    svg: str  # one <svg> element, ready to inline in HTML
    caption: str


def _color(results: Results, slug: str) -> Any:
    """The same colour for a model in every chart: by its position in the run."""
    from matplotlib import colormaps

    slugs = [model["slug"] for model in results["models"]]
    return colormaps[PALETTE](slugs.index(slug) % 10)


def _new_figure() -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGURE_SIZE, layout="constrained")
    return figure


_XML_PROLOGUE = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*", re.IGNORECASE)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_ID = re.compile(r'\bid="([^"]+)"')
_REFERENCE = re.compile(r'(href="#|url\(#)([^")]+)')


def _inline_svg(figure: Any, key: str, title: str) -> str:
    """SVG text of ``figure`` without prologue or metadata, its ids prefixed with ``key``."""
    from matplotlib import rc_context

    buffer = io.StringIO()
    # The salt seeds the hashed ids matplotlib makes, so output is reproducible.
    with rc_context({"svg.fonttype": "path", "svg.hashsalt": key}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = _METADATA.sub("", _XML_PROLOGUE.sub("", buffer.getvalue()))
    svg = _ID.sub(lambda m: f'id="{key}-{m.group(1)}"', svg)
    svg = _REFERENCE.sub(lambda m: f"{m.group(1)}{key}-{m.group(2)}", svg)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{html.escape(title)}" ', 1).strip()


def _placeholder(figure: Any, message: str) -> None:
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="#666666")


def _not_plotted(models: Sequence[ModelRecord], why: str) -> str:
    if not models:
        return ""
    names = ", ".join(f"{model['slug']} ({model['status']})" for model in models)
    return f" Not plotted ({why}): {names}."


def distribution_plot(results: Results, metric: str, label: str, key: str) -> Plot:
    """Box plot of one latency metric per model, over its pooled measured rounds, in ms."""
    figure = _new_figure()
    plotted: list[tuple[ModelRecord, list[float]]] = []
    missing: list[ModelRecord] = []
    for model in results["models"]:
        values = [v * 1000 for v in metric_values(pooled_samples(results, model["slug"]), metric)]
        if values:
            plotted.append((model, values))
        else:
            missing.append(model)
    title = f"{label} per model"
    if not plotted:
        _placeholder(figure, "no measured rounds")
    else:
        axes = figure.add_subplot()
        data = [values for _, values in plotted]
        boxes = axes.boxplot(
            data, patch_artist=True, widths=0.5, showfliers=False, medianprops={"color": "#1f2328"}
        )
        axes.set_xticks(range(1, len(plotted) + 1), [m["slug"] for m, _ in plotted])
        for index, (box, (model, values)) in enumerate(zip(boxes["boxes"], plotted, strict=True)):
            color = _color(results, model["slug"])
            box.set(facecolor=color, alpha=0.35, edgecolor=color)
            # Every raw round as a dot: with n this small the box alone hides too much.
            offsets = [((i % 7) - 3) * 0.04 for i in range(len(values))]
            axes.scatter([index + 1 + o for o in offsets], values, s=14, color=color, zorder=3)
        axes.set_ylabel(f"{label} (ms)")
        axes.set_ylim(bottom=0)
        axes.grid(axis="y", alpha=0.3)
        axes.set_title(title)
    caption = (
        f"{label} of every measured round, pooled over the prompts each model answered "
        "(box: quartiles, whiskers: 1.5 × IQR, dots: rounds)." + _not_plotted(missing, "no measured rounds")
    )
    return Plot(key, title, _inline_svg(figure, key, title), caption)


def speed_memory_plot(results: Results, key: str = "decode-vs-memory") -> Plot:
    """Decode tok/s against peak RSS, one point per model; unknown memory is noted, never 0."""
    figure = _new_figure()
    points: list[tuple[ModelRecord, float, float]] = []
    unknown_memory: list[ModelRecord] = []
    no_speed: list[ModelRecord] = []
    for model in results["models"]:
        stats = model_stats(results, model["slug"])
        peak = None if model["memory"] is None else model["memory"]["peak_rss_bytes"]
        if stats.decode is None:
            no_speed.append(model)
        elif peak is None:
            unknown_memory.append(model)
        else:
            points.append((model, peak / fmt.MIB, stats.decode.median))
    title = "Decode speed vs peak memory"
    if not points:
        _placeholder(figure, "no model with both decode speed and peak memory")
    else:
        axes = figure.add_subplot()
        for model, memory, speed in points:
            color = _color(results, model["slug"])
            axes.scatter([memory], [speed], s=80, color=color, zorder=3, label=model["slug"])
            axes.annotate(model["slug"], (memory, speed), textcoords="offset points", xytext=(8, 6))
        axes.set_xlabel("peak RSS (MiB)")
        axes.set_ylabel("decode tok/s (median)")
        axes.set_xlim(left=0, right=max(m for _, m, _ in points) * 1.25)
        axes.set_ylim(bottom=0, top=max(s for _, _, s in points) * 1.25)
        axes.grid(alpha=0.3)
        axes.set_title(title)
    caption = (
        "One point per model: up and to the left is faster and leaner."
        + _not_plotted(unknown_memory, "peak memory unknown")
        + _not_plotted(no_speed, "no decode speed")
    )
    return Plot(key, title, _inline_svg(figure, key, title), caption)


def prompt_latency_plot(results: Results, key: str = "latency-per-prompt") -> Plot:
    """Median E2E per model × prompt as grouped bars; a cell without rounds gets no bar."""
    figure = _new_figure()
    prompts = prompt_order(results)
    series: list[tuple[ModelRecord, list[float | None]]] = []
    missing: list[ModelRecord] = []
    for model in results["models"]:
        by_prompt: dict[str, float] = {}
        for cell in measured_cells(results, model["slug"]):
            stored = cell["summary"].get("e2e_s")
            computed = None if stored else summarize(metric_values(cell["samples"], "e2e_s"))
            if stored is not None:
                by_prompt[cell["prompt"]] = stored["median"]
            elif computed is not None:
                by_prompt[cell["prompt"]] = computed.median
        if by_prompt:
            series.append((model, [by_prompt.get(prompt) for prompt in prompts]))
        else:
            missing.append(model)
    title = "Median E2E latency per prompt"
    gaps: list[str] = []
    if not series:
        _placeholder(figure, "no measured rounds")
    else:
        axes = figure.add_subplot()
        width = 0.8 / len(series)
        for index, (model, medians) in enumerate(series):
            xs = [p + (index - (len(series) - 1) / 2) * width for p in range(len(prompts))]
            color = _color(results, model["slug"])
            axes.bar(
                [x for x, m in zip(xs, medians, strict=True) if m is not None],
                [m for m in medians if m is not None],
                width=width * 0.95,
                color=color,
                label=model["slug"],
            )
            for x, prompt, median in zip(xs, prompts, medians, strict=True):
                if median is None:
                    # Mark the hole so a missing bar is not read as "instant".
                    axes.text(x, 0, "×", ha="center", va="bottom", color=color, fontsize=12)
                    gaps.append(f"{model['slug']} × {prompt}")
        axes.set_xticks(range(len(prompts)), prompts, rotation=15, ha="right")
        axes.set_ylabel("E2E median (s)")
        axes.grid(axis="y", alpha=0.3)
        axes.legend(fontsize="small")
        axes.set_title(title)
    caption = "Median end-to-end latency of each model on each prompt."
    if gaps:
        caption += f" × marks a cell without measured rounds: {', '.join(gaps)}."
    caption += _not_plotted(missing, "no measured rounds")
    return Plot(key, title, _inline_svg(figure, key, title), caption)


def concurrency_plot(results: Results, key: str = "concurrency") -> Plot:
    """System tok/s (left) and E2E p50 / p95 (right) against the streams in flight, a line
    per model; the ideal linear scaling from 1 stream is drawn dotted for comparison."""
    from pytest_foundry.report.concurrency_section import e2e_stat, series

    figure = _new_figure()
    lines = series(results)
    title = "Throughput and latency vs concurrency"
    if not lines:
        _placeholder(figure, "no answered concurrency level")
    else:
        throughput, latency = figure.subplots(1, 2)
        for slug, levels in lines:
            color = _color(results, slug)
            xs = [level["level"] for level in levels]
            throughput.plot(xs, [level["system_tps"] for level in levels], "o-", color=color, label=slug)
            single = next((level["system_tps"] for level in levels if level["level"] == 1), None)
            if single:
                throughput.plot(xs, [single * x for x in xs], ":", color=color, alpha=0.6)
            for stat, style in (("median", "o-"), ("p95", "s--")):
                values = [e2e_stat(level, stat) for level in levels]
                points = [(x, v * 1000) for x, v in zip(xs, values, strict=True) if v is not None]
                label = f"{slug} E2E {'p50' if stat == 'median' else 'p95'}"
                latency.plot([x for x, _ in points], [v for _, v in points], style, color=color, label=label)
        every_level = sorted({level["level"] for _, levels in lines for level in levels})
        for axes in (throughput, latency):
            axes.set_xticks(every_level)
            axes.set_xlabel("streams in flight")
            _zero_or_log(axes)
            axes.grid(alpha=0.3)
        throughput.set_ylabel("system output tok/s")
        throughput.set_title("Throughput (dotted: linear scaling)", fontsize="medium")
        throughput.legend(fontsize="small")
        latency.set_ylabel("E2E (ms)")
        latency.set_title("Latency per request", fontsize="medium")
        latency.legend(fontsize="small")
    caption = (
        "Each level keeps that many streams in flight; system tok/s is the level's output tokens "
        "over its wall time. A runtime that serialises requests stays flat on the left while its "
        "latency grows on the right."
    )
    return Plot(key, title, _inline_svg(figure, key, title), caption)


def _zero_or_log(axes: Any) -> None:
    """A linear axis from 0, or a log axis when the values span more than 10x (models of
    very different speed side by side: a linear axis would flatten the slow one)."""
    values = [y for line in axes.get_lines() for y in line.get_ydata() if y > 0]
    if values and max(values) > 10 * min(values):
        axes.set_yscale("log")
    else:
        axes.set_ylim(bottom=0)


def render_plots(results: Results) -> list[Plot]:
    plots = [
        distribution_plot(results, "ttft_s", "TTFT", "ttft-distribution"),
        distribution_plot(results, "e2e_s", "E2E latency", "e2e-distribution"),
        speed_memory_plot(results),
        prompt_latency_plot(results),
    ]
    if results.get("concurrency") is not None:
        plots.append(concurrency_plot(results))
    return plots
