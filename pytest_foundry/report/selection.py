"""What the report shows: its tables, columns, values, best marks and flags.

THE one place where columns are defined and values computed and formatted; the Markdown,
CSV and HTML renderers only lay out what :func:`build_report` returns.  Pure: no pytest.

* Selection table: one row per model.  Its statistics pool the measured rounds of every
  prompt the model answered (status ok or truncated); warm-up rounds are left out.
* Models table: where each model came from and what loading it cost.
* Detail table: one row per model × prompt, from the cell's own summary.

Best values (★) are marked among models with status ok (per prompt: among measured cells),
only in ranked columns and only when at least two values compete.
"""

from __future__ import annotations

from collections.abc import Mapping

from pytest_foundry import cost as cost_model
from pytest_foundry.metric_catalog import (
    CPU_PER_TOKEN_MEDIAN,
    DECODE,
    E2E_P50,
    E2E_P95,
    OUTPUT_TOKENS_MEDIAN,
    TTFT_P50,
    TTFT_P95,
)
from pytest_foundry.report import formatting as fmt
from pytest_foundry.report.concurrency_section import concurrency_table
from pytest_foundry.report.record_reading import (
    ModelStats,
    cell_summary,
    measured_cells,
    model_stats,
    prompt_order,
    quality_cell,
    quality_score,
)
from pytest_foundry.report.table_cells import (
    LOAD_NOISE,
    MEMORY_NOISE,
    NO_QUALITY,
    Cell,
    Column,
    Report,
    Row,
    Table,
    figure_column,
    mark_best,
    number_cell,
    one_off_cell,
    reason_text,
    stat_cell,
    text_cell,
)
from pytest_foundry.results import CellRecord, ModelRecord, Results, SummaryRecord
from pytest_foundry.status import MEASURED_STATUSES

# --- the selection table -----------------------------------------------------------

SELECTION_COLUMNS: tuple[Column, ...] = (
    Column("model", "Model", "model"),
    Column("status", "Status", "status"),
    Column("n", "n", "n", numeric=True),
    Column("e2e_mean", "E2E avg", "e2e_mean_ms", "lower", True),
    figure_column(E2E_P95),
    figure_column(TTFT_P50),
    figure_column(TTFT_P95),
    figure_column(DECODE),
    Column("load", "Load", "load_s", "lower", True),
    Column("memory", "Peak RSS", "peak_rss_mib", "lower", True),
    Column("disk", "Disk", "disk_mib", "lower", True),
    Column("quality", "Quality", "quality"),
    Column("license", "Licence", "license"),
    Column("capabilities", "Capabilities", "capabilities"),
    Column("cost", "Cost / 1M tok (est.)", "cost_per_1m_tokens", "lower", True),
)


def _model_status(model: ModelRecord, stats: ModelStats, prompts: int) -> str:
    if model["status"] != "ok":
        reason = reason_text(model["reason"])
        return f"{model['status']}: {reason}" if reason else model["status"]
    if stats.measured_prompts < prompts:
        return f"ok · {stats.measured_prompts}/{prompts} prompts"
    return "ok"


def _peak_rss(model: ModelRecord) -> int | None:
    memory = model["memory"]
    return None if memory is None else memory["peak_rss_bytes"]


def _selection_row(results: Results, model: ModelRecord, prompts: int) -> dict[str, Cell]:
    stats = model_stats(results, model["slug"])
    run = results["run"]
    estimate = cost_model.estimate_cost(
        stats.tpot.median if stats.tpot else None, run["power_watts"], run["price_per_kwh"]
    )
    cost_cell = (
        Cell(
            text=f"{fmt.money(estimate.cost)} ({estimate.energy_kwh:.3f} kWh)",
            csv=f"{estimate.cost:.6f}",
            value=estimate.cost,
        )
        if estimate
        else text_cell(None)
    )
    capabilities = ", ".join(model["capabilities"])
    return {
        "model": text_cell(model["slug"]),
        "status": text_cell(_model_status(model, stats, prompts)),
        "n": Cell(text=str(stats.n), csv=str(stats.n)),
        "e2e_mean": stat_cell(stats.e2e, "mean", fmt.duration, fmt.csv_ms),
        "e2e_p95": stat_cell(stats.e2e, "p95", fmt.duration, fmt.csv_ms, tail=True),
        "ttft_p50": stat_cell(stats.ttft, "median", fmt.duration, fmt.csv_ms),
        "ttft_p95": stat_cell(stats.ttft, "p95", fmt.duration, fmt.csv_ms, tail=True),
        DECODE.name: stat_cell(
            stats.decode, "median", fmt.rate, fmt.csv_number, estimated=stats.tokens_estimated
        ),
        "load": one_off_cell(model["load_s"], fmt.duration, fmt.csv_seconds, LOAD_NOISE),
        "memory": one_off_cell(_peak_rss(model), fmt.mebibytes, fmt.csv_mib, MEMORY_NOISE),
        "disk": number_cell(model["disk_bytes"], fmt.mebibytes, fmt.csv_mib),
        "quality": quality_cell(quality_score(measured_cells(results, model["slug"]))),
        "license": text_cell(model["license"]),
        "capabilities": text_cell(capabilities),
        "cost": cost_cell,
    }


