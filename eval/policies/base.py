"""The Policy protocol: ``play.policy`` (one protocol for collection and evaluation).

Scripted agents, an OpenAI-compatible endpoint and a local model served by LLaMA-Factory all fit
without inheriting from anything. The runner parses the answer with ``ordebug.answer``; a policy
never executes anything and never sees the solver directly.
"""

from __future__ import annotations

from play.policy import Policy, close_policy

__all__ = ["Policy", "close_policy"]
