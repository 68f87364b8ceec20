"""Merge a run's LoRA adapter into a full model that carries the qwen3_think chat template.

    python -m recipes.export --run runs/qwen3_lora_sft [--out DIR] [--device cpu|auto]

The merged model (default `<run>/merged/`) loads with plain transformers or vLLM, and its
tokenizer's chat template is the Jinja face of the template it trained with, so serving
renders exactly the training text. A full-fine-tuning run is already a full model: its
final directory is checked and reported, nothing is copied.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from foundation.atomic import share_private_files, write_atomic
from foundation.cli import cli_main
from recipes.errors import RecipeError, RunDirError
from recipes.paths import from_repo
from recipes.rundir import read_manifest


def export_run(run_dir: str | Path, out_dir: str | Path | None = None, *, device: str = "cpu") -> Path:
    """Merge the final adapter of a finished run into `out_dir`; returns the model directory."""
    run = from_repo(run_dir)
    manifest = read_manifest(run)
    if manifest is None:
        raise RunDirError(f"{run}: no manifest.json; pass a run directory written by `make train`")
    if manifest.get("status") != "finished":
        raise RunDirError(f"{run}: the run is {manifest.get('status')}, not finished; RESUME=1 finishes it first")
    final = Path(manifest["final_model_dir"])
    template = manifest.get("template", {}).get("name")
    if manifest.get("finetuning_type", "lora") != "lora":
        if not (final / "config.json").is_file():
            raise RunDirError(f"{final}: no config.json; the run's final model is missing")
        print(f"{run} is a {manifest.get('finetuning_type')} fine-tuning run: {final} is already a full model")
        return final
    if not (final / "adapter_config.json").is_file():
        raise RunDirError(f"{final}: no adapter_config.json; the run's final adapter is missing")
    out = from_repo(out_dir) if out_dir else run / "merged"
    args: dict[str, Any] = {
        "model_name_or_path": manifest["base_model"],
        "adapter_name_or_path": str(final),
        "finetuning_type": "lora",
        "template": template,
        "export_dir": str(out),
        "export_size": 5,
        "export_device": device,
        "trust_remote_code": False,
    }
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from recipes.template import NAME, chat_template, register, template_sha256

    register()
    from llamafactory.train.tuner import export_model

    export_model(args)
    share_private_files(out)  # safetensors writes 0600; the merged model is shared like any build output
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out)
    if template == NAME and tokenizer.chat_template != chat_template():
        raise RecipeError(f"{out}: the exported tokenizer does not carry the {NAME} chat template")
    info = {"run_dir": str(run), "adapter": str(final), "base_model": manifest["base_model"], "template": template,
            "template_sha256": template_sha256() if template == NAME else None}
    write_atomic(out / "export.json", json.dumps(info, indent=2) + "\n")
    return out


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recipes.export", description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a finished run directory (runs/<name>)")
    parser.add_argument("--out", help="where to write the merged model (default <run>/merged)")
    parser.add_argument("--device", choices=("cpu", "auto"), default="cpu",
                        help="merge on the CPU (default, needs RAM for the whole model) or on GPUs (auto)")
    opts = parser.parse_args(argv)
    out = export_run(opts.run, opts.out, device=opts.device)
    print(f"exported {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
