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

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pytest_foundry import cost as cost_model
from pytest_foundry.errors import one_line
from pytest_foundry.metric_catalog import (
    CPU_PER_TOKEN_MEDIAN,
    DECODE,
    E2E_P50,
    E2E_P95,
    OUTPUT_TOKENS_MEDIAN,
    TTFT_P50,
    TTFT_P95,
    Better,
    Figure,
)
from pytest_foundry.metrics import TAIL_PERCENTILE_MIN_SAMPLES, Summary, summarize
from pytest_foundry.report import formatting as fmt
from pytest_foundry.results import CellRecord, ModelRecord, RequestRecord, Results, SummaryRecord
from pytest_foundry.status import MEASURED_STATUSES

BEST_MARK = "★"
NO_QUALITY = "—"
REASON_LIMIT = 160

# flag name -> (marker appended to the value, footnote)
FLAGS: dict[str, tuple[str, str]] = {
    "small_n": ("†", f"n < {TAIL_PERCENTILE_MIN_SAMPLES}: p95/p99 unreliable"),
    "estimated": ("‡", "token counts estimated: the server sent no usage"),
}


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # Markdown and HTML
    csv_header: str  # CSV: names the fixed unit of the column
    better: Better | None = None  # ranked for best marks when set
    numeric: bool = False  # right-aligned


def figure_column(figure: Figure, ranked: bool = True) -> Column:
    """The column of a latency figure of the metric catalogue."""
    header = figure.label[:1].upper() + figure.label[1:]
    return Column(figure.name, header, figure.table_key, figure.better if ranked else None, True)


@dataclass(frozen=True)
class Cell:
    text: str  # for people, without markers
    csv: str  # for tools, in the column's CSV unit
    value: float | None = None  # what best marks compare
    # How far the value could move from noise alone (same unit); None when unknown.
    noise: float | None = None
    best: bool = False
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    status: str  # the model's or the cell's status, for styling
    cells: Mapping[str, Cell]


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()

    def flags_used(self) -> list[str]:
        used = {flag for row in self.rows for cell in row.cells.values() for flag in cell.flags}
        return [flag for flag in FLAGS if flag in used]

    def has_best(self) -> bool:
        return any(cell.best for row in self.rows for cell in row.cells.values())

    def footnotes(self) -> list[str]:
        """Notes for the markers actually used, then the table's own notes."""
        lines: list[str] = []
        if self.has_best():
            lines.append(f"{BEST_MARK} best among {self._best_scope()}.")
        lines.extend(f"{FLAGS[flag][0]} {FLAGS[flag][1]}." for flag in self.flags_used())
        lines.extend(self.notes)
        return lines

    def _best_scope(self) -> str:
        return "measured cells of the same prompt" if self.key == "detail" else "models with status ok"


@dataclass(frozen=True)
class Report:
    title: str
    meta: tuple[tuple[str, str], ...]  # (label, text) lines of the header
    selection: Table
    models: Table
    detail: Table

    @property
    def tables(self) -> tuple[Table, Table, Table]:
        """In reading order: choose a model, then the per-prompt detail, then where models came from."""
        return (self.selection, self.detail, self.models)


def text_cell(text: str | None, missing: str = fmt.MISSING) -> Cell:
    value = missing if text is None or text == "" else text
    return Cell(text=value, csv=value)


# --- reading the record ------------------------------------------------------------


def prompt_order(results: Results) -> list[str]:
    """Prompt ids in the order the run first met them."""
    return list(dict.fromkeys(cell["prompt"] for cell in results["cells"]))


def cells_of(results: Results, slug: str) -> list[CellRecord]:
    return [cell for cell in results["cells"] if cell["model"] == slug]


def measured_cells(results: Results, slug: str) -> list[CellRecord]:
    return [cell for cell in cells_of(results, slug) if cell["status"] in MEASURED_STATUSES]


