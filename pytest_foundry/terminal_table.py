"""The models x prompts table printed at the end of a pytest run (pure, no pytest)."""

from __future__ import annotations

from pytest_foundry.report.formatting import duration
from pytest_foundry.results import CellRecord, Results

COLUMNS = (
    "model",
    "prompt",
    "n",
    "TTFT p50",
    "TTFT p95",
    "TPOT",
    "decode tok/s",
    "E2E p95",
    "load",
    "status",
)


def _stat(cell: CellRecord, metric: str, stat: str) -> float | None:
    summary = cell["summary"].get(metric)
    return None if summary is None else float(summary[stat])  # type: ignore[literal-required]


def results_table(results: Results) -> list[str]:
    """Fixed-width table lines; a small-n p95 carries a dagger and a footnote."""
    load = {m["slug"]: m["load_s"] for m in results["models"]}
    rows: list[tuple[str, ...]] = []
    small_n = False
    for cell in results["cells"]:
        if not cell["samples"] and cell["status"] in ("ok", "truncated"):
            continue  # an output-only cell: no latency rounds to show
        ttft = cell["summary"].get("ttft_s")
        dagger = "†" if ttft is not None and ttft["tail_unreliable"] else ""
        small_n = small_n or bool(dagger)
        decode = _stat(cell, "decode_tps", "median")
        status = cell["status"] + (
            f" ({cell['reason']})" if cell["status"] not in ("ok", "truncated") else ""
        )
        rows.append(
            (
                cell["model"],
                cell["prompt"],
                str(len(cell["samples"])),
                duration(_stat(cell, "ttft_s", "median")),
                duration(_stat(cell, "ttft_s", "p95")) + dagger,
                duration(_stat(cell, "tpot_s", "median")),
                "n/a" if decode is None else f"{decode:.1f}",
                duration(_stat(cell, "e2e_s", "p95")) + dagger,
                duration(load.get(cell["model"])),
                status if len(status) <= 60 else status[:59] + "…",
            )
        )
    if not rows:
        return []
    widths = [max(len(COLUMNS[i]), *(len(r[i]) for r in rows)) for i in range(len(COLUMNS))]
    lines = ["  ".join(name.ljust(widths[i]) for i, name in enumerate(COLUMNS)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip() for row in rows)
    if small_n:
        lines.append("† n < 20: p95 interpolates between few samples (unreliable)")
    return lines
