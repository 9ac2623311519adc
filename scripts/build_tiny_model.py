"""Build the tiny ONNX Runtime GenAI chat model that pytest-foundry embeds.

The model has random weights and a tokenizer trained on the inline text below, so it
builds offline in seconds and answers in milliseconds.  Its output is gibberish, but
deterministic at temperature 0, which is all the plugin's own tests and the default
benchmark suite need.

Build-only dependencies (never runtime dependencies of the plugin):

    pip install torch==2.13.0 transformers tokenizers onnx onnx-ir \
        onnxruntime==1.31.0 onnxruntime-genai==0.18.0

Usage:

    python scripts/build_tiny_model.py --out pytest_foundry/runtime/models/tiny
    python scripts/build_tiny_model.py --seed 7 --out tests/models/tiny-b

A rebuild with the same arguments is byte-identical (checked by ``--check``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Training text for the tokenizer: the workshop's prompts plus a little prose, so the
# vocabulary holds real English fragments and prompts tokenize into few tokens.
CORPUS = """\
Explain the principle of retrieval augmented generation in 2 sentences.
List 3 privacy benefits of local inference.
Summarize why model size impacts latency on consumer hardware.
Provide two scenarios where an SLM is preferable to an LLM.
Summarize retrieval augmented generation. Explain when to choose an SLM over an LLM.
Local models keep data on the device, answer without a network and cost nothing per token.
A small language model loads fast, uses little memory and runs on a laptop or an edge box.
Meeting notes: the team agreed to ship the offline summariser next sprint; Ana owns the
release checklist, Ben fixes the latency regression, and the demo moves to Friday.
Return a JSON object with the keys title, owners and decisions.
The quick brown fox jumps over the lazy dog. 0123456789 + - * / = ( ) [ ] { } , . ; : ! ?
"""

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
VOCAB_SIZE = 512


def _train_tokenizer(hf_dir: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS.splitlines(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        unk_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(hf_dir)


def _build_hf_model(hf_dir: Path, seed: int, hidden: int, layers: int, ffn: int) -> None:
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(hf_dir)
    vocab = len(tokenizer)
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=ffn,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    )
    model = Qwen2ForCausalLM(config).eval()
    # Only printable ASCII tokens may win a greedy step: specials (EOS included) and
    # byte tokens that decode to control or non-ASCII characters get a zero output row,
    # so greedy output is readable text that always runs to max_tokens.
    with torch.no_grad():
        for token_id in range(vocab):
            text = tokenizer.decode([token_id])
            printable = token_id not in tokenizer.all_special_ids and all(32 <= ord(ch) < 127 for ch in text)
            if not printable or not text:
                model.lm_head.weight[token_id].zero_()
    model.save_pretrained(hf_dir)


def _fix_tokenizer_files(out_dir: Path) -> None:
    """ONNX Runtime GenAI needs a known tokenizer class and the template in the config."""
    config_path = out_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    # transformers 5 writes its own bookkeeping keys; keep the file to what GenAI reads.
    for key in ("backend", "is_local", "local_files_only"):
        config.pop(key, None)
    config["tokenizer_class"] = "Qwen2Tokenizer"
    config["chat_template"] = CHAT_TEMPLATE
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    stray = out_dir / "chat_template.jinja"
    if stray.exists():
        stray.unlink()


def build(out_dir: Path, seed: int, hidden: int = 64, layers: int = 2, ffn: int = 128) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        hf_dir = Path(tmp) / "hf"
        onnx_dir = Path(tmp) / "onnx"
        cache_dir = Path(tmp) / "cache"
        _train_tokenizer(hf_dir)
        _build_hf_model(hf_dir, seed, hidden, layers, ffn)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "onnxruntime_genai.models.builder",
                "-i",
                str(hf_dir),
                "-o",
                str(onnx_dir),
                "-p",
                "fp32",
                "-e",
                "cpu",
                "-c",
                str(cache_dir),
            ],
            check=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        _fix_tokenizer_files(onnx_dir)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(onnx_dir, out_dir)


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output model folder")
    parser.add_argument("--seed", type=int, default=0, help="weight seed (another seed, another model)")
    # A bigger (still random) model for benchmarks that need milliseconds per token,
    # e.g. --hidden 256 --layers 4 --ffn 1024 (~17 MB); never committed.
    parser.add_argument("--hidden", type=int, default=64, help="hidden size (4 heads, 2 KV heads)")
    parser.add_argument("--layers", type=int, default=2, help="decoder layers")
    parser.add_argument("--ffn", type=int, default=128, help="feed-forward size")
    parser.add_argument(
        "--check",
        action="store_true",
        help="build into a temporary folder and fail unless it is byte-identical to --out",
    )
    args = parser.parse_args()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = Path(tmp) / "model"
            build(fresh, args.seed, args.hidden, args.layers, args.ffn)
            same = tree_digest(fresh) == tree_digest(args.out)
            print(f"{args.out}: {'byte-identical' if same else 'DIFFERS from a fresh build'}")
            return 0 if same else 1
    build(args.out, args.seed, args.hidden, args.layers, args.ffn)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"built {args.out} ({size / 1024:.0f} KiB, sha256 {tree_digest(args.out)[:16]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