def pooled_samples(results: Results, slug: str) -> list[RequestRecord]:
    """The measured rounds of every prompt the model answered."""
    return [sample for cell in measured_cells(results, slug) for sample in cell["samples"]]


def metric_values(samples: Iterable[RequestRecord], metric: str) -> list[float]:
    values: list[float] = []
    for sample in samples:
        value = sample.get(metric)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            values.append(float(value))
    return values


def _summary(cell: CellRecord, metric: str) -> SummaryRecord | None:
    summary = cell["summary"].get(metric)
    if summary is not None:
        return summary
    # An older or hand-made record without this summary: compute it from the raw rounds.
    computed = summarize(metric_values(cell["samples"], metric))
    return None if computed is None else cast(SummaryRecord, computed.as_dict())


@dataclass(frozen=True)
class ModelStats:
    """One model's pooled statistics (None where it has no measured rounds)."""

    n: int
    e2e: Summary | None
    ttft: Summary | None
    decode: Summary | None
    tpot: Summary | None
    tokens_estimated: bool
    measured_prompts: int


def model_stats(results: Results, slug: str) -> ModelStats:
    samples = pooled_samples(results, slug)
    return ModelStats(
        n=len(samples),
        e2e=summarize(metric_values(samples, "e2e_s")),
        ttft=summarize(metric_values(samples, "ttft_s")),
        decode=summarize(metric_values(samples, "decode_tps")),
        tpot=summarize(metric_values(samples, "tpot_s")),
        tokens_estimated=any(sample.get("tokens_estimated") is True for sample in samples),
        measured_prompts=len(measured_cells(results, slug)),
    )


# --- quality (filled by the quality rubric; read defensively) ----------------------


