"""One run at a time writes a report folder: the second waits, then says so."""

from __future__ import annotations

import threading
import time

import pytest

from pytest_foundry.report_lock import FolderBusy, report_folder_lock


def test_an_unshared_folder_is_taken_at_once_without_a_note(tmp_path):
    with report_folder_lock(tmp_path / "report") as note:
        assert note is None
    assert (tmp_path / "report").is_dir()


def test_a_second_run_waits_for_the_first_to_finish_its_set(tmp_path):
    folder = tmp_path / "report"
    order: list[str] = []
    held = threading.Event()

    def first() -> None:
        with report_folder_lock(folder):
            held.set()
            time.sleep(0.3)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    held.wait(5)
    with report_folder_lock(folder) as note:
        order.append("second writes")
    thread.join()
    assert order == ["first done", "second writes"]
    assert note is not None
    assert "was being written by another run" in note


def test_a_folder_held_past_the_wait_is_one_line_naming_the_holder(tmp_path):
    folder = tmp_path / "report"
    busy = pytest.raises(FolderBusy, match=r"another run \(pid \d+\) is still writing")
    with report_folder_lock(folder), busy, report_folder_lock(folder, timeout_s=0.2):
        pass
