"""The RL YAMLs, validated: reward weights (``rl/configs/reward.yaml``) and the GRPO run.

A GRPO run YAML holds TRL ``GRPOConfig`` keys plus a few of ours (``model``, ``data``,
``reward``, ``lora``); every key is checked before a model loads, and every problem is listed at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from foundation.paths import from_repo
from rl.errors import RLError

CONFIGS = Path(__file__).resolve().parent / "configs"
DEFAULT_REWARD = CONFIGS / "reward.yaml"


class RewardConfig(BaseModel):
    """Weights of the reward terms, the score of a syntax error, the per-call time limit."""

    model_config = ConfigDict(extra="forbid")
    format: float = 0.5
    outcome: float = 1.0
    op: float = 0.5
    fp: float = 0.25
    diagnosis: float = 0.5
    syntax_error: float = -1.0
    time_limit_s: float = Field(10.0, gt=0)
    workers: int = Field(2, ge=0, description="reward processes; 0 scores in this process (tests, debugging)")


class LoraSettings(BaseModel):
    """The new LoRA GRPO trains on the merged SFT model (PEFT LoraConfig keys)."""

    model_config = ConfigDict(extra="forbid")
    r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )


class GrpoRun(BaseModel):
    """A GRPO run: our keys, and ``grpo`` = TRL GRPOConfig keys (checked by GRPOConfig itself)."""

    model_config = ConfigDict(extra="forbid")
    model: str = Field(description="the merged SFT model folder (`make export` writes <run>/merged)")
    data: str = Field(description="prompt JSONL from `make rl-data`")
    reward: str = Field(str(DEFAULT_REWARD), description="reward weights YAML")
    lora: LoraSettings | None = Field(default_factory=LoraSettings, description="null: train all weights")
    grpo: dict[str, Any] = Field(default_factory=dict)


def _load_yaml(path: str | Path) -> dict[str, Any]:
    p = from_repo(path)
    if not p.is_file():
        raise RLError(f"no such file: {p}", fix="pass an existing YAML (rl/configs/ has examples)")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise RLError(f"{p}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise RLError(f"{p}: expected a mapping of keys, got {type(data).__name__}")
    return data


def _validated(model: type[BaseModel], data: dict[str, Any], where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise RLError(problems, where=where, fix="fix or remove these keys") from None


def load_reward_config(path: str | Path = DEFAULT_REWARD) -> RewardConfig:
    return _validated(RewardConfig, _load_yaml(path), str(path))


def load_run(path: str | Path, overrides: dict[str, Any] | None = None) -> GrpoRun:
    """The run YAML with ``overrides`` (``model``/``data``/``reward`` or ``grpo.<key>``) applied."""
    data = _load_yaml(path)
    for key, value in (overrides or {}).items():
        if key.startswith("grpo."):
            data.setdefault("grpo", {})[key[5:]] = value
        else:
            data[key] = value
    return _validated(GrpoRun, data, str(path))
