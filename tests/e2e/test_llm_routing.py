"""The router over real SDKs and wire fakes: routes from models.yaml, fallback on 500, timeout
and invalid JSON, exactly one repair, A/B stickiness and weights, and usage/cost in Redis."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from pydantic import BaseModel, Field

from pipeline.llm.base import Completion, Message, ProviderError
from pipeline.llm.config import MODELS_ENV, ModelsError, Price, load_models, parse_models
from pipeline.llm.routing import Endpoints, RouteFailed, Router
from pipeline.llm.usage import UsageLedger
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.ollama_api import FakeOllama
from tests.fakes.openai_api import FakeOpenAI


class Angles(BaseModel):
    angles: list[str] = Field(min_length=1)


CHAIN = [
    {"provider": "openai", "model": "gpt-4o-mini", "timeout": 0.5},
    {"provider": "anthropic", "model": "claude-haiku-4-5", "timeout": 0.5},
    {"provider": "ollama", "model": "llama3.2", "timeout": 0.5},
]
MESSAGES = [Message(role="system", content="Angles."), Message(role="user", content="octopus")]
GOOD = {"angles": ["Three hearts"]}


class Fakes:
    def __init__(self, openai: FakeOpenAI, anthropic: FakeAnthropic, ollama: FakeOllama) -> None:
        self.openai, self.anthropic, self.ollama = openai, anthropic, ollama

    def endpoints(self) -> Endpoints:
        return Endpoints(
            openai_api_key=self.openai.api_key,
            openai_base_url=self.openai.base_url,
            anthropic_api_key=self.anthropic.api_key,
            anthropic_base_url=self.anthropic.base_url,
            ollama_host=self.ollama.host,
        )

    def router(self, **config: Any) -> Router:
        return Router(parse_models({"default": CHAIN, **config}), self.endpoints())


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    with FakeOpenAI() as openai, FakeAnthropic() as anthropic, FakeOllama() as ollama:
        yield Fakes(openai, anthropic, ollama)


def outcomes(result_attempts: list[Any]) -> list[tuple[str, str]]:
    return [(a.provider, a.outcome) for a in result_attempts]


def test_packaged_models_yaml_routes_every_agent_through_three_providers() -> None:
    config = load_models()
    for agent in ("script", "qc_review", "scene_describer", "anything"):
        assert [s.provider for s in config.chain(agent)] == ["openai", "anthropic", "ollama"]
    assert config.prices["gpt-4o-mini"] == Price(input=0.15, output=0.60)


def test_providers_without_credentials_are_skipped() -> None:
    router = Router(load_models(), Endpoints(ollama_host="http://127.0.0.1:9"))
    assert [s.provider for s in router.chain("script")] == ["ollama"]
    env = Endpoints.from_env({"ANTHROPIC_API_KEY": "k", "OPENAI_API_KEY": " "})
    assert [s.provider for s in Router(load_models(), env).chain("script")] == ["anthropic"]


def test_first_provider_answers(fakes: Fakes) -> None:
    fakes.openai.answer(GOOD)
    result = fakes.router().run("ideation", MESSAGES, Angles)
    assert result.value == Angles(**GOOD)
    assert (result.completion.provider, result.completion.model) == ("openai", "gpt-4o-mini")
    assert outcomes(result.attempts) == [("openai", "ok")]
    assert fakes.openai.requests[0].body["response_format"]["json_schema"]["name"] == "Angles"
    assert not fakes.anthropic.requests


def test_agent_route_overrides_default(fakes: Fakes) -> None:
    fakes.ollama.answer(GOOD)
    router = fakes.router(agents={"ideation": [{"provider": "ollama", "model": "qwen3"}]})
    result = router.run("ideation", MESSAGES, Angles)
    assert (result.completion.provider, result.completion.model) == ("ollama", "qwen3")
    assert fakes.ollama.requests[0].body["model"] == "qwen3"


def test_a_500_moves_on_to_the_next_provider(fakes: Fakes) -> None:
    fakes.openai.fail_next(1, "500")
    fakes.anthropic.answer(GOOD)
    result = fakes.router().run("ideation", MESSAGES, Angles)
    assert outcomes(result.attempts) == [("openai", "provider_error"), ("anthropic", "ok")]
    assert "HTTP 500" in result.attempts[0].detail
    assert result.completion.provider == "anthropic"


def test_a_timeout_moves_on_to_the_next_provider(fakes: Fakes) -> None:
    fakes.openai.fail_next(1, "hang")
    fakes.anthropic.fail_next(1, "429")
    fakes.ollama.answer(GOOD)
    result = fakes.router().run("ideation", MESSAGES, Angles)
    assert outcomes(result.attempts) == [
        ("openai", "provider_error"),
        ("anthropic", "provider_error"),
        ("ollama", "ok"),
    ]
    assert "did not answer in time" in result.attempts[0].detail


def test_invalid_json_gets_one_repair_on_the_same_model(fakes: Fakes) -> None:
    fakes.openai.fail_next(1, "invalid_json")
    fakes.openai.answer(GOOD)
    result = fakes.router().run("ideation", MESSAGES, Angles)
    assert outcomes(result.attempts) == [("openai", "invalid_output"), ("openai", "ok")]
    repair = fakes.openai.requests[1].body["messages"]
    assert repair[:2] == [{"role": m.role, "content": m.content} for m in MESSAGES]
    assert repair[2] == {"role": "assistant", "content": fakes.openai.requests[0].text}
    assert repair[3]["role"] == "user"
    assert "did not match the required JSON schema" in repair[3]["content"]
    assert len(result.completions) == 2


def test_the_validation_error_is_sent_back(fakes: Fakes) -> None:
    fakes.openai.answer({"angles": []}, GOOD)
    result = fakes.router().run("ideation", MESSAGES, Angles)
    assert result.value == Angles(**GOOD)
    assert (
        "angles: List should have at least 1 item"
        in fakes.openai.requests[1].body["messages"][3]["content"]
    )


def test_still_invalid_after_the_repair_moves_on(fakes: Fakes) -> None:
    fakes.openai.fail_next(2, "invalid_json")
    fakes.anthropic.answer(GOOD)
    result = fakes.router().run("ideation", MESSAGES, Angles)
    assert len(fakes.openai.requests) == 2
    assert outcomes(result.attempts) == [
        ("openai", "invalid_output"),
        ("openai", "invalid_output"),
        ("anthropic", "ok"),
    ]


def test_every_provider_failing_raises_provider_error(fakes: Fakes) -> None:
    fakes.openai.fail_next(1, "500")
    fakes.anthropic.fail_next(2, "invalid_json")
    fakes.ollama.fail_next(1, "500")
    with pytest.raises(ProviderError, match="No language model could do the ideation step") as e:
        fakes.router().run("ideation", MESSAGES, Angles)
    assert isinstance(e.value, RouteFailed)
    assert len(e.value.attempts) == 4
    assert len(e.value.completions) == 2


def test_no_configured_provider_raises_provider_error() -> None:
    router = Router(load_models(), Endpoints())
    with pytest.raises(ProviderError, match="No language model is configured"):
        router.run("script", MESSAGES, Angles)


EXPERIMENT = {
    "ideation": {
        "name": "angles-v2",
        "variants": [
            {"name": "control", "weight": 80, "prompt_version": 1},
            {
                "name": "claude",
                "weight": 20,
                "prompt_version": 2,
                "chain": [{"provider": "anthropic", "model": "claude-sonnet-4-5"}],
            },
            {"name": "off", "weight": 0},
        ],
    }
}


def test_variants_are_sticky_per_project_and_follow_weights(fakes: Fakes) -> None:
    router, again = fakes.router(experiments=EXPERIMENT), fakes.router(experiments=EXPERIMENT)
    chosen = {key: router.variant_for("ideation", key) for key in map(str, range(2000))}
    assert all(again.variant_for("ideation", key) == v for key, v in chosen.items())
    counts = Counter(v.name for v in chosen.values() if v is not None)
    assert set(counts) == {"control", "claude"}
    assert 0.74 < counts["control"] / 2000 < 0.86
    assert router.variant_for("script", "1") is None


def test_a_variant_brings_its_own_chain(fakes: Fakes) -> None:
    router = fakes.router(experiments=EXPERIMENT)
    variants = (router.variant_for("ideation", key) for key in map(str, range(100)))
    variant = next(v for v in variants if v is not None and v.name == "claude")
    fakes.anthropic.answer(GOOD)
    result = router.run("ideation", MESSAGES, Angles, variant=variant)
    assert result.variant == variant
    assert result.experiment == "angles-v2"
    assert fakes.anthropic.requests[0].body["model"] == "claude-sonnet-4-5"
    assert not fakes.openai.requests


def test_usage_and_cost_per_project_in_redis(redis_conn: redis.Redis, fakes: Fakes) -> None:
    ledger = UsageLedger(
        redis_conn, prefix="t", prices={"gpt-4o-mini": Price(input=0.15, output=0.6)}
    )
    fakes.openai.fail_next(1, "invalid_json")
    fakes.openai.answer(GOOD)
    result = fakes.router().run("ideation", MESSAGES, Angles)
    for completion in result.completions:
        ledger.add("proj-1", completion)
    ledger.add(
        "proj-2",
        Completion(
            text="",
            provider="ollama",
            model="llama3.2",
            input_tokens=10,
            output_tokens=5,
            seconds=0,
        ),
    )
    sent = [call.usage for call in fakes.openai.requests]
    totals = ledger.totals("proj-1")
    assert totals.input_tokens == sum(i for i, _ in sent)
    assert totals.output_tokens == sum(o for _, o in sent)
    assert totals.calls == 2
    expected = (totals.input_tokens * 0.15 + totals.output_tokens * 0.6) / 1_000_000
    assert totals.cost_usd == pytest.approx(expected, abs=1e-6)
    assert ledger.totals("proj-2").cost_usd == 0
    assert ledger.totals("nobody").calls == 0
    assert redis_conn.exists("t:llm-usage:proj-1")


def test_a_broken_models_file_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("default:\n  - {provider: openai, model: x, temperature: 9}\n")
    with pytest.raises(ModelsError, match=r"models\.yaml: field default\.0\.temperature"):
        load_models(path)
    path.write_text("default:\n  - {provider: nobody, model: x}\n")
    with pytest.raises(ModelsError, match=r"field default\.0\.provider"):
        load_models(path)


def test_models_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("default:\n  - {provider: ollama, model: tiny}\n")
    monkeypatch.setenv(MODELS_ENV, str(path))
    assert [s.model for s in load_models().chain("script")] == ["tiny"]
