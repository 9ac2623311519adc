"""The concurrency sweep's statistics: one level's timeline -> its figures, and the verdict.

Pure: no pytest, no network.  A *level* keeps N streams in flight (a closed loop: each
stream sends its next request as soon as its last one ended) until the level's requests
are spent.  Each request gives three clock readings, relative to the level's start:
``start`` (sent), ``first`` (first non-empty content delta) and ``end`` (end of stream).
From them, with T the level's wall span (earliest start to latest end):

* system output tok/s = the output tokens of every answered request / T;
* in flight(t) = requests between start and end at t; decoding(t) = between first and end;
* mean in flight = ∫ in flight dt / T = Σ (end - start) / T (at most N);
* mean decoding = ∫ decoding dt / T = Σ (end - first) / T;
* decode overlap = time with ≥ 2 streams decoding / time with ≥ 1 decoding: 0 when the
  server answers one request after another (a queued request's first token comes only
  after the previous answer ended), near 1 when it decodes the streams together;
* speed-up = system tok/s at N / system tok/s at 1 (the same prompt, in the same run).

A runtime *serialises requests* when, at every level of two or more streams, the speed-up
is at most SERIAL_MAX_SPEEDUP and the decode overlap at most SERIAL_MAX_OVERLAP.  It serves
streams *in parallel* when the speed-up at the most streams swept is above
SERIAL_MAX_SPEEDUP.  Otherwise the streams did decode together but throughput did not
grow: the runtime *shares* the machine between them (e.g. every core is already busy with
one stream).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from pytest_foundry.metrics import NS_PER_S, Summary, summarize
from pytest_foundry.results import (
    ConcurrencyLevelRecord,
    ConcurrencyRecord,
    ConcurrencyRequestRecord,
    ConcurrencyVerdictRecord,
)

# A level with at least 2 streams whose throughput is at most this multiple of one
# stream's gained nothing from the concurrency: run-to-run noise on a shared runner is
# ±10-20 %, so a smaller margin would call a concurrent server serial on a slow minute.
SERIAL_MAX_SPEEDUP = 1.2
# ... and whose streams decoded together less than this share of the decoding time.
SERIAL_MAX_OVERLAP = 0.10

Verdict = Literal["serialises", "parallel", "shares"]


@dataclass(frozen=True)
class TimedRequest:
    """One request of a level: clock readings in seconds from the level's start."""

    stream: int  # which of the N streams sent it (0-based)
    start_s: float
    end_s: float  # when it ended: the end of the stream, or when it failed
    first_s: float | None = None  # first non-empty content delta; None: failed or no content
    output_tokens: int = 0
    ttft_s: float | None = None
    tpot_s: float | None = None
    error: str | None = None  # one line; None when it was answered

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def e2e_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class LevelStats:
    """What one level measured."""

    level: int
    requests: int
    errors: int
    wall_s: float
    output_tokens: int
    system_tps: float | None
    mean_in_flight: float | None
    mean_decoding: float | None
    decode_overlap: float | None
    ttft: Summary | None
    tpot: Summary | None
    e2e: Summary | None
    first_error: str | None = None  # the first failed request's one-line error


def time_with_at_least(intervals: Iterable[tuple[float, float]], count: int) -> float:
    """Total time during which at least ``count`` of the intervals are open (a sweep line).

    Intervals are (begin, end); an empty or reversed one counts for nothing.  At a moment
    where one interval ends and another begins, the ending is counted first, so two
    back-to-back requests never overlap.
    """
    events: list[tuple[float, int]] = []
    for begin, end in intervals:
        if end > begin:
            events += [(begin, 1), (end, -1)]
    events.sort()  # at equal times -1 sorts before +1: endings first
    total, open_now, since = 0.0, 0, 0.0
    for moment, step in events:
        if open_now >= count:
            total += moment - since
        open_now += step
        since = moment
    return total


