"""Each model is loaded once per session, however many tests and prompts use it."""

from __future__ import annotations


def test_two_models_four_prompts_two_tests_load_each_model_once(inner, tiny_b):
    inner.write_prompts()
    inner.pytester.makepyfile(test_latency=inner.LATENCY_TEST, test_outputs=inner.ANSWER_TEST)
    result = inner.run_inprocess(f"--foundry-models=tiny,{tiny_b}")
    result.assert_outcomes(passed=2 * 4 * 2)
    total, per_model = inner.model_loads(result.stdout.str())
    assert per_model == {"tiny": 1, "tiny-b": 1}
    assert total == 2
    result.stdout.fnmatch_lines(["model loads: 2 (tiny x1, tiny-b x1)"])


def test_tests_run_model_by_model(inner, tiny_b):
    # Grouping by model is what lets each model load once and be unloaded after its
    # last test: all of tiny's tests, then all of tiny-b's.
    inner.write_prompts(inner.FOUR_PROMPTS[:2])
    inner.pytester.makepyfile(test_latency=inner.LATENCY_TEST, test_outputs=inner.ANSWER_TEST)
    result = inner.run_inprocess(f"--foundry-models=tiny,{tiny_b}", "-v", "--benchmark-disable")
    result.assert_outcomes(passed=8)
    passed = [line.split(" ")[0] for line in result.outlines if line.endswith("PASSED") or " PASSED " in line]
    models = [nodeid.split("[", 1)[1].rsplit("-", 1)[0] for nodeid in passed]
    assert models == ["tiny"] * 4 + ["tiny-b"] * 4, passed


def test_a_model_no_test_uses_is_never_loaded(inner, tiny_b):
    inner.write_prompts(inner.FOUR_PROMPTS[:1])
    inner.pytester.makepyfile(
        test_only_tiny="""
        import pytest

        def test_answer(foundry_generate, foundry_prompt, foundry_model):
            assert foundry_generate(foundry_prompt).text
        """
    )
    result = inner.run_inprocess(f"--foundry-models=tiny,{tiny_b}", "-k", "tiny-rag_principle and not tiny-b")
    result.assert_outcomes(passed=1, deselected=1)
    assert inner.model_loads(result.stdout.str()) == (1, {"tiny": 1})
