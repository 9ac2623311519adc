"""Each model in a host process of its own, on the real runtime: crash isolation, memory
and cold start independent of order, two checkouts sharing a cache, unload ends the host."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import psutil

KILLING_TEST = """
import os, signal, time

def test_answer(foundry_generate, foundry_prompt, foundry_model):
    if foundry_model.slug == "tiny-b" and foundry_prompt.id == "privacy_benefits":
        os.kill(foundry_model.pid, signal.SIGKILL)  # as the OOM killer would
        time.sleep(0.5)
    assert foundry_generate(foundry_prompt).metrics.output_tokens > 0
"""


def _results(inner, folder: str = "report") -> dict:
    return json.loads((inner.pytester.path / folder / "results.json").read_text(encoding="utf-8"))


def test_a_killed_host_fails_only_its_model_and_the_report_is_complete(inner, tiny_b):
    inner.write_prompts(inner.FOUR_PROMPTS[:3])
    inner.pytester.makepyfile(test_answer=KILLING_TEST)
    result = inner.run(f"--foundry-models=tiny,{tiny_b}", "--foundry-report=report")
    inner.assert_no_traceback(result)
    result.assert_outcomes(passed=4, failed=2)
    results = _results(inner)
    cells = {(c["model"], c["prompt"]): (c["status"], c["reason"]) for c in results["cells"]}
    assert {cells[("tiny", p["id"])][0] for p in inner.FOUR_PROMPTS[:3]} <= {"ok", "truncated"}
    assert cells[("tiny-b", "rag_principle")][0] in ("ok", "truncated")
    killed = "tiny-b: model host exited with signal 9 (SIGKILL: out of memory?)"
    assert cells[("tiny-b", "privacy_benefits")] == ("error", killed)
    # The breaker: the next prompt fails at once, with the same reason.
    assert cells[("tiny-b", "size_latency")] == ("error", killed)
    models = {m["slug"]: m["status"] for m in results["models"]}
    assert models == {"tiny": "ok", "tiny-b": "error"}
    assert (inner.pytester.path / "report" / "report.md").is_file()
    assert killed in result.stdout.str()


def test_memory_and_cold_start_are_the_model_s_own_whatever_the_order(inner, tiny_b):
    inner.write_prompts(inner.FOUR_PROMPTS[:1])
    inner.pytester.makepyfile(test_answer=inner.ANSWER_TEST)
    figures = {}
    for order in ("tiny,{b}", "{b},tiny"):
        report = f"report-{order.split(',')[0][:4]}"
        inner.run(f"--foundry-models={order.format(b=tiny_b)}", f"--foundry-report={report}").assert_outcomes(
            passed=2
        )
        model = next(m for m in _results(inner, report)["models"] if m["slug"] == "tiny")
        assert model["memory"]["scope"] == "host"
        figures[order] = model["memory"]
    first, second = figures.values()
    mib = 1024 * 1024
    # A fresh host each time: before load, after load and the peak agree within 16 MiB.
    for key in ("rss_before_load_bytes", "rss_after_load_bytes", "peak_rss_bytes"):
        assert abs(first[key] - second[key]) <= 16 * mib, (key, first[key], second[key])
    assert first["pid"] != second["pid"]


def test_unloading_a_model_ends_its_host(inner):
    inner.write_prompts(inner.FOUR_PROMPTS[:1])
    inner.pytester.makepyfile(test_answer=inner.ANSWER_TEST)
    inner.run("--foundry-report=report").assert_outcomes(passed=1)
    pid = _results(inner)["models"][0]["memory"]["pid"]
    assert pid != os.getpid()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_two_checkouts_sharing_a_model_cache_both_finish_in_lockstep(inner, tiny_b):
    """The README's lockstep recipe: base and head, from two folders, one shared cache.
    Each has its own copy of a model folder of the same name, so the same BYOM id."""
    inner.write_prompts(inner.FOUR_PROMPTS[:2])
    inner.pytester.makepyfile(test_latency=inner.LATENCY_TEST)
    lockstep = inner.pytester.path / "pair.lock"
    processes = {}
    for side in ("base", "head"):
        checkout = inner.pytester.path / side
        model = checkout / "models" / "shared-name"
        shutil.copytree(tiny_b, model)
        processes[side] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                *inner.args(
                    f"--foundry-models={model}",
                    f"--foundry-lockstep={lockstep}",
                    f"--foundry-report={checkout / 'report'}",
                    "--foundry-rounds=4",
                ),
                f"--basetemp={inner.basetemp / side}",
                str(inner.pytester.path / "test_latency.py"),
            ],
            cwd=checkout,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    outputs = {side: process.communicate(timeout=240)[0] for side, process in processes.items()}
    for side, process in processes.items():
        assert process.returncode == 0, outputs[side]
        results = json.loads(
            (inner.pytester.path / side / "report" / "results.json").read_text(encoding="utf-8")
        )
        assert [m["model_id"] for m in results["models"]] == ["shared-name:1"]
        assert all(len(c["samples"]) == 4 for c in results["cells"]), side
        assert {c["status"] for c in results["cells"]} <= {"ok", "truncated"}, side
        assert results["run"]["lockstep"]["partnered_turns"] > 0


def test_cold_starts_are_fresh_hosts_summarised_by_their_median(inner):
    inner.write_prompts(inner.FOUR_PROMPTS[:1])
    inner.pytester.makepyfile(test_answer=inner.ANSWER_TEST)
    result = inner.run("--foundry-models=tiny", "--foundry-report=report", "--foundry-cold-starts=3")
    result.assert_outcomes(passed=1)
    (model,) = _results(inner)["models"]
    starts = model["cold_starts"]
    assert len(starts) == 3
    # Each a model loaded afresh in a host of its own: a load time, a first answer and
    # the memory of a process that holds the model.
    for start in starts:
        assert start["load_s"] > 0
        assert start["cold_ttft_s"] > 0
        assert start["rss_after_load_bytes"] > model["memory"]["rss_before_load_bytes"]
    assert model["load_s"] == sorted(s["load_s"] for s in starts)[1]
    assert model["cold_ttft_s"] == sorted(s["cold_ttft_s"] for s in starts)[1]
    # The samples are not loads that served tests: the model still loaded once.
    assert "model loads: 1 (tiny x1)" in result.stdout.str()
