"""Test ids: ``[<model-slug>-<prompt-id>]``, stable, readable, collision-free, in order.

Collection only: no model is resolved or loaded, so catalog names need no network.
"""

from __future__ import annotations

import pytest


def collected(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if "::" in line]


@pytest.fixture
def two_tests(inner):
    inner.pytester.makepyfile(test_latency=inner.LATENCY_TEST, test_outputs=inner.OUTPUT_TEST)
    inner.write_prompts(inner.FOUR_PROMPTS[:2])


def test_collect_only_lists_model_prompt_ids_grouped_by_model(inner, two_tests, tiny_b):
    result = inner.run_inprocess(f"--foundry-models=tiny,{tiny_b}", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK
    assert collected(result) == [
        "test_latency.py::test_latency[tiny-rag_principle]",
        "test_latency.py::test_latency[tiny-privacy_benefits]",
        "test_outputs.py::test_output[tiny-rag_principle]",
        "test_outputs.py::test_output[tiny-privacy_benefits]",
        "test_latency.py::test_latency[tiny-b-rag_principle]",
        "test_latency.py::test_latency[tiny-b-privacy_benefits]",
        "test_outputs.py::test_output[tiny-b-rag_principle]",
        "test_outputs.py::test_output[tiny-b-privacy_benefits]",
    ]


def test_default_run_uses_the_embedded_model_and_the_shipped_prompts(inner):
    inner.pytester.makepyfile(test_outputs=inner.OUTPUT_TEST)
    result = inner.run_inprocess("--collect-only", "-q")
    assert collected(result) == [
        "test_outputs.py::test_output[tiny-rag_principle]",
        "test_outputs.py::test_output[tiny-privacy_benefits]",
        "test_outputs.py::test_output[tiny-size_latency]",
        "test_outputs.py::test_output[tiny-slm_scenarios]",
        "test_outputs.py::test_output[tiny-summarize_notes]",
        "test_outputs.py::test_output[tiny-json_extract]",
    ]


def test_versioned_ids_do_not_collide_with_similar_names(inner, two_tests):
    result = inner.run_inprocess("--foundry-models=phi-4:1,phi-41", "--collect-only", "-q", "test_outputs.py")
    assert collected(result) == [
        "test_outputs.py::test_output[phi-4@1-rag_principle]",
        "test_outputs.py::test_output[phi-4@1-privacy_benefits]",
        "test_outputs.py::test_output[phi-41-rag_principle]",
        "test_outputs.py::test_output[phi-41-privacy_benefits]",
    ]


def test_model_order_follows_the_option(inner, two_tests, tiny_b):
    result = inner.run_inprocess(f"--foundry-models={tiny_b},tiny", "--collect-only", "-q", "test_outputs.py")
    assert [line.split("[")[1] for line in collected(result)] == [
        "tiny-b-rag_principle]",
        "tiny-b-privacy_benefits]",
        "tiny-rag_principle]",
        "tiny-privacy_benefits]",
    ]


def test_ids_do_not_depend_on_run_settings(inner, two_tests, tiny_b):
    first = inner.run_inprocess(f"--foundry-models=tiny,{tiny_b}", "--collect-only", "-q")
    second = inner.run_inprocess(
        f"--foundry-models=tiny,{tiny_b}",
        "--collect-only",
        "-q",
        "--foundry-rounds=7",
        "--foundry-max-tokens=99",
        "--foundry-seed=3",
    )
    assert collected(first) == collected(second)
    assert len(collected(first)) == 8


def test_a_single_case_can_be_selected_by_its_id(inner, two_tests):
    result = inner.run_inprocess(
        "--collect-only", "-q", "test_outputs.py::test_output[tiny-privacy_benefits]"
    )
    assert collected(result) == ["test_outputs.py::test_output[tiny-privacy_benefits]"]


def test_report_header_names_backend_models_and_settings(inner, two_tests, tiny_b):
    result = inner.run_inprocess(f"--foundry-models=tiny,{tiny_b}", "--collect-only")
    result.stdout.fnmatch_lines(
        [
            "foundry: backend foundry-local (a host process per model); models tiny, tiny-b; "
            "2 prompts, rounds 2 + warmup 0, max_tokens 16"
        ]
    )
