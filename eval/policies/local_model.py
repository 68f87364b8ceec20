"""A trained model (LoRA adapter or merged weights) served in-process by LLaMA-Factory.

Generation goes through LLaMA-Factory's own ``ChatModel`` with the run's template, so the
prompt ids are produced by exactly the template the model was trained with
(``qwen3_think``): the ``huggingface`` backend on the CPU, ``vllm`` on a GPU (concurrent
episodes' requests are then batched by vLLM's scheduler).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from eval.errors import EvalConfigError, PolicyError
from ordebug.observation import ObservationState
from ordebug.problems import Problem
from ordebug.prompts import user_message


def default_backend() -> str:
    """vllm when a CUDA GPU and vLLM are both present, else huggingface."""
    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover - torch comes with the train extra
        cuda = False
    return "vllm" if cuda and importlib.util.find_spec("vllm") is not None else "huggingface"


def register_templates() -> None:
    """Register the project's templates (qwen3_think) in LLaMA-Factory before a model loads."""
    try:
        from recipes import template as recipe_template
    except ImportError as exc:
        raise EvalConfigError(
            f"cannot import recipes.template ({exc})", fix="install the project with its train extra"
        ) from None
    register = getattr(recipe_template, "register", None) or getattr(
        recipe_template, "register_template", None
    )
    if register is None:
        raise EvalConfigError("recipes.template has no register()", fix="update the recipes package")
    register()


class LocalModelPolicy:
    """LLaMA-Factory ChatModel policy.

    Sampling defaults to greedy (temperature 0) so an evaluation is reproducible; every
    setting sent to the engine is recorded by ``config()``.
    """

    def __init__(
        self,
        *,
        model_path: str | Path,
        system: str | None,
        adapter_path: str | Path | None = None,
        template: str = "qwen3_think",
        finetuning_type: str = "lora",
        backend: str | None = None,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_new_tokens: int = 1024,
        seed: int = 0,
        multi_turn: bool = False,
        name: str | None = None,
        extra_args: dict[str, Any] | None = None,
    ) -> None:
        self.backend = backend or default_backend()
        if self.backend not in ("huggingface", "vllm"):
            raise EvalConfigError(f"unknown backend {self.backend!r}", fix="use huggingface or vllm")
        self.system = system
        self.multi_turn = multi_turn
        self.seed = seed
        self.args: dict[str, Any] = {
            "model_name_or_path": str(model_path),
            "template": template,
            "finetuning_type": finetuning_type,
            "infer_backend": self.backend,
            "temperature": temperature,
            "top_p": top_p,
            "max_new_tokens": max_new_tokens,
            "do_sample": temperature > 0,
            "trust_remote_code": True,
        }
        if adapter_path is not None:
            self.args["adapter_name_or_path"] = str(adapter_path)
        if self.backend == "vllm" and adapter_path is not None:
            self.args["vllm_max_lora_rank"] = vllm_lora_rank(Path(adapter_path))
        self.args.update(extra_args or {})
        self.name = name or f"model:{Path(model_path).name}"
        # LLaMA-Factory and transformers log every loading step at INFO; the progress bar matters more
        os.environ.setdefault("LLAMAFACTORY_VERBOSITY", "WARN")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        register_templates()
        _seed_everything(seed)
        from llamafactory.chat import ChatModel

        try:
            self.chat_model = ChatModel(dict(self.args))
        except (OSError, ValueError) as exc:
            raise PolicyError(f"LLaMA-Factory could not load {model_path}: {exc}") from None
        self.calls = 0
        self.tokens = {"prompt": 0, "completion": 0, "truncated": 0}
        self.example_prompt: str | None = None
        self.template_sha256 = _template_sha256(template)

    def config(self) -> dict[str, Any]:
        return {
            "kind": "llamafactory",
            "engine_args": dict(self.args),
            "generating_args": _json_safe(getattr(self.chat_model.engine, "generating_args", {})),
            "multi_turn": self.multi_turn,
            "seed": self.seed,
            "calls": self.calls,
            "tokens": dict(self.tokens),
            "template_sha256": self.template_sha256,
            "example_prompt": self.example_prompt,
        }

    def _remember_prompt(self, messages: list[dict[str, str]]) -> None:
        """Keep the first prompt as text (the template's Jinja face renders what LLaMA-Factory encodes)."""
        if self.example_prompt is not None or self.args["template"] != "qwen3_think":
            return
        from recipes.template import render_prompt

        system = [{"role": "system", "content": self.system}] if self.system else []
        self.example_prompt = render_prompt(system + messages)

    def messages(self, obs: str, history: list[dict[str, str]]) -> list[dict[str, str]]:
        msgs = list(history) if self.multi_turn else []
        msgs.append({"role": "user", "content": user_message(obs)})
        return msgs

    async def act(
        self, obs: str, state: ObservationState, history: list[dict[str, str]], *, problem: Problem
    ) -> str:
        messages = self.messages(obs, history)
        self._remember_prompt(messages)
        coro = self.chat_model.achat(messages, system=self.system)
        loop = getattr(self.chat_model, "_loop", None)
        # Why the ChatModel's own loop: its engines (vLLM's AsyncLLMEngine, the HF engine's
        # semaphore) are bound to it; wrap_future lets every episode wait without a thread.
        if loop is not None:
            responses = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))
        else:  # pragma: no cover - older LLaMA-Factory
            responses = await coro
        if not responses:
            raise PolicyError("the engine returned no response")
        r = responses[0]
        self.calls += 1
        self.tokens["prompt"] += r.prompt_length
        self.tokens["completion"] += r.response_length
        self.tokens["truncated"] += int(r.finish_reason == "length")
        return r.response_text

    def close(self) -> None:
        engine = getattr(self.chat_model, "engine", None)
        shutdown = getattr(getattr(engine, "model", None), "shutdown", None)
        if callable(shutdown) and self.backend == "vllm":
            shutdown()


#: LoRA ranks vLLM accepts for max_lora_rank.
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


def vllm_lora_rank(adapter: Path) -> int:
    """The smallest max_lora_rank vLLM accepts that fits the adapter's rank (LLaMA-Factory's default
    of 32 would refuse an r=64 ablation)."""
    try:
        r = int(json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8")).get("r", 8))
    except (OSError, ValueError):
        r = 8
    return next((v for v in VLLM_LORA_RANKS if v >= r), r)


def _template_sha256(template: str) -> str | None:
    """The qwen3_think Jinja hash (the manifest records the same at training time)."""
    if template != "qwen3_think":
        return None
    from recipes.template import template_sha256

    return template_sha256()


def _seed_everything(seed: int) -> None:
    try:
        from transformers import set_seed

        set_seed(seed)
    except ImportError:  # pragma: no cover
        pass


def _json_safe(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, (str, int, float, bool, type(None))) else str(v)) for k, v in d.items()}