def level_stats(level: int, requests: Sequence[TimedRequest]) -> LevelStats:
    """The figures of one level (module docstring); None where nothing was answered."""
    if level < 1:
        raise ValueError(f"a level needs at least one stream, got {level}")
    answered = [r for r in requests if r.ok]
    errors = len(requests) - len(answered)
    if not requests:
        return LevelStats(level, 0, 0, 0.0, 0, None, None, None, None, None, None, None, None)
    begin = min(r.start_s for r in requests)
    wall_s = max(r.end_s for r in requests) - begin
    tokens = sum(r.output_tokens for r in answered)
    decoding = [(r.first_s, r.end_s) for r in answered if r.first_s is not None]
    busy = time_with_at_least(decoding, 1)

    def per_wall(total: float) -> float | None:
        return total / wall_s if wall_s > 0 else None

    return LevelStats(
        level=level,
        requests=len(requests),
        errors=errors,
        wall_s=wall_s,
        output_tokens=tokens,
        system_tps=per_wall(float(tokens)) if answered else None,
        mean_in_flight=per_wall(sum(r.e2e_s for r in requests)),
        mean_decoding=per_wall(sum(end - first for first, end in decoding)) if answered else None,
        decode_overlap=time_with_at_least(decoding, 2) / busy if busy > 0 else None,
        ttft=summarize(r.ttft_s for r in answered),
        tpot=summarize(r.tpot_s for r in answered),
        e2e=summarize(r.e2e_s for r in answered),
        first_error=next((r.error for r in requests if r.error is not None), None),
    )


def from_clock(
    stream: int,
    level_start_ns: int,
    start_ns: int,
    end_ns: int,
    *,
    ttft_s: float | None = None,
    tpot_s: float | None = None,
    output_tokens: int = 0,
    error: str | None = None,
) -> TimedRequest:
    """A TimedRequest from ``perf_counter_ns`` readings and a request's own TTFT/TPOT."""
    start_s = (start_ns - level_start_ns) / NS_PER_S
    return TimedRequest(
        stream=stream,
        start_s=start_s,
        end_s=(end_ns - level_start_ns) / NS_PER_S,
        first_s=None if ttft_s is None else start_s + ttft_s,
        output_tokens=output_tokens,
        ttft_s=ttft_s,
        tpot_s=tpot_s,
        error=error,
    )


def speedup(level_tps: float | None, single_tps: float | None) -> float | None:
    """throughput(N) / throughput(1), or None when either is unknown."""
    if level_tps is None or not single_tps:
        return None
    return level_tps / single_tps


@dataclass(frozen=True)
class SweepVerdict:
    verdict: Verdict | None  # None: the sweep cannot tell (no level 1, or no level >= 2)
    text: str


def sweep_verdict(levels: Sequence[ConcurrencyLevelRecord]) -> SweepVerdict:
    """Does one model's runtime serialise requests, decode them together, or share the
    machine between them?  Read from its levels of two or more streams against level 1
    (module docstring); ``speedup`` must be filled in (``sweep_record`` does)."""
    single = next((r for r in levels if r["level"] == 1 and r["system_tps"] is not None), None)
    if single is None:
        return SweepVerdict(None, "no answered level with 1 stream to compare with")
    judged = [
        (record["level"], ratio, overlap)
        for record in sorted(levels, key=lambda r: r["level"])
        if record["level"] >= 2
        and (overlap := record["decode_overlap"]) is not None
        and (ratio := record["speedup"]) is not None
    ]
    if not judged:
        return SweepVerdict(None, "no answered level with 2 or more streams")
    figures = "; ".join(
        f"{level} streams: throughput ×{ratio:.2f} of 1, decoding together {overlap:.0%} of the time"
        for level, ratio, overlap in judged
    )
    if all(ratio <= SERIAL_MAX_SPEEDUP and overlap <= SERIAL_MAX_OVERLAP for _, ratio, overlap in judged):
        return SweepVerdict("serialises", f"serialises requests ({figures})")
    # Judged at the most streams swept: one lucky level in the middle (a slow minute during
    # level 1) must not make a runtime that stays flat look parallel.
    if judged[-1][1] > SERIAL_MAX_SPEEDUP:
        return SweepVerdict("parallel", f"serves streams in parallel ({figures})")
    return SweepVerdict(
        "shares", f"decodes streams together without more throughput: they share the machine ({figures})"
    )


