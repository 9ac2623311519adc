"""resolve_settings: command line > ini > environment > default, paths, and bad values.

Pure: the raw values are given as the dicts pytest would hand over (by option dest).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_foundry.errors import ConfigError
from pytest_foundry.options import OPTIONS, Settings, resolve_settings, split_models

ROOT = Path("/project")  # where the ini file lives
HERE = Path("/project/sub/dir")  # where pytest was invoked


def resolve(cli=None, ini=None, env=None, rootdir=ROOT, invocation_dir=HERE) -> Settings:
    return resolve_settings(cli or {}, ini or {}, env or {}, rootdir, invocation_dir)


# -- defaults --------------------------------------------------------------------------------
def test_defaults():
    s = resolve()
    assert s.models == ()
    assert s.models_file is None
    assert s.prompts_file is None
    assert (s.rounds, s.warmup, s.max_tokens, s.seed) == (10, 1, 128, 42)
    assert s.timeout_s == 120.0
    assert s.temperature == 0.0
    assert s.endpoint is None
    assert s.cache_dir is None
    assert s.snapshot_dir == ROOT / "snapshots"
    assert s.report_dir == HERE / "foundry-report"
    assert s.baseline_dir == ROOT / ".foundry" / "baselines"
    assert (s.power_watts, s.price_per_kwh) == (15.0, 0.30)
    assert s.checks == "report"
    assert s.compare_force is False
    assert (s.save, s.compare, s.gate, s.judge, s.annotations) == (None, None, None, None, None)
    assert s.judge_repeats == 1


def test_every_option_has_a_foundry_dest():
    dests = [spec.dest for spec in OPTIONS]
    assert all(d.startswith("foundry_") for d in dests)
    assert len(set(dests)) == len(dests)
    assert {spec.env for spec in OPTIONS if spec.env} == {
        "BENCH_MODELS",
        "BENCH_ROUNDS",
        "BENCH_MAX_TOKENS",
        "FOUNDRY_LOCAL_ENDPOINT",
    }


# -- precedence ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cli", "ini", "env", "expected"),
    [
        ({"foundry_rounds": "3"}, {"foundry_rounds": "5"}, {"BENCH_ROUNDS": "7"}, 3),
        ({}, {"foundry_rounds": "5"}, {"BENCH_ROUNDS": "7"}, 5),
        ({}, {}, {"BENCH_ROUNDS": "7"}, 7),
        ({}, {}, {}, 10),
        # Unset values do not shadow lower levels.
        ({"foundry_rounds": None}, {"foundry_rounds": ""}, {"BENCH_ROUNDS": "7"}, 7),
        ({}, {"foundry_rounds": None}, {"BENCH_ROUNDS": ""}, 10),
    ],
)
def test_precedence_cli_ini_env_default(cli, ini, env, expected):
    assert resolve(cli, ini, env).rounds == expected


def test_cold_starts_default_to_three_medians():
    assert resolve().cold_starts == 3
    assert resolve(ini={"foundry_cold_starts": "1"}).cold_starts == 1


def test_environment_fallbacks_of_the_workshop():
    s = resolve(
        env={
            "BENCH_MODELS": "tiny, tests/models/tiny-b",
            "BENCH_ROUNDS": "4",
            "BENCH_MAX_TOKENS": "32",
            "FOUNDRY_LOCAL_ENDPOINT": "http://127.0.0.1:5273/v1",
        }
    )
    assert s.models == ("tiny", "tests/models/tiny-b")
    assert s.rounds == 4
    assert s.max_tokens == 32
    assert s.endpoint == "http://127.0.0.1:5273/v1"


def test_environment_only_backs_the_options_that_name_it():
    s = resolve(env={"BENCH_WARMUP": "5", "BENCH_SEED": "9", "foundry_rounds": "3"})
    assert (s.warmup, s.seed, s.rounds) == (1, 42, 10)


def test_cli_beats_environment_for_models_and_endpoint():
    s = resolve(
        cli={"foundry_models": "a", "foundry_endpoint": "http://cli:1/v1"},
        env={"BENCH_MODELS": "b", "FOUNDRY_LOCAL_ENDPOINT": "http://env:2/v1"},
    )
    assert s.models == ("a",)
    assert s.endpoint == "http://cli:1/v1"


def test_ini_models_may_span_lines():
    s = resolve(ini={"foundry_models": "\ntiny\n  other-model\n"})
    assert s.models == ("tiny", "other-model")


def test_values_are_stripped():
    s = resolve(cli={"foundry_rounds": " 3 ", "foundry_endpoint": "  http://x:1/v1 "})
    assert s.rounds == 3
    assert s.endpoint == "http://x:1/v1"


# -- paths ---------------------------------------------------------------------------------
def test_cli_paths_are_relative_to_the_invocation_folder():
    s = resolve(cli={"foundry_prompts": "p.json", "foundry_snapshot_dir": "snaps", "foundry_report": "out"})
    assert s.prompts_file == HERE / "p.json"
    assert s.snapshot_dir == HERE / "snaps"
    assert s.report_dir == HERE / "out"


def test_ini_paths_are_relative_to_the_ini_folder():
    s = resolve(
        ini={
            "foundry_prompts": "p.json",
            "foundry_models_file": "conf/models.json",
            "foundry_snapshot_dir": "snaps",
            "foundry_cache_dir": "../cache",
            "foundry_baseline_dir": "bl",
        }
    )
    assert s.prompts_file == ROOT / "p.json"
    assert s.models_file == ROOT / "conf" / "models.json"
    assert s.snapshot_dir == ROOT / "snaps"
    assert s.cache_dir == Path("/cache")
    assert s.baseline_dir == ROOT / "bl"


def test_model_folders_are_kept_as_typed():
    # Models are names or folders; folders are resolved later, against the invocation folder.
    assert resolve(env={"BENCH_MODELS": "./m"}).models == ("./m",)
    assert resolve(ini={"foundry_models": "../m"}).models == ("../m",)


def test_absolute_and_home_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    s = resolve(cli={"foundry_prompts": "/abs/p.json", "foundry_cache_dir": "~/fl-cache"})
    assert s.prompts_file == Path("/abs/p.json")
    assert s.cache_dir == tmp_path.resolve() / "fl-cache"


@pytest.mark.parametrize("value", ["none", "NONE", "None"])
def test_report_none_switches_the_report_off(value):
    assert resolve(cli={"foundry_report": value}).report_dir is None


# -- other values --------------------------------------------------------------------------
def test_numbers():
    s = resolve(
        cli={
            "foundry_warmup": "0",
            "foundry_seed": "0",
            "foundry_timeout": "2.5",
            "foundry_power_watts": "65",
            "foundry_price_per_kwh": "0",
            "foundry_judge_repeats": "3",
        }
    )
    assert (s.warmup, s.seed, s.timeout_s) == (0, 0, 2.5)
    assert (s.power_watts, s.price_per_kwh, s.judge_repeats) == (65.0, 0.0, 3)


@pytest.mark.parametrize(("value", "expected"), [("fail", "fail"), ("FAIL", "fail"), ("Report", "report")])
def test_checks_mode_is_case_insensitive(value, expected):
    assert resolve(cli={"foundry_checks": value}).checks == expected


def test_compare_force_flag_from_cli_or_ini():
    assert resolve(cli={"foundry_compare_force": True}).compare_force is True
    assert resolve(ini={"foundry_compare_force": True}).compare_force is True
    assert resolve(ini={"foundry_compare_force": False}).compare_force is False


# -- bad values ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("dest", "value", "message"),
    [
        ("foundry_rounds", "zero", r"--foundry-rounds: expected a whole number, got 'zero'"),
        ("foundry_rounds", "0", r"--foundry-rounds: must be at least 1, got 0"),
        ("foundry_rounds", "2.5", r"--foundry-rounds: expected a whole number"),
        ("foundry_warmup", "-1", r"--foundry-warmup: must be at least 0, got -1"),
        ("foundry_max_tokens", "0", r"--foundry-max-tokens: must be at least 1"),
        ("foundry_max_tokens", "lots", r"--foundry-max-tokens: expected a whole number"),
        ("foundry_seed", "-5", r"--foundry-seed: must be at least 0"),
        ("foundry_timeout", "soon", r"--foundry-timeout: expected a number, got 'soon'"),
        ("foundry_timeout", "0", r"--foundry-timeout: must be .*positive.*, got 0"),
        ("foundry_timeout", "-1", r"--foundry-timeout: must be .*positive.*, got -1"),
        ("foundry_timeout", "nan", r"--foundry-timeout: must be .*positive.*, got nan"),
        ("foundry_timeout", "inf", r"--foundry-timeout: must be .*finite.*, got inf"),
        ("foundry_power_watts", "0", r"--foundry-power-watts: must be .*positive"),
        ("foundry_power_watts", "inf", r"--foundry-power-watts: must be .*finite"),
        ("foundry_price_per_kwh", "-0.1", r"--foundry-price-per-kwh: must be .*non-negative"),
        ("foundry_price_per_kwh", "inf", r"--foundry-price-per-kwh: must be .*finite"),
        ("foundry_judge_repeats", "0", r"--foundry-judge-repeats: must be at least 1"),
        ("foundry_cold_starts", "0", r"--foundry-cold-starts: must be at least 1, got 0"),
        ("foundry_checks", "strict", r"--foundry-checks: expected one of report, fail, got 'strict'"),
        ("foundry_models", "a,b,a", r"--foundry-models: a named twice"),
        ("foundry_models", " , ,", r"--foundry-models: no model named"),
    ],
)
def test_bad_values_raise_one_line_config_errors(dest, value, message):
    with pytest.raises(ConfigError, match=message) as info:
        resolve(cli={dest: value})
    assert "\n" not in str(info.value)


# A bad value from the environment or the ini file once read "--foundry-rounds: ...", an
# option the user never typed: the message names where the value came from.
def test_bad_environment_value_names_the_variable():
    with pytest.raises(ConfigError, match=r"BENCH_ROUNDS.*: expected a whole number, got 'ten'") as info:
        resolve(env={"BENCH_ROUNDS": "ten"})
    assert "\n" not in str(info.value)


def test_bad_ini_value_names_the_ini_key():
    with pytest.raises(ConfigError, match=r"foundry_max_tokens.*: must be at least 1, got 0"):
        resolve(ini={"foundry_max_tokens": "0"})


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ({"env": {"BENCH_MODELS": "a,a"}}, "BENCH_MODELS"),
        ({"ini": {"foundry_models": "a\na"}}, "foundry_models"),
        ({"ini": {"foundry_checks": "strict"}}, "foundry_checks"),
        ({"ini": {"foundry_timeout": "soon"}}, "foundry_timeout"),
        ({"cli": {"foundry_rounds": "x"}, "ini": {"foundry_rounds": "y"}}, "--foundry-rounds"),
    ],
)
def test_every_bad_value_names_its_source(source, name):
    with pytest.raises(ConfigError) as info:
        resolve(**source)
    where = str(info.value).split(": ", 1)[0]
    assert name in where


def test_a_good_cli_value_hides_a_bad_environment_value():
    assert resolve(cli={"foundry_rounds": "2"}, env={"BENCH_ROUNDS": "ten"}).rounds == 2


# -- split_models --------------------------------------------------------------------------
def test_split_models_keeps_order_and_drops_blanks():
    assert split_models("b, a,,c ,\n d") == ("b", "a", "c", "d")


def test_split_models_names_every_duplicate_once():
    with pytest.raises(ConfigError, match=r"a, b named twice"):
        split_models("b,a,b,a,a")


# -- the concurrency sweep -----------------------------------------------------------------
def test_concurrency_defaults_and_sources():
    assert resolve().concurrency == (1, 2)
    assert resolve().concurrency_requests is None
    s = resolve(cli={"foundry_concurrency": "1, 2,4"}, ini={"foundry_concurrency_requests": "12"})
    assert (s.concurrency, s.concurrency_requests) == ((1, 2, 4), 12)
    assert resolve(ini={"foundry_concurrency": "4\n8"}).concurrency == (4, 8)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "--foundry-concurrency: a level is a number of streams, at least 1, got 0"),
        ("1,-2", "--foundry-concurrency: a level is a number of streams, at least 1, got -2"),
        ("1,two", "--foundry-concurrency: expected whole numbers such as 1,2,4, got 'two'"),
        ("1.5", "--foundry-concurrency: expected whole numbers such as 1,2,4, got '1.5'"),
        ("1,2,1", "--foundry-concurrency: level 1 named twice"),
        (",", "--foundry-concurrency: no concurrency level named"),
    ],
)
def test_bad_concurrency_levels_are_one_line_errors(value, message):
    with pytest.raises(ConfigError) as info:
        resolve(cli={"foundry_concurrency": value})
    assert str(info.value) == message


def test_bad_concurrency_requests_name_the_ini_key():
    with pytest.raises(ConfigError, match=r"^ini foundry_concurrency_requests: must be at least 1, got 0$"):
        resolve(ini={"foundry_concurrency_requests": "0"})
