"""Evaluation harness: a policy plays held-out problems in Gurobi; every step and episode is scored.

CLI: ``python -m eval`` (eval/cli.py) and ``python -m eval.report`` (ablation table).
Library: ``eval.harness.evaluate_policy(policy, problems, EvalOptions(...)) -> eval.schema.Results``
and ``eval.harness.write_outputs(results, out_dir)``; any object with ``name``, ``config()`` and
``async act(obs, state, history, *, problem) -> str`` is a policy (eval/policies/base.py).
"""