def selection_table(results: Results) -> Table:
    prompts = len(prompt_order(results))
    rows = [(model["status"], _selection_row(results, model, prompts)) for model in results["models"]]
    # Models compete with those on the same device: a GPU variant is not "best" over CPU ones.
    devices = [model["device"] for model in results["models"]]
    for device in dict.fromkeys(devices):
        mark_best(
            [
                cells
                for (status, cells), d in zip(rows, devices, strict=True)
                if status == "ok" and d == device
            ],
            SELECTION_COLUMNS,
        )
    run = results["run"]
    notes = (
        "E2E: request sent → end of stream; TTFT: request sent → first non-empty token; "
        "decode tok/s = 1 / TPOT, TPOT = (E2E − TTFT) / (output tokens − 1). "
        "Each model's statistics pool the measured rounds (n) of all the prompts it answered; "
        "warm-up rounds are left out.",
        "Peak RSS: highest resident memory of the process running the model, sampled while it ran.",
        cost_model.formula_text(run["power_watts"], run["price_per_kwh"]),
    )
    return Table(
        key="selection",
        title="Model selection",
        columns=SELECTION_COLUMNS,
        rows=tuple(Row(status, cells) for status, cells in rows),
        notes=notes,
    )


# --- the models table ----------------------------------------------------------------

MODEL_COLUMNS: tuple[Column, ...] = (
    Column("model", "Model", "model"),
    Column("model_id", "Model id", "model_id"),
    Column("source", "Source", "source"),
    Column("device", "Device / EP", "device"),
    Column("load", "Load", "load_s", numeric=True),
    Column("cold_ttft", "Cold TTFT", "cold_ttft_ms", numeric=True),
    Column("rss_before", "RSS before load", "rss_before_load_mib", numeric=True),
    Column("memory", "Peak RSS", "peak_rss_mib", numeric=True),
    Column("delta", "RSS Δ", "rss_delta_mib", numeric=True),
    Column("disk", "Disk", "disk_mib", numeric=True),
    Column("sha256", "Files sha256", "files_sha256"),
    Column("notes", "Notes", "notes"),
)


def _engine_text(model: ModelRecord) -> str | None:
    """``llama.cpp -t 1`` for a model another engine than Foundry Local served."""
    engine = model.get("engine")
    if engine is None or engine["name"] == "foundry-local":
        return None
    return engine["name"] + (f" -t {engine['threads']}" if engine["threads"] is not None else "")


def _model_row(model: ModelRecord) -> dict[str, Cell]:
    memory = model["memory"]
    device = " / ".join(
        part for part in (model["device"], model["execution_provider"], _engine_text(model)) if part
    )
    sha = model["files_sha256"]
    delta = None if memory is None else memory["delta_bytes"]
    scope = "" if memory is None else f" ({memory['scope']})"
    return {
        "model": text_cell(model["slug"]),
        "model_id": text_cell(model["model_id"] or model["requested"]),
        "source": text_cell(model["source"] + (f": {model['path']}" if model["path"] else "")),
        "device": text_cell(device),
        "load": number_cell(model["load_s"], fmt.duration, fmt.csv_seconds),
        "cold_ttft": number_cell(model["cold_ttft_s"], fmt.duration, fmt.csv_ms),
        "rss_before": number_cell(
            None if memory is None else memory["rss_before_load_bytes"], fmt.mebibytes, fmt.csv_mib
        ),
        "memory": Cell(
            text=fmt.mebibytes(_peak_rss(model)) + (scope if _peak_rss(model) is not None else ""),
            csv=fmt.csv_mib(_peak_rss(model)),
            value=_peak_rss(model),
        ),
        "delta": Cell(text=fmt.mebibytes(delta, signed=True), csv=fmt.csv_mib(delta), value=delta),
        "disk": number_cell(model["disk_bytes"], fmt.mebibytes, fmt.csv_mib),
        "sha256": Cell(text=sha[:12] if sha else fmt.MISSING, csv=sha or fmt.MISSING),
        "notes": text_cell(reason_text(model["notes"])),
    }


