"""`pytest-foundry convert` errors: one line on stderr, exit status 2, before any slow step."""

from __future__ import annotations

import importlib.machinery
from pathlib import Path

import pytest
from convert_factory import llama_metadata, write_gguf

from pytest_foundry import cli
from pytest_foundry.convert import extra
from pytest_foundry.convert.errors import MissingExtra

NO_SUCH = ("pytest_foundry_no_such_module", "no-such-package")


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(["convert", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("pytest-foundry: error: ")
    return lines[0]


def test_convert_is_a_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["convert", "--help"])
    assert "--context" in capsys.readouterr().out


def test_unsupported_architecture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gguf = write_gguf(tmp_path / "t5.gguf", llama_metadata(**{"general.architecture": "t5"}))
    status, out, err = run_cli(capsys, str(gguf), "--output", str(tmp_path / "out"))
    assert status == 2
    assert "unsupported architecture 't5'" in one_error_line(err)
    assert out == ""
    assert not (tmp_path / "out").exists()


def test_corrupt_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gguf = write_gguf(tmp_path / "m.gguf", tensors=[("w", (64,), 0, bytes(256))])
    gguf.write_bytes(gguf.read_bytes()[:-64])
    status, _, err = run_cli(capsys, str(gguf), "--output", str(tmp_path / "out"))
    assert status == 2
    assert "truncated GGUF file" in one_error_line(err)


def test_output_not_empty_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gguf = write_gguf(tmp_path / "m.gguf")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    status, _, err = run_cli(capsys, str(gguf), "--output", str(out))
    assert status == 2
    assert "exists and is not empty (use --force to replace it)" in one_error_line(err)
    assert (out / "keep.txt").read_text() == "mine"


def test_output_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gguf = write_gguf(tmp_path / "m.gguf")
    (tmp_path / "out").write_text("x")
    status, _, err = run_cli(capsys, str(gguf), "--output", str(tmp_path / "out"), "--force")
    assert status == 2
    assert "exists and is not a folder" in one_error_line(err)


def test_base_model_without_chat_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gguf = write_gguf(tmp_path / "base.gguf", llama_metadata(**{"tokenizer.chat_template": ""}))
    status, _, err = run_cli(capsys, str(gguf), "--output", str(tmp_path / "out"))
    assert status == 2
    assert "no chat template" in one_error_line(err)
    assert "--chat-template FILE" in err


def test_context_longer_than_the_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gguf = write_gguf(tmp_path / "m.gguf")  # context_length 4096
    status, _, err = run_cli(capsys, str(gguf), "--output", str(tmp_path / "out"), "--context", "8192")
    assert status == 2
    assert "--context 8192 is longer than the model's context of 4096" in one_error_line(err)


def test_unreadable_chat_template_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gguf = write_gguf(tmp_path / "m.gguf")
    missing = str(tmp_path / "none.jinja")
    status, _, err = run_cli(capsys, str(gguf), "--output", str(tmp_path / "o"), "--chat-template", missing)
    assert status == 2
    assert "cannot read the chat template" in one_error_line(err)


def test_missing_extra_names_the_package_and_the_pip_command() -> None:
    with pytest.raises(MissingExtra) as raised:
        extra.check_extra([("json", "json"), NO_SUCH])
    assert str(raised.value) == (
        "convert needs the [convert] extra; missing: no-such-package "
        "(install: pip install 'pytest-foundry[convert]')"
    )


def test_onnxruntime_genai_without_its_builder_counts_as_missing(tmp_path: Path) -> None:
    # onnxruntime-genai-core (what foundry-local-sdk installs) has no models/builder.py.
    (tmp_path / "onnxruntime_genai").mkdir()

    spec = importlib.machinery.ModuleSpec("onnxruntime_genai", None, is_package=True)
    spec.submodule_search_locations = [str(tmp_path / "onnxruntime_genai")]

    assert extra.missing_modules([("onnxruntime_genai", "onnxruntime-genai")], lambda _: spec) == [
        "onnxruntime-genai"
    ]
    (tmp_path / "onnxruntime_genai" / "models").mkdir()
    (tmp_path / "onnxruntime_genai" / "models" / "builder.py").write_text("")
    assert extra.missing_modules([("onnxruntime_genai", "onnxruntime-genai")], lambda _: spec) == []


def test_missing_extra_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where the extra is installed, add a module that is not, so the check is exercised.
    monkeypatch.setattr(extra, "REQUIRED", (*extra.REQUIRED, NO_SUCH))
    gguf = write_gguf(tmp_path / "m.gguf")
    status, _, err = run_cli(capsys, str(gguf), "--output", str(tmp_path / "out"))
    assert status == 2
    line = one_error_line(err)
    assert "missing: " in line
    assert "no-such-package" in line
    assert "pip install 'pytest-foundry[convert]'" in line
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gguf"]
