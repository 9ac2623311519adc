"""pytest-xdist pieces without xdist: the workers' shared turn, and their records
travelling to the controller."""

from __future__ import annotations

import fcntl
import json
import threading
import time
from pathlib import Path

import pytest
from fake_runtime import FakeChat, FakeRuntime, generation, settings

from pytest_foundry.prompts import PromptSpec
from pytest_foundry.recorder import SnapshotOutcome
from pytest_foundry.session import FoundrySession
from pytest_foundry.shared_turn import GATE_FILE, SharedTurn
from pytest_foundry.xdist_hooks import group_name

PROMPT = PromptSpec(id="p1", prompt="Say hi.")


# -- the shared turn ----------------------------------------------------------------------
def in_thread(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_untimed_work_shares_the_turn(tmp_path):
    inside = threading.Event()
    first, second = SharedTurn(tmp_path), SharedTurn(tmp_path)

    def other() -> None:
        with second.take(timed=False):
            inside.set()

    with first.take(timed=False):
        in_thread(other)
        # The second worker got in while the first still held its (shared) turn.
        assert inside.wait(10)


def test_a_timed_request_has_the_turn_alone(tmp_path):
    log: list[str] = []
    timed, untimed = SharedTurn(tmp_path), SharedTurn(tmp_path)

    def other() -> None:
        with untimed.take(timed=False):
            log.append("untimed")

    with timed.take(timed=True):
        log.append("timed")
        thread = in_thread(other)
        time.sleep(0.2)  # room for the other worker to (wrongly) get in
        log.append("timed.end")
    thread.join(10)
    assert log == ["timed", "timed.end", "untimed"]


def gate_held(folder: Path) -> bool:
    with (folder / GATE_FILE).open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False


def test_a_waiting_timed_request_goes_before_untimed_work_that_comes_later(tmp_path):
    log: list[str] = []
    holder, waiter, later = SharedTurn(tmp_path), SharedTurn(tmp_path), SharedTurn(tmp_path)

    def timed() -> None:
        with waiter.take(timed=True):
            log.append("timed")

    def untimed() -> None:
        with later.take(timed=False):
            log.append("later untimed")

    with holder.take(timed=False):
        first = in_thread(timed)
        deadline = time.monotonic() + 10
        while not gate_held(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.01)
        second = in_thread(untimed)
        time.sleep(0.2)
        assert log == []  # both wait: the timed one for the holder, the other for the timed one
    first.join(10)
    second.join(10)
    assert log == ["timed", "later untimed"]
    for turn in (holder, waiter, later):
        turn.close()
    assert waiter.stats.timed_turns == 1
    assert later.stats.untimed_turns == 1


# -- records from worker to controller --------------------------------------------------
def make_session(tmp_path: Path, **options: str) -> FoundrySession:
    runtime = FakeRuntime(isolated=True)
    return FoundrySession(
        settings(tmp_path, models="m1,m2", rounds="2", **options),
        lambda s: runtime,
        tmp_path,
        client_factory=FakeChat(),
    )


def test_a_workers_records_reach_the_controller_whole(tmp_path):
    worker = make_session(tmp_path)
    prompt = worker.prompts[0]
    calls = [(prompt, worker.generate("m1", prompt)) for _ in range(3)]
    worker.recorder.record_latency("m1", calls, warmup=1)
    worker.recorder.record_output("m1", prompt, generation("m1", text="an answer"))
    worker.recorder.record_snapshots("m1", prompt.id, [SnapshotOutcome("created", None)])
    worker.pool.release("m1")
    # What execnet carries: plain values (a JSON round trip proves there is nothing else).
    payload = json.loads(json.dumps(worker.worker_records(("snapshots not written: disk full",))))
    worker.close()

    controller = make_session(tmp_path)
    controller.merge_worker("gw0", payload)
    empty = {"version": 2, "cells": [], "asserted_snapshots": [], "models": {}, "levels": []}
    controller.merge_worker("gw1", empty)
    cell = controller.recorder.cells[("m1", prompt.id)]
    assert len(cell.samples) == 2
    assert len(cell.warmup) == 1
    assert cell.samples == worker.recorder.cells[("m1", prompt.id)].samples
    assert cell.output is not None
    assert cell.output["text"] == "an answer"
    assert cell.output["snapshot"] == "created"
    m1, m2 = controller.pool.models["m1"], controller.pool.models["m2"]
    assert m1.loads == 1
    assert m2.loads == 0
    assert m1.loaded is not None
    assert m1.loaded.model_id == worker.pool.models["m1"].loaded.model_id
    assert m1.cold_ttft_s == worker.pool.models["m1"].cold_ttft_s
    assert controller.worker_problems == ["worker gw0: snapshots not written: disk full"]
    summary = controller.finish()
    assert summary.results is not None
    assert [(c["model"], c["status"], len(c["samples"])) for c in summary.results["cells"]] == [
        ("m1", "ok", 2)
    ]
    assert summary.failed  # the worker's error fails the run
    controller.close()


def test_cold_starts_and_concurrency_levels_reach_the_controller(tmp_path):
    worker = make_session(tmp_path, **{"cold-starts": "3"})
    worker.run_level("m1", 2)
    worker.pool.release("m1")
    payload = json.loads(json.dumps(worker.worker_records(())))
    sent = worker.pool.models["m1"]
    level = worker.recorder.levels[("m1", 2)]
    worker.close()

    controller = make_session(tmp_path)
    controller.merge_worker("gw0", payload)
    received = controller.pool.models["m1"]
    assert len(received.cold_starts) == 3
    assert received.cold_starts == sent.cold_starts
    assert received.load_s == sent.load_s
    assert controller.recorder.levels[("m1", 2)] == level
    results = controller.finish().results
    assert results is not None
    (model,) = [m for m in results["models"] if m["slug"] == "m1"]
    assert len(model["cold_starts"]) == 3
    assert [(entry["model"], entry["level"]) for entry in results["concurrency"]["levels"]] == [("m1", 2)]
    controller.close()


def test_a_worker_that_sent_nothing_fails_the_run_with_the_reason(tmp_path):
    controller = make_session(tmp_path)
    controller.merge_worker("gw1", None)
    controller.merge_worker("gw2", {"version": 99})
    assert controller.worker_problems == [
        "worker gw1 sent no records: its cells are missing",
        "worker gw2: a worker sent records of another version (99): its cells are missing",
    ]
    assert controller.finish().failed
    controller.close()


@pytest.mark.parametrize(
    ("slug", "group"),
    [("tiny", "foundry:tiny"), ("phi-4@1", "foundry:phi-4:1"), ("qwen@1", "foundry:qwen:1")],
)
def test_group_names_hold_no_at_sign(slug, group):
    # xdist cuts a node id's group at its last "@": phi-4@1 and qwen@1 must not both be "1".
    assert group_name(slug) == group
