"""Test support shipped with the tests, not the packages: the loopback OpenAI server, synthetic trajectories.

Tests and benchmarks import it as `tests.support` (the repository root is on the path: pyproject sets
pytest's `pythonpath`, the benchmarks insert it themselves).
"""
