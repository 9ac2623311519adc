"""The results.json record of one benchmark run: its shape, versioned.

Pure: no pytest.  The plugin fills a :class:`Results` during the session; the report
renderers, the regression gate and ``python -m pytest_foundry`` read it back.  The JSON
Schema in ``schemas/results.schema.json`` documents and validates the same shape; bump
``SCHEMA_VERSION`` on any incompatible change.

Units: times in seconds (``*_s``), sizes in bytes (``*_bytes``), rates per second.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

# The statuses are defined in status.py; CELL_STATUSES is re-exported for the schema test.
from pytest_foundry.status import CELL_STATUSES as CELL_STATUSES
from pytest_foundry.status import CellStatus, ModelStatus

SCHEMA_NAME = "pytest-foundry/results"
SCHEMA_VERSION = 1


class SummaryRecord(TypedDict):
    """metrics.Summary.as_dict()."""

    n: int
    mean: float
    median: float
    p90: float
    p95: float
    p99: float
    stdev: float
    cv: float | None
    min: float
    max: float
    tail_unreliable: bool


class RequestRecord(TypedDict):
    """metrics.RequestMetrics.as_dict(): one streamed request."""

    ttft_s: float | None
    e2e_s: float
    output_tokens: int
    tokens_estimated: bool
    tpot_s: float | None
    decode_tps: float | None
    e2e_tps: float | None
    gaps_s: list[float]
    finish_reason: str | None
    cpu_per_token_s: NotRequired[float | None]
    ttfa_s: NotRequired[float | None]  # time to the first answer token (after any thinking)
    reasoning_tokens: NotRequired[int | None]


class MemoryRecord(TypedDict):
    # "host": a model host process serving this model alone; "server": an endpoint's
    # server process by pid; "in-process": the pytest process itself (older runs).
    scope: Literal["host", "in-process", "server"]
    pid: int
    rss_before_load_bytes: int | None
    rss_after_load_bytes: NotRequired[int | None]
    peak_rss_bytes: int | None
    # peak_rss_bytes - rss_before_load_bytes, when both are known.
    delta_bytes: int | None


class EngineRecord(TypedDict):
    """The engine that served a model (managed engines, or an endpoint known to be llama.cpp)."""

    name: Literal["foundry-local", "llama.cpp"]
    version: str | None
    threads: int | None  # llama-server's -t; None: the engine's own choice
    context: NotRequired[int | None]  # llama-server's -c


class ModelRecord(TypedDict):
    slug: str  # the stable id used in test ids and snapshots/<slug>/
    requested: str  # what the user asked for: alias, full id or folder
    model_id: str | None  # full id name:version, once resolved
    source: Literal["embedded", "folder", "catalog", "endpoint", "gguf"]
    path: str | None
    execution_provider: str | None
    device: str | None
    files_sha256: str | None  # hash over the model's files (names and bytes)
    disk_bytes: int | None
    license: str | None
    capabilities: list[str]
    notes: str | None
    status: ModelStatus
    reason: str | None
    reason_detail: NotRequired[str | None]  # the whole text behind reason
    load_s: float | None  # median over the cold starts
    cold_ttft_s: float | None  # TTFT of the first request after load (median over the cold starts)
    cold_starts: NotRequired[list[dict[str, float | int | None]]]  # each fresh load, the serving one last
    memory: MemoryRecord | None
    engine: NotRequired[EngineRecord]


class QualityRecord(TypedDict, total=False):
    """Filled by the quality rubric (deterministic checks, annotations, judge)."""

    checks: list[dict[str, Any]]
    checks_score: float | None
    annotation: dict[str, Any] | None
    judge: dict[str, Any] | None


class OutputRecord(TypedDict):
    text: str
    sha256: str
    output_tokens: int
    finish_reason: str | None
    # matched | changed | created | updated, or None when no snapshot was asserted.
    snapshot: str | None
    snapshot_diff: str | None
    quality: NotRequired[QualityRecord]


class CellRecord(TypedDict):
    model: str  # ModelRecord.slug
    prompt: str  # prompt id
    status: CellStatus
    reason: str | None
    reason_detail: NotRequired[str | None]  # the whole text behind reason
    max_tokens: int
    seed: int
    warmup: list[RequestRecord]  # untimed warm-up rounds, kept apart
    samples: list[RequestRecord]  # measured rounds
    summary: dict[str, SummaryRecord]  # metric name -> summary of samples
    output: OutputRecord | None


class LockstepRecord(TypedDict):
    seat: int | None  # 0: the host (took the first turn), 1: the guest
    partnered_turns: int  # requests (and loads) taken in turn with the partner run
    solo_turns: int  # taken alone: no partner yet, or it had left
    waited_s: float
    note: str | None  # why the run went on alone, if it did


class ShardRecord(TypedDict):
    """--foundry-shard=K/N: this run measured shard K of N (shards.py)."""

    index: int  # K, 1-based
    count: int  # N
    models: list[str]  # the slugs this shard measured
    all_models: list[str]  # every slug of the suite, sorted: what the N shards share out


class MergedShardRecord(TypedDict):
    index: int
    count: int
    source: str  # the results.json the shard wrote
    created_at: str
    cpu: str
    models: list[str]


class MergedRecord(TypedDict):
    """``pytest-foundry merge``: the shards this record was merged from, and what is missing."""

    shards: list[MergedShardRecord]
    missing_shards: list[int]  # K of the shards no results.json was given for
    problems: list[str]  # one line each: missing shards and models, failed or interrupted shards


class RunRecord(TypedDict):
    backend: Literal["foundry-local", "endpoint"]
    endpoint: str | None
    rounds: int
    warmup: int
    max_tokens: int
    seed: int
    temperature: float
    timeout_s: float
    power_watts: float
    price_per_kwh: float
    prompts_file: str | None
    models_file: str | None
    lockstep: NotRequired[LockstepRecord]  # only with --foundry-lockstep
    interrupted: NotRequired[bool]  # Ctrl-C stopped the run: its cells are partial
    shard: NotRequired[ShardRecord]  # only with --foundry-shard
    merged: NotRequired[MergedRecord]  # only in a record pytest-foundry merge wrote
    # os.getloadavg() (1, 5, 15 min) when the run started: how busy the machine was.
    load_average_start: NotRequired[list[float]]


class EngineFingerprintRecord(TypedDict):
    version: str | None
    threads: int | None


class FingerprintRecord(TypedDict):
    cpu: str
    cores: int
    ram_bytes: int
    os: str
    python: str
    packages: dict[str, str | None]  # foundry-local-sdk, onnxruntime, onnxruntime-genai-core
    # Engines other than Foundry Local that served models, e.g. {"llama.cpp": {"version":
    # ..., "threads": 1}}: their timings depend on both.
    engines: NotRequired[dict[str, EngineFingerprintRecord]]


class GitRecord(TypedDict):
    commit: str
    dirty: bool


class ConcurrencyRequestRecord(TypedDict):
    """One request of a concurrency level, on the level's timeline (seconds from its start)."""

    stream: int  # which of the level's streams sent it, 0-based
    start_s: float
    first_token_s: float | None  # the first non-empty content delta
    end_s: float  # the end of the stream, or when the request failed
    output_tokens: int
    ttft_s: float | None
    tpot_s: float | None
    e2e_s: float
    error: str | None  # one line; null when answered