def models_table(results: Results) -> Table:
    return Table(
        key="models",
        title="Models",
        columns=MODEL_COLUMNS,
        rows=tuple(Row(model["status"], _model_row(model)) for model in results["models"]),
        notes=(
            "Cold TTFT: the first request after load, kept apart from the measured rounds. "
            "RSS Δ: peak RSS − RSS before load.",
        ),
    )


# --- the detail table ----------------------------------------------------------------

DETAIL_COLUMNS: tuple[Column, ...] = (
    Column("model", "Model", "model"),
    Column("prompt", "Prompt", "prompt"),
    Column("status", "Status", "status"),
    Column("n", "n", "n", numeric=True),
    figure_column(E2E_P50),
    figure_column(E2E_P95, ranked=False),
    figure_column(TTFT_P50),
    figure_column(TTFT_P95, ranked=False),
    figure_column(DECODE),
    figure_column(OUTPUT_TOKENS_MEDIAN, ranked=False),
    figure_column(CPU_PER_TOKEN_MEDIAN, ranked=False),
    Column("quality", "Quality", "quality"),
    Column("snapshot", "Snapshot", "snapshot"),
    Column("reason", "Reason", "reason"),
)


def _detail_row(cell: CellRecord) -> dict[str, Cell]:
    measured = cell["status"] in MEASURED_STATUSES
    samples = cell["samples"] if measured else []
    estimated = any(sample.get("tokens_estimated") is True for sample in samples)

    def summary(metric: str) -> SummaryRecord | None:
        return cell_summary(cell, metric) if measured else None

    output = cell["output"]
    snapshot = output["snapshot"] if output is not None else None
    e2e, ttft = summary("e2e_s"), summary("ttft_s")
    return {
        "model": text_cell(cell["model"]),
        "prompt": text_cell(cell["prompt"]),
        "status": text_cell(cell["status"]),
        "n": Cell(text=str(len(samples)), csv=str(len(samples))),
        "e2e_p50": stat_cell(e2e, "median", fmt.duration, fmt.csv_ms),
        "e2e_p95": stat_cell(e2e, "p95", fmt.duration, fmt.csv_ms, tail=True),
        "ttft_p50": stat_cell(ttft, "median", fmt.duration, fmt.csv_ms),
        "ttft_p95": stat_cell(ttft, "p95", fmt.duration, fmt.csv_ms, tail=True),
        DECODE.name: stat_cell(
            summary("decode_tps"), "median", fmt.rate, fmt.csv_number, estimated=estimated
        ),
        CPU_PER_TOKEN_MEDIAN.name: stat_cell(summary("cpu_per_token_s"), "median", fmt.duration, fmt.csv_ms),
        OUTPUT_TOKENS_MEDIAN.name: stat_cell(
            summary("output_tokens"),
            "median",
            fmt.tokens,
            lambda v: fmt.csv_number(v, 1),
            estimated=estimated,
        ),
        "quality": quality_cell(quality_score([cell])),
        # No snapshot asserted is not unknown: an empty CSV field, a dash for people.
        "snapshot": Cell(text=snapshot or NO_QUALITY, csv=snapshot or ""),
        "reason": text_cell(reason_text(cell["reason"]), missing=""),
    }


def _modelless_row(model: ModelRecord) -> dict[str, Cell]:
    """A model with no cells at all still gets a detail row: never silently missing."""
    cells = {column.key: text_cell(None) for column in DETAIL_COLUMNS}
    cells.update(
        model=text_cell(model["slug"]),
        prompt=text_cell(NO_QUALITY),
        status=text_cell(model["status"]),
        n=Cell(text="0", csv="0"),
        quality=Cell(text=NO_QUALITY, csv=fmt.MISSING),
        snapshot=Cell(text=NO_QUALITY, csv=""),
        reason=text_cell(reason_text(model["reason"]), missing=""),
    )
    return cells


