"""Child process: dequantize a GGUF into an fp32 Hugging Face checkpoint folder.

    python -m pytest_foundry.convert.dequantize MODEL.gguf OUT_DIR ARCHITECTURE

Run by ``steps.py`` in its own process, so torch and transformers (about 1.2 GB at
peak for SmolLM2) never load into the caller.  The heavy modules are imported through
importlib: they are optional, untyped for our purposes, and mypy must pass without them.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any


def dequantize(gguf: Path, out: Path, architecture: str) -> None:
    torch: Any = importlib.import_module("torch")
    transformers: Any = importlib.import_module("transformers")
    folder, name = str(gguf.parent), gguf.name
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    options: dict[str, Any] = {"gguf_file": name, "dtype": torch.float32}
    gguf_config = getattr(transformers, "GgufConfig", None)
    if gguf_config is not None:
        # transformers 5 can keep GGUF blocks packed; the builder needs plain weights.
        options["quantization_config"] = gguf_config(dequantize=True)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, **options)
    loaded = type(model).__name__
    if loaded != architecture:
        raise SystemExit(f"error: {gguf} loaded as {loaded}, expected {architecture}")
    # A GGUF-loaded model is flagged as quantized, and save_pretrained refuses it; its
    # weights are dense fp32 tensors by now, so the flag is dropped.
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config
    # The GGUF loader leaves architectures unset; the builder dispatches on it.
    model.config.architectures = [architecture]
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    dequantize(Path(argv[0]), Path(argv[1]), argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
