"""After a run, nothing of it is left in the process: no thread, no web service, no manager.

These inner runs are in-process on purpose: that is the only way to look at the
process the run used.  They need no outer FoundryLocalManager to be alive (the endpoint
tests' fixture is module-scoped, so it is gone by now; ``run_inprocess`` checks).
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest


def url_recording_test(path: Path) -> str:
    """An output test that also appends the model's base URL to ``path``."""
    return f"""
def test_answer(foundry_generate, foundry_prompt, foundry_model):
    with open({str(path)!r}, "a", encoding="utf-8") as urls:
        urls.write(foundry_model.base_url + "\\n")
    assert foundry_generate(foundry_prompt).metrics.output_tokens > 0
"""


def port_is_closed(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(5)
        return probe.connect_ex(("127.0.0.1", port)) != 0


def live_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.is_alive()}


@pytest.fixture
def no_manager():
    from foundry_local_sdk import FoundryLocalManager

    assert FoundryLocalManager.instance is None, "an outer FoundryLocalManager is alive"
    return FoundryLocalManager


def test_run_leaves_no_thread_web_service_or_manager(inner, tiny_b, tmp_path, no_manager):
    urls_file = tmp_path / "urls.txt"
    inner.pytester.makepyfile(test_answers=url_recording_test(urls_file))
    inner.write_prompts(inner.FOUR_PROMPTS[:2])
    before = live_threads()

    result = inner.run_inprocess(f"--foundry-models=tiny,{tiny_b}")

    result.assert_outcomes(passed=4)
    assert no_manager.instance is None
    assert live_threads() - before == set()
    urls = set(urls_file.read_text(encoding="utf-8").split())
    assert urls, "the inner tests recorded no URL"
    ports = {urlsplit(url).port for url in urls}
    # Each model had a host of its own, serving on 127.0.0.1 (BYOM models under
    # /catalogs/local/v1) ...
    assert len(ports) == 2
    assert all(urlsplit(url).hostname == "127.0.0.1" for url in urls)
    assert all(url.endswith("/catalogs/local/v1") for url in urls)
    # ... and every one of them is closed now.
    assert all(port_is_closed(port) for port in ports)


def test_a_second_run_in_the_same_process_starts_afresh(inner, tmp_path, no_manager):
    urls_file = tmp_path / "urls.txt"
    inner.pytester.makepyfile(test_answers=url_recording_test(urls_file))
    inner.write_prompts(inner.FOUR_PROMPTS[:1])
    inner.run_inprocess().assert_outcomes(passed=1)
    inner.run_inprocess().assert_outcomes(passed=1)
    assert no_manager.instance is None
    first, second = urls_file.read_text(encoding="utf-8").split()
    assert port_is_closed(urlsplit(first).port)
    assert port_is_closed(urlsplit(second).port)


def test_failed_tests_still_close_everything(inner, no_manager):
    inner.pytester.makepyfile(
        test_failing="""
        def test_answer(foundry_generate, foundry_prompt):
            foundry_generate(foundry_prompt)
            raise RuntimeError("the test itself fails")
        """
    )
    inner.write_prompts(inner.FOUR_PROMPTS[:1])
    before = live_threads()
    result = inner.run_inprocess()
    result.assert_outcomes(failed=1)
    assert no_manager.instance is None
    assert live_threads() - before == set()


def test_a_run_that_loads_nothing_starts_nothing(inner, no_manager):
    inner.pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    before = live_threads()
    result = inner.run_inprocess()
    result.assert_outcomes(passed=1)
    assert "model loads" not in result.stdout.str()
    assert no_manager.instance is None
    assert live_threads() - before == set()
    assert list(inner.cache_dir.iterdir()) == []