class ConcurrencyLevelRecord(TypedDict):
    """One model x level of the concurrency sweep (concurrency.py defines the figures)."""

    model: str  # ModelRecord.slug
    level: int  # streams kept in flight
    prompt: str
    max_tokens: int
    seed: int
    warmup: int  # untimed requests per stream before the measured ones, all streams together
    status: Literal["ok", "error"]  # error: no request answered, or the level could not run
    reason: str | None
    requests: int
    errors: int
    wall_s: float
    output_tokens: int
    system_tps: float | None  # output tokens of the level / its wall span
    speedup: float | None  # system_tps / system_tps of level 1 of the same model
    mean_in_flight: float | None
    mean_decoding: float | None
    decode_overlap: float | None  # time with >= 2 decoding / time with >= 1 decoding
    peak_rss_bytes: int | None
    cpu_per_token_s: float | None
    summary: dict[str, SummaryRecord]  # ttft_s, tpot_s, e2e_s over the answered requests
    samples: list[ConcurrencyRequestRecord]


class ConcurrencyVerdictRecord(TypedDict):
    model: str
    verdict: Literal["serialises", "parallel", "shares"] | None  # null: the sweep cannot tell
    text: str


class ConcurrencyRecord(TypedDict):
    levels_requested: list[int]
    serial_max_speedup: float
    serial_max_overlap: float
    levels: list[ConcurrencyLevelRecord]
    verdicts: list[ConcurrencyVerdictRecord]


class Results(TypedDict):
    schema: str
    schema_version: int
    created_at: str  # ISO 8601, UTC
    run: RunRecord
    fingerprint: FingerprintRecord
    git: GitRecord | None
    models: list[ModelRecord]
    cells: list[CellRecord]
    concurrency: NotRequired[ConcurrencyRecord]  # only when a concurrency test ran
