"""Moved to ``play.llm`` (one LLM client for collection and evaluation); kept so old imports work."""

from play.llm import BudgetExceeded, ChatResult, LLMCallError, LLMClient, retry_after_seconds

__all__ = ["BudgetExceeded", "ChatResult", "LLMCallError", "LLMClient", "retry_after_seconds"]
