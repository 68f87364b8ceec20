"""From SFT to RL: GRPO prompts in the SFT data's own format, and a solver-verified reward.

* ``rl.export``  — ``make rl-data``: prompt JSONL (``prompt`` = [system, user] + the reward's columns)
  rendered by the same renderer, layout and system prompt as a given SFT dataset, split as it is.
* ``rl.reward``  — reward functions TRL's ``GRPOTrainer`` calls as they are, scored in Gurobi
  through ``ordebug``'s environment and ``ordebug.metrics``.
* ``rl.config``  — the reward weights and the GRPO run YAML, validated.
* ``rl.train``   — ``make rl``: TRL GRPO with a new LoRA on ``make export``'s merged model.

See docs/rl.md.
"""
