"""The observation layouts, named once: what the renderer draws, the prompts pair with, and every
CLI's ``--layout`` offers (collectors, converters.sft, eval)."""

from __future__ import annotations

from typing import Literal, get_args

#: ``legacy`` reproduces OR-Debug-Bench's legacy ``input`` text exactly; ``rich`` adds the IIS algebra,
#: bounds and the action history (ordebug/observation.py).
Layout = Literal["legacy", "rich"]
LAYOUTS: tuple[str, ...] = get_args(Layout)
DEFAULT_LAYOUT: Layout = "legacy"
