"""Moved to ``play.llm_config`` (one endpoint configuration model); kept so old imports work."""

from play.llm_config import (
    DEFAULT_KEY_ENV,
    ENV_PREFIX,
    ConfigError,
    LLMConfig,
    Price,
    load_llm_config,
    redact_url,
    teacher_configured,
)

__all__ = [
    "DEFAULT_KEY_ENV",
    "ENV_PREFIX",
    "ConfigError",
    "LLMConfig",
    "Price",
    "load_llm_config",
    "redact_url",
    "teacher_configured",
]
