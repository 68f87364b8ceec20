"""The teacher's LLM client: the real openai client against the loopback server, with faults."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from play.llm import BudgetExceeded, LLMCallError, LLMClient, retry_after_seconds
from play.llm_config import ConfigError, LLMConfig, load_llm_config
from tests.support.loopback import Faults, LoopbackServer, Reply, drop_first_responder, fixed_responder

SECRET = "sk-test-NEVER-WRITTEN-42"
OBS = "## Current State\nStatus: INFEASIBLE\n\n## IIS\nConflicting Constraints: ['c1', 'c2']\n"
MESSAGES = [{"role": "user", "content": OBS}]


class Sleeps:
    """Records the backoff sleeps instead of waiting them out."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def config(url: str, **kw) -> LLMConfig:
    base = {
        "base_url": url,
        "model": "loop",
        "api_key": SECRET,
        "max_retries": 3,
        "timeout_s": 2.0,
        "backoff_base_s": 0.5,
    }
    return LLMConfig(**{**base, **kw})


def chat(client: LLMClient):
    async def go():
        try:
            return await client.chat(MESSAGES)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_answer_with_reasoning_content_and_usage() -> None:
    with LoopbackServer(drop_first_responder(reasoning_field=True), api_key=SECRET) as srv:
        result = chat(LLMClient(config(srv.base_url)))
    assert result.content == "Action: DROP_CONSTRAINT(c1)"
    assert result.reasoning_content.startswith("The IIS holds 2 constraint(s)")
    assert result.usage.calls == 1 and result.usage.prompt_tokens > 0 and result.usage.reasoning_tokens > 0
    assert srv.requests[0]["model"] == "loop" and srv.requests[0]["seed"] == 0


def test_429_honours_retry_after_then_500_backs_off_then_succeeds() -> None:
    sleeps = Sleeps()
    faults = Faults(first=["429", "500"], retry_after_s=1.5)
    with LoopbackServer(drop_first_responder(), faults=faults) as srv:
        result = chat(LLMClient(config(srv.base_url), sleep=sleeps))
    assert result.usage.retries == 2
    assert result.errors == ["HTTP 429 (retry-after 1.5s)", "HTTP 500"]
    assert sleeps.waits[0] == 1.5  # the server's Retry-After, not our backoff
    assert 0.5 * 2 * 0.5 <= sleeps.waits[1] <= 0.5 * 2  # backoff_base * 2**1, times a jitter in [0.5, 1]
    assert srv.stats()["by_status"] == {429: 1, 500: 1, 200: 1}


def test_timeouts_and_garbage_are_retried_within_the_bound() -> None:
    faults = Faults(first=["timeout", "garbage"], timeout_delay_s=1.0)
    with LoopbackServer(drop_first_responder(), faults=faults) as srv:
        result = chat(LLMClient(config(srv.base_url, timeout_s=0.3), sleep=Sleeps()))
    assert result.errors[0] == "timeout after 0.3s"
    assert result.errors[1].startswith("malformed response")
    assert result.content.endswith("DROP_CONSTRAINT(c1)")


def test_retries_are_bounded_and_the_failure_says_why() -> None:
    sleeps = Sleeps()
    with LoopbackServer(drop_first_responder(), faults=Faults(rate_500=1.0)) as srv:
        client = LLMClient(config(srv.base_url, max_retries=2), sleep=sleeps)
        with pytest.raises(LLMCallError, match="gave up after 3 attempts: HTTP 500") as err:
            chat(client)
    assert err.value.attempts == 3 and len(sleeps.waits) == 2
    assert srv.stats()["requests"] == 3
    assert client.failed_calls == 1


def test_client_errors_are_not_retried_and_never_show_the_key() -> None:
    with (
        LoopbackServer(drop_first_responder(), api_key="another-key") as srv,
        pytest.raises(LLMCallError, match="HTTP 401") as err,
    ):
        chat(LLMClient(config(srv.base_url), sleep=Sleeps()))
    assert srv.stats()["by_status"] == {401: 1}  # one attempt: a 401 is not worth retrying
    assert SECRET not in str(err.value)


def test_cost_from_the_price_table_and_budget_stops_new_calls() -> None:
    prices = {"loop": {"input": 1000.0, "output": 2000.0}}  # USD per 1M tokens
    responder = lambda request: Reply(content="Action: SUBMIT()", prompt_tokens=100, completion_tokens=50)
    with LoopbackServer(responder) as srv:
        client = LLMClient(config(srv.base_url, prices=prices, budget_usd=0.25))

        async def go():
            first = await client.chat(MESSAGES)
            second = await client.chat(MESSAGES)
            with pytest.raises(BudgetExceeded, match="budget of \\$0.25 reached"):
                await client.chat(MESSAGES)
            await client.aclose()
            return first, second

        first, _ = asyncio.run(go())
    assert first.usage.cost_usd == pytest.approx(0.1 + 0.1)
    assert client.spent_usd == pytest.approx(0.4)
    assert srv.stats()["requests"] == 2


def test_retry_after_parsing() -> None:
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_seconds({}) is None


def test_config_from_env_and_yaml(tmp_path: Path) -> None:
    yml = tmp_path / "teacher.yaml"
    yml.write_text(
        "base_url: http://h/v1\nmodel: m1\ntemperature: 0.2\napi_key_env: MY_KEY\nprices:\n  m2: {input: 1, output: 2}\n"
    )
    env = {"ORDEBUG_TEACHER_CONFIG": str(yml), "ORDEBUG_TEACHER_MODEL": "m2", "MY_KEY": SECRET}
    cfg = load_llm_config(environ=env)
    assert (cfg.base_url, cfg.model, cfg.temperature) == ("http://h/v1", "m2", 0.2)
    assert cfg.api_key.get_secret_value() == SECRET
    assert SECRET not in str(cfg.public()) and SECRET not in repr(cfg)
    assert cfg.public()["price_per_1m"] == {"input": 1.0, "output": 2.0, "cached_input": None}


def test_config_errors_name_the_key_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="export ORDEBUG_TEACHER_BASE_URL"):
        load_llm_config(environ={"ORDEBUG_TEACHER_MODEL": "m"})
    yml = tmp_path / "t.yaml"
    yml.write_text("base_url: http://h/v1\nmodel: m\napi_key: sk-in-a-file\n")
    with pytest.raises(ConfigError, match="keys are never read from files"):
        load_llm_config(yml, environ={})
    with pytest.raises(ConfigError, match="needs a price for model 'm'"):
        load_llm_config(
            environ={
                "ORDEBUG_TEACHER_BASE_URL": "http://h",
                "ORDEBUG_TEACHER_MODEL": "m",
                "ORDEBUG_TEACHER_BUDGET_USD": "5",
            }
        )
    with pytest.raises(ConfigError, match="'temperature'"):
        load_llm_config(
            environ={
                "ORDEBUG_TEACHER_BASE_URL": "http://h",
                "ORDEBUG_TEACHER_MODEL": "m",
                "ORDEBUG_TEACHER_TEMPERATURE": "hot",
            }
        )


def test_unparseable_model_text_is_returned_not_retried() -> None:
    with LoopbackServer(fixed_responder("I am not sure what to do.")) as srv:
        result = chat(LLMClient(config(srv.base_url)))
    assert result.content == "I am not sure what to do." and result.usage.retries == 0
