"""Output snapshots: one readable text file per model x prompt, created, matched,
reported as a diff when they change, and rewritten by ``--snapshot-update``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

TINY_HEADER = (
    "# model: pytest-foundry-tiny-generic-cpu:1\n# max_tokens: 16\n# seed: 42\n# temperature: 0\n---\n"
)
TINY_B_HEADER = "# model: tiny-b:1\n# max_tokens: 16\n# seed: 42\n# temperature: 0\n---\n"
FILES = [
    "tiny-b/privacy_benefits.txt",
    "tiny-b/rag_principle.txt",
    "tiny/privacy_benefits.txt",
    "tiny/rag_principle.txt",
]


@pytest.fixture
def suite(inner, tiny_b):
    """Two models x two prompts, one snapshot test."""
    inner.pytester.makepyfile(test_outputs=inner.OUTPUT_TEST)
    inner.write_prompts(inner.FOUR_PROMPTS[:2])
    inner.models = f"--foundry-models=tiny,{tiny_b}"
    return inner


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_b, inner_test_files):
    """The suite's snapshots, written once per module by a plain `pytest --snapshot-update`
    in a fresh interpreter (each inner run costs ~2 s of SDK shutdown)."""
    folder = tmp_path_factory.mktemp("reference")
    (folder / "test_outputs.py").write_text(inner_test_files["OUTPUT_TEST"], encoding="utf-8")
    (folder / "prompts.json").write_text(
        json.dumps({"prompts": inner_test_files["FOUR_PROMPTS"][:2]}), encoding="utf-8"
    )
    snapshots = folder / "snapshots"
    args = [
        "-p",
        "no:cacheprovider",
        "--foundry-report=none",
        f"--foundry-cache-dir={tmp_path_factory.mktemp('reference-cache')}",
        f"--foundry-snapshot-dir={snapshots}",
        "--foundry-prompts=prompts.json",
        "--foundry-max-tokens=16",
        "--foundry-warmup=0",
        f"--foundry-models=tiny,{tiny_b}",
        "--snapshot-update",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *args], cwd=folder, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr
    files = {p.relative_to(snapshots).as_posix(): p.read_bytes() for p in snapshots.rglob("*") if p.is_file()}
    assert sorted(files) == FILES
    return files


@pytest.fixture
def created(suite, reference):
    """The suite with its snapshots in place (copied from the reference run)."""
    for name, data in reference.items():
        path = suite.snapshot_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return reference


def test_first_run_without_snapshots_fails_and_writes_nothing(suite):
    result = suite.run_inprocess(suite.models)
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(["*4 snapshots failed*"])
    assert suite.snapshot_files() == {}


def test_update_creates_one_readable_file_per_model_and_prompt(suite, reference):
    result = suite.run_inprocess(suite.models, "--snapshot-update")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*4 snapshots generated*"])
    created = suite.snapshot_files()
    # Deterministic at temperature 0: the same bytes as the reference run's (another process).
    assert created == reference
    for name, data in created.items():
        text = data.decode("utf-8")
        header = TINY_B_HEADER if name.startswith("tiny-b/") else TINY_HEADER
        assert text.startswith(header), name
        body = text[len(header) :]
        assert body.strip(), f"{name} holds no output text"
        assert body.endswith("\n")
    # Two models, same prompt: different (random-weight) models, different text.
    assert created["tiny/rag_principle.txt"] != created["tiny-b/rag_principle.txt"]


def test_second_run_matches_and_leaves_files_untouched(suite, created):
    result = suite.run_inprocess(suite.models)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*4 snapshots passed*"])
    assert suite.snapshot_files() == created


def test_a_changed_snapshot_fails_only_its_test_with_a_readable_diff(suite, created):
    path = suite.snapshot_dir / "tiny-b" / "privacy_benefits.txt"
    original = created["tiny-b/privacy_benefits.txt"].decode("utf-8")
    answer = original.split("---\n", 1)[1].splitlines()[0]
    path.write_text(TINY_B_HEADER + "an answer edited by hand\n", encoding="utf-8")

    result = suite.run_inprocess(suite.models)
    result.assert_outcomes(passed=3, failed=1)
    failed = [r.nodeid for r in result.reprec.getreports("pytest_runtest_logreport") if r.failed]
    assert failed == ["test_outputs.py::test_output[tiny-b-privacy_benefits]"]
    # The diff shows the snapshot's line and the new output's line.
    assert any(line.endswith("- an answer edited by hand") for line in result.outlines)
    assert any(line.endswith(f"+ {answer}") for line in result.outlines), answer
    # A failing comparison never writes.
    assert path.read_text(encoding="utf-8") == TINY_B_HEADER + "an answer edited by hand\n"


def test_update_rewrites_the_changed_file_and_keeps_the_others(suite, created):
    path = suite.snapshot_dir / "tiny-b" / "privacy_benefits.txt"
    path.write_text(TINY_B_HEADER + "an answer edited by hand\n", encoding="utf-8")

    result = suite.run_inprocess(suite.models, "--snapshot-update")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*1 snapshot updated*"])
    assert suite.snapshot_files() == created
    assert not list(suite.snapshot_dir.rglob("*.tmp"))


def test_a_changed_setting_in_the_header_fails_every_case(suite, created):
    result = suite.run_inprocess(suite.models, "--foundry-max-tokens=8")
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(["*- # max_tokens: 16", "*+ # max_tokens: 8"])


def test_a_run_with_one_model_keeps_the_other_models_snapshots(suite, created):
    result = suite.run_inprocess("--foundry-models=tiny")
    result.assert_outcomes(passed=2)
    assert "unused" not in result.stdout.str()

    result = suite.run_inprocess("--foundry-models=tiny", "--snapshot-update")
    result.assert_outcomes(passed=2)
    assert "Deleted" not in result.stdout.str()
    assert suite.snapshot_files() == created


def test_selecting_one_case_keeps_every_other_snapshot(suite, created):
    result = suite.run_inprocess(suite.models, "--snapshot-update", "-k", "tiny-rag_principle")
    result.assert_outcomes(passed=1, deselected=3)
    assert suite.snapshot_files() == created


def test_snapshot_dir_option_decides_where_files_go(suite, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    result = suite.run_inprocess(suite.models, f"--foundry-snapshot-dir={elsewhere}", "--snapshot-update")
    result.assert_outcomes(passed=4)
    assert sorted(p.relative_to(elsewhere).as_posix() for p in elsewhere.rglob("*.txt")) == FILES
    assert suite.snapshot_files() == {}


def test_update_keeps_the_snapshot_of_a_case_that_failed_before_asserting(suite, created):
    # A case that fails before its assertion looks unused to syrupy; its snapshot must stay.
    # privacy_benefits now asks for more tokens than tiny's context: HTTP 400 for it alone.
    prompts = suite.FOUR_PROMPTS
    suite.write_prompts([prompts[0], {**prompts[1], "max_tokens": 5000}])
    result = suite.run_inprocess("--foundry-models=tiny", "--snapshot-update")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*exceeds the model's maximum context length*"])
    assert suite.snapshot_files() == created


@pytest.mark.parametrize("order", ["broken-first", "broken-last"])
def test_update_keeps_the_snapshots_of_a_model_that_failed_to_load(suite, created, tiny_b, order):
    # Both orders: syrupy looks at the folder of one arbitrary test of each file.
    broken = suite.copy_model(tiny_b, suite.pytester.path / "broken" / "tiny-b")
    (broken / "model.onnx").write_bytes(b"")
    models = f"{broken},tiny" if order == "broken-first" else f"tiny,{broken}"
    result = suite.run_inprocess(f"--foundry-models={models}", "--snapshot-update")
    result.assert_outcomes(passed=2, errors=2)
    assert "Deleted" not in result.stdout.str()
    assert suite.snapshot_files() == created


def test_update_with_exitfirst_keeps_the_snapshots_of_cases_not_run(suite, created):
    suite.pytester.makepyfile(
        test_outputs="""
        def test_output(foundry_generate, foundry_prompt, foundry_snapshot):
            generation = foundry_generate(foundry_prompt, temperature=0.0)
            assert foundry_prompt.id != "rag_principle", "fails before its snapshot assertion"
            assert generation == foundry_snapshot
        """
    )
    result = suite.run_inprocess("--foundry-models=tiny", "--snapshot-update", "-x")
    result.assert_outcomes(failed=1)
    assert suite.snapshot_files() == created


def test_update_with_fewer_prompts_keeps_the_other_prompts_snapshots(suite, created):
    # Like a smaller --foundry-models: the prompts left out keep their snapshots.
    suite.write_prompts(suite.FOUR_PROMPTS[:1], name="one-prompt.json")
    result = suite.run_inprocess(suite.models, "--snapshot-update")
    result.assert_outcomes(passed=2)
    assert suite.snapshot_files() == created


def test_update_writes_without_warnings(suite):
    # syrupy warns when a snapshot's name does not contain the test's name; under
    # -W error (or filterwarnings = error) that warning would stop every write.  In a
    # subprocess, as users run it: an in-process run re-registers the already imported
    # plugin, which pytest's assertion rewriter warns about under plain `pytest`.
    result = suite.run(suite.models, "--snapshot-update", "-W", "error::UserWarning")
    result.assert_outcomes(passed=4, warnings=0)
    assert sorted(suite.snapshot_files()) == FILES


@pytest.mark.parametrize("damage", ["binary", "folder"])
def test_a_corrupt_snapshot_fails_readably_and_an_update_repairs_it(suite, damage):
    suite.run(suite.models, "--snapshot-update").assert_outcomes(passed=4)
    target = suite.snapshot_dir / "tiny" / "rag_principle.txt"
    target.unlink()
    if damage == "binary":
        target.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe garbage")
    else:
        target.mkdir()  # an empty folder where the file belongs

    checked = suite.run(suite.models)
    # A plain snapshot mismatch, with the note in its diff: no traceback from reading it.
    checked.assert_outcomes(passed=3, failed=1)
    checked.stdout.fnmatch_lines(["*<unreadable snapshot:*"])
    assert "Traceback" not in checked.stdout.str() + checked.stderr.str()
    assert "INTERNALERROR" not in checked.stdout.str()

    repaired = suite.run(suite.models, "--snapshot-update")
    repaired.assert_outcomes(passed=4)
    assert target.is_file()
    assert target.read_text(encoding="utf-8").startswith("# model: ")
    suite.run(suite.models).assert_outcomes(passed=4)


def test_a_prompt_s_comparison_mode_forgives_drift_and_names_the_first_change(inner):
    prompts = [{**inner.FOUR_PROMPTS[0], "compare": "whitespace"}]
    inner.write_prompts(prompts)
    inner.pytester.makepyfile(test_outputs=inner.OUTPUT_TEST)
    inner.run("--snapshot-update").assert_outcomes(passed=1)
    stored = inner.snapshot_dir / "tiny" / "rag_principle.txt"
    text = stored.read_text(encoding="utf-8")
    assert "# compare: whitespace\n" in text
    header, body = text.split("---\n", 1)
    words = body.split()
    # Reflowed: one word a line.  Still the same answer under "whitespace".
    stored.write_text(header + "---\n" + "\n".join(words) + "\n", encoding="utf-8")
    inner.run().assert_outcomes(passed=1)
    # One word changed: a failure that names it.
    stored.write_text(header + "---\n" + " ".join(["CHANGED", *words[1:]]) + "\n", encoding="utf-8")
    changed = inner.run()
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(
        [f"*first difference at token 1: 'CHANGED' in the snapshot, {words[0]!r} now*"]
    )
