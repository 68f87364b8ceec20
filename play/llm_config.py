"""Settings of an OpenAI-compatible endpoint (teacher, model under test, summariser): env, YAML, defaults.

One configuration model for every chat endpoint the project calls; the teacher reads the
``ORDEBUG_TEACHER_*`` variables and eval the ``ORDEBUG_EVAL_*`` ones (``load_llm_config(prefix=…)``).

Precedence: explicit overrides (CLI) > environment > YAML config file > defaults. The API key is
only ever read from an environment variable (``ORDEBUG_TEACHER_API_KEY`` unless the config names
another with ``api_key_env``); it is held as a ``SecretStr`` and never dumped.

Environment variables (all optional except a base URL or a config file):

=============================== ===============================================================
ORDEBUG_TEACHER_CONFIG          path of a YAML file with the keys of ``LLMConfig`` below
ORDEBUG_TEACHER_BASE_URL        e.g. https://api.openai.com/v1, http://localhost:8000/v1 (vLLM)
ORDEBUG_TEACHER_API_KEY         the key (vLLM without --api-key: leave unset)
ORDEBUG_TEACHER_MODEL           model name as the server knows it
ORDEBUG_TEACHER_TEMPERATURE     sampling temperature (recorded in every trajectory)
ORDEBUG_TEACHER_SEED            sampling seed sent to the server (recorded)
ORDEBUG_TEACHER_MAX_TOKENS      completion token cap per call
ORDEBUG_TEACHER_TIMEOUT         per-call timeout in seconds
ORDEBUG_TEACHER_MAX_RETRIES     retries per call on 429/5xx/timeouts/connection errors
ORDEBUG_TEACHER_BUDGET_USD      stop cleanly once this much has been spent in one run
ORDEBUG_TEACHER_PRICE_INPUT     USD per 1M prompt tokens (overrides the config's price table)
ORDEBUG_TEACHER_PRICE_OUTPUT    USD per 1M completion tokens
=============================== ===============================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from foundation.redact import redact_url
from foundation.yaml_mapping import read_yaml_mapping
from ordebug.errors import OrDebugError

ENV_PREFIX = "ORDEBUG_TEACHER_"
DEFAULT_KEY_ENV = "ORDEBUG_TEACHER_API_KEY"
#: The prefix eval reads (``python -m eval --policy openai``): same keys, e.g. ORDEBUG_EVAL_BASE_URL.
EVAL_PREFIX = "ORDEBUG_EVAL_"


class ConfigError(OrDebugError):
    """The endpoint configuration is missing or invalid."""


class Price(BaseModel):
    """USD per one million tokens."""

    model_config = ConfigDict(extra="forbid")
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(
        None, ge=0, description="price of cached prompt tokens, if billed apart"
    )


class LLMConfig(BaseModel):
    """Everything needed to call one OpenAI-compatible chat endpoint."""

    model_config = ConfigDict(extra="forbid")
    base_url: str = Field(description="OpenAI-compatible base URL, ending in /v1 for most servers")
    model: str = Field(description="model name as the server knows it")
    api_key: SecretStr = Field(SecretStr("EMPTY"), exclude=True, description="from the environment only")
    api_key_env: str = Field(DEFAULT_KEY_ENV, description="environment variable holding the API key")
    temperature: float = Field(0.7, ge=0)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = 0
    max_tokens: int | None = Field(4096, gt=0)
    timeout_s: float = Field(120.0, gt=0, description="per-call timeout")
    max_retries: int = Field(6, ge=0, description="retries per call (429, 5xx, timeouts, connection errors)")
    backoff_base_s: float = Field(1.0, gt=0, description="first backoff; doubles each retry, with jitter")
    backoff_max_s: float = Field(60.0, gt=0, description="cap on one backoff sleep")
    retry_after_max_s: float = Field(300.0, gt=0, description="cap on a server's Retry-After")
    budget_usd: float | None = Field(None, gt=0, description="stop cleanly once this much was spent")
    prices: dict[str, Price] = Field(default_factory=dict, description="model name -> price per 1M tokens")
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="sent as-is, e.g. {chat_template_kwargs: {enable_thinking: true}}"
    )

    def price(self) -> Price | None:
        return self.prices.get(self.model)

    def public(self) -> dict[str, Any]:
        """JSON-safe settings to record beside results: never the key, no credentials in the URL."""
        data = self.model_dump(mode="json", exclude={"api_key", "prices", "api_key_env"})
        data["base_url"] = redact_url(self.base_url)
        price = self.price()
        data["price_per_1m"] = price.model_dump() if price else None
        return data


_ENV_FIELDS: dict[str, str] = {
    "BASE_URL": "base_url",
    "MODEL": "model",
    "TEMPERATURE": "temperature",
    "SEED": "seed",
    "MAX_TOKENS": "max_tokens",
    "TIMEOUT": "timeout_s",
    "MAX_RETRIES": "max_retries",
    "BUDGET_USD": "budget_usd",
}


def teacher_configured(environ: Mapping[str, str] | None = None) -> bool:
    """True when the environment names a teacher endpoint (base URL or config file)."""
    env = os.environ if environ is None else environ
    return bool(env.get(ENV_PREFIX + "BASE_URL") or env.get(ENV_PREFIX + "CONFIG"))


def load_llm_config(
    path: str | os.PathLike | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
    prefix: str = ENV_PREFIX,
    who: str = "teacher",
) -> LLMConfig:
    """Resolve the endpoint settings; raise ConfigError naming the key and the fix.

    ``prefix`` names the environment variables (``ORDEBUG_TEACHER_`` or ``ORDEBUG_EVAL_``); the API
    key is read from ``<prefix>API_KEY`` unless the config names another ``api_key_env``.
    ``defaults`` replace LLMConfig's own defaults (lowest precedence: YAML, environment and
    ``overrides`` win).
    """
    env = os.environ if environ is None else environ
    default_key_env = prefix + "API_KEY"
    source = "environment"
    data: dict[str, Any] = dict(defaults or {})
    path = path or env.get(prefix + "CONFIG") or None
    if path:
        source = str(path)
        data.update(_read_yaml(Path(path), prefix))
    for suffix, key in _ENV_FIELDS.items():
        value = env.get(prefix + suffix)
        if value not in (None, ""):
            data[key] = value
    price_in, price_out = env.get(prefix + "PRICE_INPUT"), env.get(prefix + "PRICE_OUTPUT")
    if price_in or price_out:
        if not (price_in and price_out):
            raise ConfigError(
                f"set both {prefix}PRICE_INPUT and {prefix}PRICE_OUTPUT (USD per 1M tokens), or neither"
            )
        model = (overrides or {}).get("model") or data.get("model", "")
        data.setdefault("prices", {})[model] = {"input": price_in, "output": price_out}
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    for key in ("base_url", "model"):
        if not data.get(key):
            env_name = prefix + key.upper()
            raise ConfigError(
                f"{who} {key} is not set ({source}); export {env_name}=… or put `{key}:` in the YAML "
                f"named by {prefix}CONFIG"
            )
    data.setdefault("api_key_env", default_key_env)
    key_env = str(data["api_key_env"])
    key = env.get(key_env)
    try:
        config = LLMConfig.model_validate({**data, "api_key": key or "EMPTY"})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{source}: key {loc!r}: {first['msg']} (got {first.get('input')!r})") from None
    if config.budget_usd is not None and config.price() is None:
        raise ConfigError(
            f"a budget of ${config.budget_usd} needs a price for model {config.model!r}: add it under "
            f"`prices:` in the config or set {prefix}PRICE_INPUT/{prefix}PRICE_OUTPUT"
        )
    return config


def _read_yaml(path: Path, prefix: str = ENV_PREFIX) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"endpoint config {path} does not exist; fix {prefix}CONFIG or --teacher-config")
    data = read_yaml_mapping(path, error=ConfigError, fix="write the endpoint settings as `key: value` lines")
    if "api_key" in data:
        raise ConfigError(
            f"{path}: key 'api_key': keys are never read from files; export it in an environment "
            f"variable and name that variable with `api_key_env:` (default {prefix}API_KEY)"
        )
    return data
