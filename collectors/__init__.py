"""Collectors: agents play OR-Debug episodes and write resumable trajectory files.

``python -m collectors`` (cli) -> runner (resume, shards, workers, tables) -> episodes /
episode_hosts (one episode -> one ordebug.trajectory line) -> agents (heuristic, oracle,
drop_first, teacher). The teacher talks to an OpenAI-compatible endpoint through llm
(retries, cost, budget; settings in llm_config). store is the locked append-only JSONL;
summaries adds LLM summaries to search-trace samples. The loopback test server lives in
tests/support/loopback.py.
"""