def _score(value: Any, low: float, high: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and low <= number <= high else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class QualityScore:
    checks: float | None  # share of deterministic checks passed, 0..1
    judge: float | None  # LLM judge, 1..5
    manual: float | None  # human annotation, 1..5 (stale ones left out)
    stale: int  # annotations left out because the answer changed since

    @property
    def empty(self) -> bool:
        return self.checks is None and self.judge is None and self.manual is None and not self.stale


def quality_score(cells: Iterable[CellRecord]) -> QualityScore:
    """Mean of each quality source over the cells that have it."""
    checks: list[float] = []
    judges: list[float] = []
    manual: list[float] = []
    stale = 0
    for cell in cells:
        output = cell.get("output")
        quality = output.get("quality") if isinstance(output, dict) else None
        if not isinstance(quality, dict):
            continue
        if (score := _score(quality.get("checks_score"), 0.0, 1.0)) is not None:
            checks.append(score)
        judge = quality.get("judge")
        if isinstance(judge, dict) and (score := _score(judge.get("mean"), 1.0, 5.0)) is not None:
            judges.append(score)
        annotation = quality.get("annotation")
        if isinstance(annotation, dict) and (score := _score(annotation.get("score"), 1.0, 5.0)) is not None:
            if annotation.get("stale") is True:
                stale += 1
            else:
                manual.append(score)
    return QualityScore(_mean(checks), _mean(judges), _mean(manual), stale)


def quality_cell(score: QualityScore) -> Cell:
    if score.empty:
        return Cell(text=NO_QUALITY, csv=fmt.MISSING)
    parts: list[str] = []
    csv: list[str] = []
    if score.checks is not None:
        parts.append(f"checks {fmt.percent(score.checks)}")
        csv.append(f"checks={score.checks:.3f}")
    if score.judge is not None:
        parts.append(f"judge {score.judge:.1f}/5")
        csv.append(f"judge={score.judge:.2f}")
    if score.manual is not None:
        parts.append(f"manual {score.manual:.1f}/5")
        csv.append(f"manual={score.manual:.2f}")
    if score.stale:
        parts.append(f"{score.stale} stale")
        csv.append(f"stale={score.stale}")
    return Cell(text=" · ".join(parts), csv=";".join(csv))


# --- cells ---------------------------------------------------------------------------


def _stat_cell(
    summary: Summary | SummaryRecord | None,
    stat: str,
    text: Callable[[float | None], str],
    csv: Callable[[float | None], str],
    tail: bool = False,
    estimated: bool = False,
) -> Cell:
    if summary is None:
        return Cell(text=fmt.MISSING, csv=fmt.MISSING)
    if isinstance(summary, Summary):
        value = float(getattr(summary, stat))
        n, stdev = summary.n, summary.stdev
    else:
        value = float(summary[stat])  # type: ignore[literal-required]
        n, stdev = summary["n"], float(summary["stdev"])
    flags: list[str] = []
    if tail and n < TAIL_PERCENTILE_MIN_SAMPLES:
        flags.append("small_n")
    if estimated:
        flags.append("estimated")
    return Cell(
        text=text(value), csv=csv(value), value=value, noise=_noise(stat, stdev, n), flags=tuple(flags)
    )


def _noise(stat: str, stdev: float, n: int) -> float:
    """The half-width of an approximate 95 % interval of a statistic of ``n`` samples:
    the median's standard error is about 1.25 sd/sqrt(n); tails are roughly twice as
    uncertain, and a mean has sd/sqrt(n)."""
    factor = {"mean": 1.0, "median": 1.2533}.get(stat, 2.5)
    return 1.96 * factor * stdev / math.sqrt(n) if n > 0 else math.inf


def _number_cell(
    value: float | None, text: Callable[[float | None], str], csv: Callable[[float | None], str]
) -> Cell:
    return Cell(text=text(value), csv=csv(value), value=value)


# One measurement a run, so no spread to compute: the run-to-run agreement seen here
# (a cold load within 20 %; peak RSS within 16 MiB or 5 %) is the noise a ★ must beat.
LOAD_NOISE = (0.20, 0.0)
MEMORY_NOISE = (0.05, 16 * 1024 * 1024)


def _one_off_cell(
    value: float | None,
    text: Callable[[float | None], str],
    csv: Callable[[float | None], str],
    noise: tuple[float, float],
) -> Cell:
    relative, absolute = noise
    spread = None if value is None else max(relative * value, absolute)
    return Cell(text=text(value), csv=csv(value), value=value, noise=spread)


def _reason(text: str | None) -> str | None:
    return None if not text else one_line(text, REASON_LIMIT)


def _mark_best(rows: list[dict[str, Cell]], columns: Sequence[Column]) -> None:
    """Mark the best value of each ranked column among ``rows`` (in place), only where it
    beats the runner-up by more than the noise of either: a ★ is a real difference."""
    for column in columns:
        if column.better is None:
            continue
        ranked = sorted(
            (row for row in rows if row[column.key].value is not None),
            key=lambda row: row[column.key].value or 0.0,
            reverse=column.better == "higher",
        )
        if len(ranked) < 2:
            continue
        best, runner_up = ranked[0][column.key], ranked[1][column.key]
        assert best.value is not None and runner_up.value is not None
        margin = max(best.noise or 0.0, runner_up.noise or 0.0)
        if abs(runner_up.value - best.value) <= margin:
            continue  # within the noise: no model is best on this column
        ranked[0][column.key] = dataclasses.replace(best, best=True)


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
        reason = _reason(model["reason"])
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
        "e2e_mean": _stat_cell(stats.e2e, "mean", fmt.duration, fmt.csv_ms),
        "e2e_p95": _stat_cell(stats.e2e, "p95", fmt.duration, fmt.csv_ms, tail=True),
        "ttft_p50": _stat_cell(stats.ttft, "median", fmt.duration, fmt.csv_ms),
        "ttft_p95": _stat_cell(stats.ttft, "p95", fmt.duration, fmt.csv_ms, tail=True),
        DECODE.name: _stat_cell(
            stats.decode, "median", fmt.rate, fmt.csv_number, estimated=stats.tokens_estimated
        ),
        "load": _one_off_cell(model["load_s"], fmt.duration, fmt.csv_seconds, LOAD_NOISE),
        "memory": _one_off_cell(_peak_rss(model), fmt.mebibytes, fmt.csv_mib, MEMORY_NOISE),
        "disk": _number_cell(model["disk_bytes"], fmt.mebibytes, fmt.csv_mib),
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
        _mark_best(
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


def _model_row(model: ModelRecord) -> dict[str, Cell]:
    memory = model["memory"]
    device = " / ".join(part for part in (model["device"], model["execution_provider"]) if part)
    sha = model["files_sha256"]
    delta = None if memory is None else memory["delta_bytes"]
    scope = "" if memory is None else f" ({memory['scope']})"
    return {
        "model": text_cell(model["slug"]),
        "model_id": text_cell(model["model_id"] or model["requested"]),
        "source": text_cell(model["source"] + (f": {model['path']}" if model["path"] else "")),
        "device": text_cell(device),
        "load": _number_cell(model["load_s"], fmt.duration, fmt.csv_seconds),
        "cold_ttft": _number_cell(model["cold_ttft_s"], fmt.duration, fmt.csv_ms),
        "rss_before": _number_cell(
            None if memory is None else memory["rss_before_load_bytes"], fmt.mebibytes, fmt.csv_mib
        ),
        "memory": Cell(
            text=fmt.mebibytes(_peak_rss(model)) + (scope if _peak_rss(model) is not None else ""),
            csv=fmt.csv_mib(_peak_rss(model)),
            value=_peak_rss(model),
        ),
        "delta": Cell(text=fmt.mebibytes(delta, signed=True), csv=fmt.csv_mib(delta), value=delta),
        "disk": _number_cell(model["disk_bytes"], fmt.mebibytes, fmt.csv_mib),
        "sha256": Cell(text=sha[:12] if sha else fmt.MISSING, csv=sha or fmt.MISSING),
        "notes": text_cell(_reason(model["notes"])),
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
        return _summary(cell, metric) if measured else None

    output = cell["output"]
    snapshot = output["snapshot"] if output is not None else None
    e2e, ttft = summary("e2e_s"), summary("ttft_s")
    return {
        "model": text_cell(cell["model"]),
        "prompt": text_cell(cell["prompt"]),
        "status": text_cell(cell["status"]),
        "n": Cell(text=str(len(samples)), csv=str(len(samples))),
        "e2e_p50": _stat_cell(e2e, "median", fmt.duration, fmt.csv_ms),
        "e2e_p95": _stat_cell(e2e, "p95", fmt.duration, fmt.csv_ms, tail=True),
        "ttft_p50": _stat_cell(ttft, "median", fmt.duration, fmt.csv_ms),
        "ttft_p95": _stat_cell(ttft, "p95", fmt.duration, fmt.csv_ms, tail=True),
        DECODE.name: _stat_cell(
            summary("decode_tps"), "median", fmt.rate, fmt.csv_number, estimated=estimated
        ),
        CPU_PER_TOKEN_MEDIAN.name: _stat_cell(summary("cpu_per_token_s"), "median", fmt.duration, fmt.csv_ms),
        OUTPUT_TOKENS_MEDIAN.name: _stat_cell(
            summary("output_tokens"),
            "median",
            fmt.tokens,
            lambda v: fmt.csv_number(v, 1),
            estimated=estimated,
        ),
        "quality": quality_cell(quality_score([cell])),
        # No snapshot asserted is not unknown: an empty CSV field, a dash for people.
        "snapshot": Cell(text=snapshot or NO_QUALITY, csv=snapshot or ""),
        "reason": text_cell(_reason(cell["reason"]), missing=""),
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
        reason=text_cell(_reason(model["reason"]), missing=""),
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
        _mark_best(
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
    return tuple(lines)


def build_report(results: Results) -> Report:
    return Report(
        title="pytest-foundry model comparison",
        meta=report_meta(results),
        selection=selection_table(results),
        models=models_table(results),
        detail=detail_table(results),
    )
