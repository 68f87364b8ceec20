"""Any OpenAI-compatible chat endpoint as a policy (a vLLM server, OpenAI, a gateway).

It is ``play.chat.ChatPolicy`` — the collectors' teacher class — configured for eval: settings
from CLI options or the ``ORDEBUG_EVAL_*`` environment (``ORDEBUG_EVAL_BASE_URL``,
``ORDEBUG_EVAL_MODEL``, ``ORDEBUG_EVAL_API_KEY``, and every other key of ``play.llm_config``), the
dataset's system prompt, and every failure recorded with its episode (a wrong key does not stop
the run). A base model, a teacher and a served fine-tune are thus scored on the same footing as
the in-process model. The key is read from the environment only and never recorded.
"""

from __future__ import annotations

import os
from typing import Any

from eval.errors import EvalConfigError
from play.answers import merge_reasoning
from play.chat import ChatPolicy
from play.llm import LLMClient
from play.llm_config import EVAL_PREFIX, ConfigError, load_llm_config, redact_url

ENV_BASE_URL = EVAL_PREFIX + "BASE_URL"
ENV_API_KEY = EVAL_PREFIX + "API_KEY"
ENV_MODEL = EVAL_PREFIX + "MODEL"

#: eval's own defaults where they differ from a teacher's (ORDEBUG_EVAL_* and the CLI override them):
#: fewer, shorter retries — a model under test answers a held-out set, not a long paid collection.
EVAL_DEFAULTS = {"max_retries": 3, "backoff_base_s": 0.5, "backoff_max_s": 8.0}

__all__ = ["ENV_API_KEY", "ENV_BASE_URL", "ENV_MODEL", "OpenAIPolicy", "merge_reasoning", "redact_url"]


# a function with a class-like name: what eval has always built its endpoint policy with
def OpenAIPolicy(
    *,
    system: str | None,
    base_url: str | None = None,
    model: str | None = None,
    temperature: float = 0.0,
    top_p: float | None = None,
    max_tokens: int | None = 2048,
    seed: int | None = 0,
    timeout_s: float | None = None,
    max_retries: int | None = None,
    multi_turn: bool = False,
    extra_body: dict[str, Any] | None = None,
) -> ChatPolicy:
    """The eval endpoint policy; EvalConfigError naming the option and variable when one is missing."""
    if not (base_url or os.environ.get(ENV_BASE_URL) or os.environ.get(EVAL_PREFIX + "CONFIG")):
        raise EvalConfigError(
            "the openai policy needs an endpoint", fix=f"pass --base-url URL or set {ENV_BASE_URL}"
        )
    overrides = {
        "base_url": base_url,
        "model": model,
        "temperature": temperature,
        "top_p": top_p,
        "max_tokens": max_tokens,
        "seed": seed,
        "timeout_s": timeout_s,
        "max_retries": max_retries,
        "extra_body": extra_body,
    }
    try:
        config = load_llm_config(
            overrides=overrides, defaults=EVAL_DEFAULTS, prefix=EVAL_PREFIX, who="openai policy"
        )
    except ConfigError as exc:
        raise EvalConfigError(
            str(exc), fix=f"pass --base-url/--model or set {ENV_BASE_URL}/{ENV_MODEL}"
        ) from None
    sampling = {
        "temperature": config.temperature,
        "top_p": config.top_p,
        "max_tokens": config.max_tokens,
        "seed": config.seed,
    }
    return ChatPolicy(
        LLMClient(config),
        system=system,
        name=f"openai:{config.model}",
        multi_turn=multi_turn,
        stop_on_fatal=False,  # eval records a refused call with its episode, as for any policy failure
        describe={
            "kind": "openai",
            "sampling": sampling,
            "multi_turn": multi_turn,
            "merge_reasoning_content": True,
        },
    )
