"""CI shards: which models a shard measures, and merging the shards' records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gate_factory import cell, model, request, results

from pytest_foundry.cli import main
from pytest_foundry.errors import ConfigError
from pytest_foundry.options import parse_shard
from pytest_foundry.results_file import validate_results, write_results
from pytest_foundry.shard_merge import MergeRefused, ShardInput, merge_shards
from pytest_foundry.shards import shard_slugs

PROMPTS = ("p1", "p2")
MODELS = ["b-model", "a-model", "c-model"]


def shard_results(index: int, count: int, slugs: list[str] = MODELS, **options):
    mine = list(shard_slugs(slugs, index, count))
    record = results(
        [model(slug) for slug in mine],
        [cell(slug, prompt, [request(0.05, 0.02)] * 3) for slug in mine for prompt in PROMPTS],
        **options,
    )
    record["run"]["shard"] = {"index": index, "count": count, "models": mine, "all_models": sorted(slugs)}
    return record


def shards(count: int, **options) -> list[ShardInput]:
    return [ShardInput(f"shard{k}", shard_results(k, count, **options)) for k in range(1, count + 1)]


# -- the split ---------------------------------------------------------------------------
def test_shards_deal_the_sorted_slugs_round_robin_in_the_given_order():
    assert shard_slugs(MODELS, 1, 2) == ("a-model", "c-model")
    assert shard_slugs(MODELS, 2, 2) == ("b-model",)
    # The order the models were named in does not change who measures what.
    assert shard_slugs(list(reversed(MODELS)), 1, 2) == ("c-model", "a-model")
    every = [slug for k in range(1, 4) for slug in shard_slugs(MODELS, k, 3)]
    assert sorted(every) == sorted(MODELS)


def test_more_shards_than_models_is_refused_in_one_line():
    with pytest.raises(ConfigError, match=r"--foundry-shard=3/4: only 3 model\(s\) to share out"):
        shard_slugs(MODELS, 3, 4)


@pytest.mark.parametrize("value", ["0/2", "3/2", "1", "a/b", "1/0", "/2", "2/"])
def test_a_bad_shard_value_names_the_option(value):
    with pytest.raises(ConfigError, match=r"^--foundry-shard: expected K/N with 1 <= K <= N"):
        parse_shard("--foundry-shard", value)


def test_a_shard_value_parses():
    assert parse_shard("--foundry-shard", "2/3") == (2, 3)


# -- merging -----------------------------------------------------------------------------
def test_the_shards_concurrency_sweeps_merge_in_model_order():
    items = shards(2)
    for item in items:
        item.results["concurrency"] = {
            "levels_requested": [1, 2],
            "serial_max_speedup": 1.2,
            "serial_max_overlap": 0.1,
            "levels": [{"model": slug, "level": 2} for slug in item.results["run"]["shard"]["models"]],
            "verdicts": [
                {"model": slug, "verdict": None, "text": "-"}
                for slug in item.results["run"]["shard"]["models"]
            ],
        }
    sweep = merge_shards(list(reversed(items))).results["concurrency"]
    assert [entry["model"] for entry in sweep["levels"]] == ["a-model", "b-model", "c-model"]
    assert [verdict["model"] for verdict in sweep["verdicts"]] == ["a-model", "b-model", "c-model"]
    assert sweep["levels_requested"] == [1, 2]


def test_merging_every_shard_gives_one_complete_record_in_model_order():
    outcome = merge_shards(list(reversed(shards(2))))
    merged = outcome.results
    validate_results(merged, "merged")
    assert outcome.problems == ()
    assert [m["slug"] for m in merged["models"]] == ["a-model", "b-model", "c-model"]
    assert [(c["model"], c["prompt"]) for c in merged["cells"]] == [
        (slug, prompt) for slug in ["a-model", "b-model", "c-model"] for prompt in PROMPTS
    ]
    assert "shard" not in merged["run"]
    assert merged["run"]["merged"]["missing_shards"] == []
    assert [s["index"] for s in merged["run"]["merged"]["shards"]] == [1, 2]


def test_a_missing_shard_is_a_problem_naming_its_models():
    outcome = merge_shards(shards(3)[:1] + shards(3)[2:])
    assert outcome.problems == ("shard 2/3 is missing: no results for b-model",)
    assert outcome.results["run"]["merged"]["missing_shards"] == [2]
    assert outcome.results["run"]["merged"]["problems"] == list(outcome.problems)


def test_an_interrupted_or_failed_shard_is_reported_not_dropped():
    items = shards(2)
    items[0].results["run"]["interrupted"] = True
    items[1].results["models"][0]["status"] = "load-failed"
    items[1].results["models"][0]["reason"] = "b-model: no such file"
    items[1].results["cells"][0]["status"] = "timeout"
    outcome = merge_shards(items)
    assert outcome.results["run"]["interrupted"] is True
    assert outcome.problems == (
        "shard 1/2 (shard1) was interrupted: its cells are partial",
        "shard 2/2 (shard2): model b-model load-failed: b-model: no such file",
        "shard 2/2 (shard2): 1 cell(s) failed: b-model-p1 (timeout)",
    )
    assert len(outcome.results["cells"]) == 6


def test_a_model_its_shard_should_have_measured_but_did_not_is_a_problem():
    items = shards(2)
    items[0].results["models"] = [m for m in items[0].results["models"] if m["slug"] != "c-model"]
    items[0].results["cells"] = [c for c in items[0].results["cells"] if c["model"] != "c-model"]
    assert merge_shards(items).problems == ("shard 1/2 (shard1): model c-model has no record",)


def test_mixed_machines_are_refused_unless_forced():
    items = shards(2)
    items[1] = ShardInput("shard2", shard_results(2, 2, cpu="Another CPU"))
    with pytest.raises(MergeRefused, match=r"refusing to merge shards measured on different machines.*CPU"):
        merge_shards(items)
    outcome = merge_shards(items, force=True)
    assert outcome.problems == ()
    assert [s["cpu"] for s in outcome.results["run"]["merged"]["shards"]] == [
        "Synthetic CPU @ 3.0GHz",
        "Another CPU",
    ]
    assert any("merged across different CPU" in note for note in outcome.notes)


def test_different_settings_prompts_commits_splits_or_twice_given_shards_are_refused():
    items = shards(2)
    items[1].results["run"]["rounds"] = 5
    with pytest.raises(MergeRefused, match="the shards differ in rounds: 10 in shard1, 5 in shard2"):
        merge_shards(items)
    items = shards(2)
    items[1].results["cells"][0]["prompt"] = "p3"
    with pytest.raises(MergeRefused, match="different prompts"):
        merge_shards(items)
    with pytest.raises(MergeRefused, match="different commits"):
        merge_shards([shards(2)[0], ShardInput("shard2", shard_results(2, 2, commit="f" * 40))])
    with pytest.raises(MergeRefused, match="not of the same split"):
        merge_shards([shards(2)[0], shards(3)[1]])
    with pytest.raises(MergeRefused, match="shard 1/2 given twice"):
        merge_shards([shards(2)[0], shards(2)[0]])
    with pytest.raises(MergeRefused, match="no shard results to merge"):
        merge_shards([])


def test_a_model_measured_by_two_shards_is_refused():
    items = shards(2)
    items[1].results["models"].append(model("a-model"))
    with pytest.raises(MergeRefused, match="model a-model was measured by two shards"):
        merge_shards(items)


def test_a_run_without_a_shard_is_refused():
    with pytest.raises(MergeRefused, match="not a shard's results"):
        merge_shards([ShardInput("plain", results([model("m")], [cell("m", "p1", [])]))])


# -- the command -------------------------------------------------------------------------
def write_shards(tmp_path: Path, count: int, skip: int | None = None) -> list[str]:
    folders = []
    for index in range(1, count + 1):
        folder = tmp_path / f"shard-{index}"
        if index != skip:
            folder.mkdir()
            write_results(folder / "results.json", shard_results(index, count))
        folders.append(str(folder))
    return folders


def test_merge_command_writes_one_report_and_exits_0_when_complete(tmp_path, capsys):
    out = tmp_path / "merged"
    assert main(["merge", *write_shards(tmp_path, 2), "--output", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "report.html",
        "report.md",
        "results.csv",
        "results.json",
    ]
    merged = json.loads((out / "results.json").read_text())
    assert len(merged["models"]) == 3
    assert "merged 2 shard(s): complete" in capsys.readouterr().out


def test_merge_command_exits_1_and_says_why_when_a_shard_is_missing(tmp_path, capsys):
    out = tmp_path / "merged"
    assert main(["merge", *write_shards(tmp_path, 3, skip=2), "--output", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "shard-2/results.json: no results.json (did that shard's run fail?)" in printed
    assert "shard 2/3 is missing: no results for b-model" in printed
    assert "INCOMPLETE" in (out / "report.md").read_text()


def test_merge_command_exits_2_and_writes_nothing_when_refused(tmp_path, capsys):
    folders = write_shards(tmp_path, 2)
    out = tmp_path / "merged"
    assert main(["merge", folders[0], folders[0], "--output", str(out)]) == 2
    assert "pytest-foundry: error: shard 1/2 given twice" in capsys.readouterr().err
    assert not out.exists()
