"""The play layer: one way to play OR-Debug episodes, for collection and for evaluation.

Why a top-level package: ``ordebug`` is the benchmark world and knows nothing of agents or LLMs;
``collectors`` and ``eval`` both play episodes, and neither may import the other's internals.
So the shared part sits between them: ``play`` imports ``ordebug`` only, and both halves import
``play``.

- ``play.policy``: the policy protocol (observation + history in, raw text or a turn out), the
  turn a policy returns, and the adapter that lets a scripted agent decide inside an episode;
- ``play.episode``: the episode core (``Episode``: reset, apply a turn, finish) and ``PlaySettings``,
  the one place environment options (layout, step limit, …) reach ``DebugEnv``;
- ``play.record``: the one step record (``PlayedStep``) and the one finished episode
  (``PlayedEpisode``); the trajectory ``Step`` (collectors) and results.json ``ScoredStep`` (eval)
  take their fields from the step;
- ``play.runner``: the one episode loop (``run_episode``) over a session (local thread or a
  collector's host process);
- ``play.llm`` / ``play.llm_config`` / ``play.chat``: the one LLM client, its configuration model
  and the chat policy (the teacher and eval's openai policy are that class configured twice);
- ``play.agents``: the scripted agents (heuristic, oracle, drop_first) and the LLM teacher, which
  collectors play for trajectories and eval plays as baselines, both importing them from here.

Collectors add a resumable store and summaries; eval adds scoring and reports.
"""