def level_record(
    model: str,
    level: int,
    prompt: str,
    max_tokens: int,
    seed: int,
    requests: Sequence[TimedRequest] | None,
    *,
    reason: str | None = None,
    warmup: int = 0,
    peak_rss: int | None = None,
    cpu_s: float | None = None,
) -> ConcurrencyLevelRecord:
    """The results.json record of one level (``speedup`` is filled in by sweep_record)."""
    stats = level_stats(level, requests or ())
    answered = stats.requests - stats.errors
    summaries = {
        name: summary.as_dict()
        for name, summary in (("ttft_s", stats.ttft), ("tpot_s", stats.tpot), ("e2e_s", stats.e2e))
        if summary is not None
    }
    if reason is None and not answered:
        reason = stats.first_error or "no request was sent"
    return ConcurrencyLevelRecord(
        model=model,
        level=level,
        prompt=prompt,
        max_tokens=max_tokens,
        seed=seed,
        warmup=warmup,
        status="ok" if answered and reason is None else "error",
        reason=reason,
        requests=stats.requests,
        errors=stats.errors,
        wall_s=stats.wall_s,
        output_tokens=stats.output_tokens,
        system_tps=stats.system_tps,
        speedup=None,
        mean_in_flight=stats.mean_in_flight,
        mean_decoding=stats.mean_decoding,
        decode_overlap=stats.decode_overlap,
        peak_rss_bytes=peak_rss,
        cpu_per_token_s=cpu_s / stats.output_tokens if cpu_s is not None and stats.output_tokens else None,
        summary=summaries,  # type: ignore[typeddict-item]
        samples=[
            ConcurrencyRequestRecord(
                stream=r.stream,
                start_s=r.start_s,
                first_token_s=r.first_s,
                end_s=r.end_s,
                output_tokens=r.output_tokens,
                ttft_s=r.ttft_s,
                tpot_s=r.tpot_s,
                e2e_s=r.e2e_s,
                error=r.error,
            )
            for r in requests or ()
        ],
    )


def sweep_record(levels: Sequence[ConcurrencyLevelRecord], requested: Sequence[int]) -> ConcurrencyRecord:
    """The results.json ``concurrency`` section: the levels by model (in the given order
    of models, then by level), each with its speed-up over level 1, and a verdict per model."""
    by_model: dict[str, list[ConcurrencyLevelRecord]] = {}
    for record in levels:
        by_model.setdefault(record["model"], []).append(record)
    ordered: list[ConcurrencyLevelRecord] = []
    verdicts: list[ConcurrencyVerdictRecord] = []
    for model, records in by_model.items():
        records = sorted(records, key=lambda r: r["level"])
        single = next((r["system_tps"] for r in records if r["level"] == 1), None)
        records = [
            ConcurrencyLevelRecord(**{**r, "speedup": speedup(r["system_tps"], single)}) for r in records
        ]
        ordered += records
        verdict = sweep_verdict(records)
        verdicts.append(ConcurrencyVerdictRecord(model=model, verdict=verdict.verdict, text=verdict.text))
    return ConcurrencyRecord(
        levels_requested=list(requested),
        serial_max_speedup=SERIAL_MAX_SPEEDUP,
        serial_max_overlap=SERIAL_MAX_OVERLAP,
        levels=ordered,
        verdicts=verdicts,
    )


def requests_for_level(level: int, requests: int) -> int:
    """The requests a level sends: ``requests``, but at least 2 per stream, so every
    stream sends a request while the others are in flight."""
    return max(requests, 2 * level)
