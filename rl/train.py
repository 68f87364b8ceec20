"""``make rl``: GRPO with TRL on the merged SFT model, a new LoRA, the solver-verified reward.

    python -m rl.train --config rl/configs/grpo_qwen3.yaml [--set model=runs/x/merged data=data/rl/x/train.jsonl
                                                            grpo.max_steps=10 ...]

Setup (validate every key, load prompts and the model), train (TRL's ``GRPOTrainer``, single-step:
one completion = one action, scored by ``rl.reward.SolverReward``), save (adapter, resolved config,
``log_history.json``), cleanup (the reward's worker processes).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from foundation.cli import cli_main
from foundation.paths import from_repo
from rl.config import GrpoRun, load_run
from rl.errors import RLError
from rl.reward import SolverReward


def _overrides(pairs: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise RLError(f"overrides must be in the form key=value, got {pair!r}", fix="e.g. grpo.max_steps=10")
        out[key] = yaml.safe_load(value)
    return out


def fix_trl_flags() -> None:
    """TRL 0.24 reads ``transformers``' ``_is_package_available(name)`` as a bool, but transformers 5
    returns ``(available, version)``, a tuple that is always true: TRL then imports optional packages
    that are absent (``mergekit`` first) and GRPOTrainer fails to import. Keep the bool."""
    import trl.import_utils as flags

    for name, value in list(vars(flags).items()):
        if name.startswith("_") and name.endswith("_available") and isinstance(value, tuple):
            setattr(flags, name, bool(value[0]))


def grpo_args(run: GrpoRun, *, dry_run: bool = False) -> Any:
    """TRL's GRPOConfig from the YAML's ``grpo`` keys (an unknown key names itself)."""
    fix_trl_flags()
    from trl import GRPOConfig

    known = set(GRPOConfig.__dataclass_fields__)
    unknown = sorted(set(run.grpo) - known)
    if unknown:
        import difflib

        hints = [f"{k} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(k, known, 1)) else k for k in unknown]
        raise RLError(f"grpo: unknown GRPOConfig keys {', '.join(hints)}", fix="use TRL 0.24 GRPOConfig names")
    keys = dict(run.grpo)
    if dry_run and not _has_gpu() and (keys.get("bf16") or keys.get("fp16")):
        # machine-dependent: a login node without a GPU validates the rest; the launch decides
        print("warning: bf16/fp16 need a GPU this machine lacks; validated with them off (training here would fail)")
        keys["bf16"] = keys["fp16"] = False
    try:
        return GRPOConfig(**keys)
    except ValueError as exc:
        raise RLError(f"grpo: {exc}", fix="fix the grpo keys of the run YAML") from None


def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def train(run: GrpoRun) -> dict[str, Any]:
    """Run GRPO; returns TRL's log history (loss, reward mean and std per step)."""
    fix_trl_flags()
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOTrainer

    model, data = from_repo(run.model), from_repo(run.data)
    if not (model / "config.json").is_file():
        raise RLError(f"model {model} has no config.json", fix="pass the folder `make export RUN=...` wrote (<run>/merged)")
    if not data.is_file():
        raise RLError(f"no prompt file {data}", fix="write one with `make rl-data`")
    args = grpo_args(run)
    dataset = load_dataset("json", data_files=str(data), split="train")
    peft_config = LoraConfig(task_type="CAUSAL_LM", **run.lora.model_dump()) if run.lora else None
    reward = SolverReward(run.reward)
    try:
        policy = AutoModelForCausalLM.from_pretrained(str(model), dtype="auto")
        # TRL 0.24 writes model.warnings_issued[...], a dict transformers 5 models no longer carry
        policy.warnings_issued = getattr(policy, "warnings_issued", {})
        tokenizer = AutoTokenizer.from_pretrained(str(model))
        trainer = GRPOTrainer(model=policy, reward_funcs=[reward], args=args, train_dataset=dataset,
                              processing_class=tokenizer, peft_config=peft_config)  # fmt: skip
        trainer.train()
        trainer.save_model(args.output_dir)
    finally:
        reward.close()
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "rl_config.json").write_text(json.dumps(run.model_dump(), indent=2) + "\n", encoding="utf-8")
    history = trainer.state.log_history
    (out / "log_history.json").write_text(json.dumps(history, indent=2) + "\n", encoding="utf-8")
    return {"log_history": history, "output_dir": str(out)}


@cli_main
def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rl.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, help="GRPO run YAML (rl/configs/)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override model/data/reward or grpo.<key>")
    p.add_argument("--dry-run", action="store_true", help="validate the config and exit")
    args = p.parse_args(argv)
    run = load_run(args.config, _overrides(args.set))
    grpo_args(run, dry_run=args.dry_run)
    if args.dry_run:
        print(f"ok: {args.config} (model {run.model}, data {run.data}, reward {run.reward})")
        return 0
    result = train(run)
    for entry in result["log_history"]:
        if "loss" in entry:
            print({k: entry[k] for k in ("step", "loss", "reward", "reward_std") if k in entry})
    print(f"-> {result['output_dir']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
