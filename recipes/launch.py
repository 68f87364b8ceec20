"""How a recipe is launched: one process, or torchrun of the project's own entry module.

LLaMA-Factory's `llamafactory-cli train` relaunches itself under torchrun for more than one GPU
and runs its own launcher module in every rank, so a template registered by a wrapper script is
lost there. Here the ranks run `recipes._entry`, which registers `qwen3_think` first. The same
variables LLaMA-Factory honours are passed through: FORCE_TORCHRUN, NPROC_PER_NODE, NNODES,
NODE_RANK, MASTER_ADDR, MASTER_PORT.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TRUE = ("1", "true", "yes", "on")


def env_flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in _TRUE


@dataclass(frozen=True)
class Hardware:
    gpus: int
    gpu_names: tuple[str, ...] = ()
    bf16_gpu: bool = False

    @staticmethod
    def detect() -> Hardware:
        import torch

        n = torch.cuda.device_count()  # no CUDA context is created by counting
        if n == 0:
            return Hardware(0)
        # Names and bf16 support come from a child process: a CUDA context in this (launching) process
        # would hold GPU memory for the whole torchrun job.
        code = ("import json, torch; print(json.dumps([[torch.cuda.get_device_name(i) for i in "
                "range(torch.cuda.device_count())], bool(torch.cuda.is_bf16_supported())]))")
        out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300)
        try:
            names, bf16 = json.loads(out.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return Hardware(n, ("GPU (CUDA failed to initialise)",) * n, False)
        return Hardware(len(names), tuple(names), bool(bf16))


@dataclass(frozen=True)
class LaunchPlan:
    mode: str  # "in_process" | "torchrun"
    nproc_per_node: int
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int | None = None
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def world_size(self) -> int:
        return self.nproc_per_node * self.nnodes

    def argv(self, args_file: Path) -> list[str]:
        """The exact command that trains one phase."""
        entry = [sys.executable, "-m", "recipes._entry", str(args_file)]
        if self.mode == "in_process":
            return entry
        port = self.master_port if self.master_port is not None else 29500
        # torchrun itself, through a wrapper that records which rank failed and how (recipes/_torchrun.py)
        return [sys.executable, "-m", "recipes._torchrun",
                "--nnodes", str(self.nnodes), "--node_rank", str(self.node_rank),
                "--nproc_per_node", str(self.nproc_per_node),
                "--master_addr", self.master_addr, "--master_port", str(port), *entry[1:]]

    def command_line(self, args_file: Path, env: Mapping[str, str]) -> str:
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        return (prefix + " " if prefix else "") + shlex.join(self.argv(args_file))


def rank_failure_message(failures: list[dict[str, Any]]) -> str:
    """One line naming the rank that failed first and how (rows from recipes._torchrun)."""
    if not failures:
        return "a rank failed before torchrun could say which (the ranks' output is above)"
    first = failures[0]
    if first.get("signal"):
        why = " (out of memory?)" if first["signal"] == "SIGKILL" else ""
        text = f"rank {first['rank']} was killed{why} by {first['signal']}"
    else:
        text = f"rank {first['rank']} failed with exit code {first['exitcode']} (its traceback is above)"
    others = [str(f["rank"]) for f in failures[1:] if f.get("signal") != "SIGTERM"]  # SIGTERM: stopped by torchrun
    text += f" (rank(s) {', '.join(others)} failed too)" if others else ""
    return text + "; torchrun stopped the other ranks"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def plan_launch(args: Mapping[str, Any], expected_gpus: int | None, hardware: Hardware,
                env: Mapping[str, str] | None = None) -> LaunchPlan:
    """Decide one process or torchrun, and with how many processes (no side effects)."""
    env = os.environ if env is None else env
    use_cpu = bool(args.get("use_cpu"))
    nnodes = int(env.get("NNODES", "1") or 1)
    reasons: list[str] = []
    if env.get("NPROC_PER_NODE"):
        nproc = int(env["NPROC_PER_NODE"])
        reasons.append(f"NPROC_PER_NODE={nproc}")
    elif use_cpu:
        nproc = 1
    elif expected_gpus:
        nproc = expected_gpus
        reasons.append(f"recipe expects gpus: {expected_gpus}")
    else:
        nproc = max(hardware.gpus, 1)
    torchrun = False
    if env_flag(env, "FORCE_TORCHRUN"):
        torchrun = True
        reasons.append("FORCE_TORCHRUN=1")
    if nproc > 1 or nnodes > 1:
        torchrun = True
    if args.get("deepspeed"):
        torchrun = True
        reasons.append("DeepSpeed needs a distributed launch")
    if not use_cpu and hardware.gpus > 1 and not torchrun:
        torchrun = True  # one process seeing several GPUs would run DataParallel, which LLaMA-Factory refuses
        reasons.append(f"{hardware.gpus} GPUs visible")
    port = env.get("MASTER_PORT")
    return LaunchPlan(
        mode="torchrun" if torchrun else "in_process",
        nproc_per_node=nproc,
        nnodes=nnodes,
        node_rank=int(env.get("NODE_RANK", "0") or 0),
        master_addr=env.get("MASTER_ADDR", "127.0.0.1"),
        master_port=int(port) if port else None,
        reasons=tuple(reasons),
    )