def detail_table(results: Results) -> Table:
    order = {slug: index for index, slug in enumerate(m["slug"] for m in results["models"])}
    prompt_index = {prompt: index for index, prompt in enumerate(prompt_order(results))}
    cells = sorted(
        results["cells"], key=lambda c: (order.get(c["model"], len(order)), prompt_index[c["prompt"]])
    )
    rows = [(cell["status"], cell["prompt"], _detail_row(cell)) for cell in cells]
    for prompt in prompt_index:
        mark_best(
            [row for status, p, row in rows if p == prompt and status in MEASURED_STATUSES], DETAIL_COLUMNS
        )
    table_rows = [Row(status, row) for status, _, row in rows]
    with_cells = {cell["model"] for cell in results["cells"]}
    table_rows.extend(
        Row(model["status"], _modelless_row(model))
        for model in results["models"]
        if model["slug"] not in with_cells
    )
    return Table(
        key="detail",
        title="Per prompt",
        columns=DETAIL_COLUMNS,
        rows=tuple(table_rows),
        notes=("truncated: the answer hit max_tokens (finish_reason = length); its rounds still count.",),
    )


# --- the whole report ------------------------------------------------------------------


def _packages(packages: Mapping[str, str | None]) -> str:
    return " · ".join(f"{name} {version or 'not installed'}" for name, version in sorted(packages.items()))


def _engines(results: Results) -> str | None:
    """Each engine that served a model, once: its version, threads and context."""
    seen: dict[str, str] = {}
    for model in results["models"]:
        engine = model.get("engine")
        if engine is None or engine["name"] in seen:
            continue
        parts = [engine["name"], engine["version"] or "version unknown"]
        if engine["threads"] is not None:
            parts.append(f"{engine['threads']} thread{'s' if engine['threads'] != 1 else ''} (-t)")
        if engine.get("context") is not None:
            parts.append(f"context {engine.get('context')}")
        seen[engine["name"]] = f"{parts[0]}: " + ", ".join(parts[1:])
    return " · ".join(seen.values()) if len(seen) > 1 or "llama.cpp" in seen else None


def _machine_load(results: Results) -> str | None:
    load = results["run"].get("load_average_start")
    if not load:
        return None
    averages = " / ".join(f"{value:.2f}" for value in load)
    return (
        f"load average {averages} (1 / 5 / 15 min) at the start, on {results['fingerprint']['cores']} cores"
    )


def report_meta(results: Results) -> tuple[tuple[str, str], ...]:
    run, machine, git = results["run"], results["fingerprint"], results["git"]
    backend = run["backend"] + (f" ({run['endpoint']})" if run["endpoint"] else "")
    interrupted = " · INTERRUPTED: partial results, not every cell ran" if run.get("interrupted") else ""
    lines = [
        ("Run", f"{results['created_at']} · {backend}{interrupted}"),
        (
            "Settings",
            f"{run['rounds']} measured rounds after {run['warmup']} warm-up · max_tokens {run['max_tokens']}"
            f" · temperature {run['temperature']:g} · seed {run['seed']} · timeout {run['timeout_s']:g} s",
        ),
        (
            "Machine",
            f"{machine['cpu']} · {machine['cores']} cores · {fmt.gibibytes(machine['ram_bytes'])} RAM"
            f" · {machine['os']} · Python {machine['python']}",
        ),
        ("Runtime", _packages(machine["packages"]) or fmt.MISSING),
        *(
            (label, text)
            for label, text in (("Engines", _engines(results)), ("Load", _machine_load(results)))
            if text
        ),
        (
            "Code",
            "not in a git repository"
            if git is None
            else f"git {git['commit'][:12]}" + (" (uncommitted changes)" if git["dirty"] else ""),
        ),
    ]
    files = [
        f"{name} ({label})"
        for label, name in (("prompts", run["prompts_file"]), ("models", run["models_file"]))
        if name
    ]
    if files:
        lines.append(("Files", " · ".join(files)))
    shard, merged = run.get("shard"), run.get("merged")
    if shard is not None:
        lines.append(("Shard", f"{shard['index']}/{shard['count']}: {', '.join(shard['models'])}"))
    if merged is not None:
        shards = ", ".join(f"{s['index']}/{s['count']}" for s in merged["shards"])
        lines.append(("Merged", f"shards {shards}" + ("" if merged["problems"] else " · complete")))
        lines.extend(("INCOMPLETE", problem) for problem in merged["problems"])
    return tuple(lines)


def build_report(results: Results) -> Report:
    return Report(
        title="pytest-foundry model comparison",
        meta=report_meta(results),
        selection=selection_table(results),
        models=models_table(results),
        detail=detail_table(results),
        concurrency=concurrency_table(results),
    )
