"""The report's concurrency sweep: a table per model x level, the verdict per model, and
a chart of throughput and latency against the number of streams.

Pure: no pytest.  Reads the results.json ``concurrency`` section (concurrency.py defines
its figures); a run without one gets no table and no chart.
"""

from __future__ import annotations

from typing import Any

from pytest_foundry.report import formatting as fmt
from pytest_foundry.report.table_cells import Cell, Column, Row, Table, text_cell
from pytest_foundry.results import ConcurrencyLevelRecord, ConcurrencyRecord, Results

COLUMNS: tuple[Column, ...] = (
    Column("model", "Model", "model"),
    Column("level", "Streams", "streams", numeric=True),
    Column("requests", "Requests", "requests", numeric=True),
    Column("errors", "Errors", "errors", numeric=True),
    Column("system_tps", "System tok/s", "system_tps", numeric=True),
    Column("speedup", "× of 1 stream", "speedup", numeric=True),
    Column("decode_overlap", "Decoding together", "decode_overlap", numeric=True),
    Column("mean_decoding", "Mean decoding", "mean_decoding", numeric=True),
    Column("ttft_p50", "TTFT p50", "ttft_p50_ms", numeric=True),
    Column("ttft_p95", "TTFT p95", "ttft_p95_ms", numeric=True),
    Column("tpot_p50", "TPOT p50", "tpot_p50_ms", numeric=True),
    Column("e2e_p50", "E2E p50", "e2e_p50_ms", numeric=True),
    Column("e2e_p95", "E2E p95", "e2e_p95_ms", numeric=True),
    Column("status", "Status", "status"),
)


def sweep(results: Results) -> ConcurrencyRecord | None:
    return results.get("concurrency")


def _summary_cell(level: ConcurrencyLevelRecord, metric: str, stat: str) -> Cell:
    summary = level["summary"].get(metric)
    value = None if summary is None else float(summary[stat])  # type: ignore[literal-required]
    flags = ("small_n",) if summary is not None and stat == "p95" and summary["tail_unreliable"] else ()
    return Cell(text=fmt.duration(value), csv=fmt.csv_ms(value), value=value, flags=flags)


def _number(value: float | None, text: str) -> Cell:
    return Cell(text=text, csv=fmt.csv_number(value, 3), value=value)


def _row(level: ConcurrencyLevelRecord) -> Row:
    speed, overlap = level["speedup"], level["decode_overlap"]
    status = level["status"] + (f": {level['reason']}" if level["reason"] else "")
    cells = {
        "model": text_cell(level["model"]),
        "level": text_cell(str(level["level"])),
        "requests": text_cell(str(level["requests"])),
        "errors": text_cell(str(level["errors"])),
        "system_tps": _number(level["system_tps"], fmt.rate(level["system_tps"])),
        "speedup": _number(speed, fmt.MISSING if speed is None else f"×{speed:.2f}"),
        "decode_overlap": _number(overlap, fmt.MISSING if overlap is None else fmt.percent(overlap)),
        "mean_decoding": _number(
            level["mean_decoding"],
            fmt.MISSING if level["mean_decoding"] is None else f"{level['mean_decoding']:.2f}",
        ),
        "ttft_p50": _summary_cell(level, "ttft_s", "median"),
        "ttft_p95": _summary_cell(level, "ttft_s", "p95"),
        "tpot_p50": _summary_cell(level, "tpot_s", "median"),
        "e2e_p50": _summary_cell(level, "e2e_s", "median"),
        "e2e_p95": _summary_cell(level, "e2e_s", "p95"),
        "status": text_cell(status),
    }
    return Row(level["status"], cells)


def verdict_lines(results: Results) -> list[str]:
    """One line per model: ``tiny: serialises requests (2 streams: ...)``."""
    record = sweep(results)
    if record is None:
        return []
    return [f"{verdict['model']}: {verdict['text']}" for verdict in record["verdicts"]]


def concurrency_table(results: Results) -> Table | None:
    record = sweep(results)
    if record is None:
        return None
    notes = (
        *verdict_lines(results),
        "System tok/s: output tokens of a level / its wall span; × of 1 stream: that over the same "
        "model's 1-stream level. Decoding together: the share of the decoding time with 2 or more "
        "streams between first token and end (0 % when requests are answered one after another). "
        "Mean decoding: the time-average of streams decoding.",
        f"A runtime serialises requests when, at every level of 2+ streams, throughput is at most "
        f"×{record['serial_max_speedup']:g} of 1 stream and the streams decode together at most "
        f"{fmt.percent(record['serial_max_overlap'])} of the time.",
    )
    return Table(
        key="concurrency",
        title="Concurrency sweep",
        columns=COLUMNS,
        rows=tuple(_row(level) for level in record["levels"]),
        notes=tuple(notes),
    )


def series(results: Results) -> list[tuple[str, list[ConcurrencyLevelRecord]]]:
    """The answered levels per model, by level (for the chart)."""
    record = sweep(results)
    if record is None:
        return []
    by_model: dict[str, list[ConcurrencyLevelRecord]] = {}
    for level in record["levels"]:
        if level["system_tps"] is not None:
            by_model.setdefault(level["model"], []).append(level)
    return [(model, sorted(levels, key=lambda lv: lv["level"])) for model, levels in by_model.items()]


def e2e_stat(level: ConcurrencyLevelRecord, stat: str) -> float | None:
    summary: Any = level["summary"].get("e2e_s")
    return None if summary is None else float(summary[stat])


def terminal_lines(results: Results) -> list[str]:
    """One line per model for the terminal summary: system tok/s and E2E p95 by level, and
    the verdict word."""
    record = sweep(results)
    if record is None:
        return []
    verdicts = {verdict["model"]: verdict["verdict"] for verdict in record["verdicts"]}
    words = {"serialises": "serialises requests", "parallel": "parallel", "shares": "shares the machine"}
    lines = []
    for model, levels in series(results):
        streams = "/".join(str(level["level"]) for level in levels)
        tps = " / ".join(fmt.rate(level["system_tps"]) for level in levels)
        p95 = " / ".join(fmt.duration(e2e_stat(level, "p95")) for level in levels)
        verdict = verdicts.get(model)
        lines.append(
            f"concurrency {model}: {streams} streams: {tps} tok/s, E2E p95 {p95}"
            + (f"; {words[verdict]}" if verdict else "")
        )
    return lines
