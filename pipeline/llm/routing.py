"""Per-agent routes over providers, with structured output, one repair, fallback and A/B tests.

`Router.run(agent, messages, Output)` walks the agent's chain (models.yaml), skipping providers
without credentials. Each answer must parse as JSON and validate as `Output`; an invalid answer
gets ONE repair attempt on the same model (the validation error is sent back), then the next
provider is tried. Provider failures (5xx, timeout, connection) go straight to the next one.
When every link fails, `ProviderError` is raised and the caller uses its offline fallback.

Experiments: `variant_for(agent, project_key)` picks a weighted variant by a stable hash of
(project key, experiment name), so a project always lands in the same arm.

`Endpoints` says where each provider is and with which credential: `Endpoints.from_env()` reads
OPENAI_API_KEY/OPENAI_BASE_URL, ANTHROPIC_API_KEY/ANTHROPIC_BASE_URL and OLLAMA_HOST; tests
build one pointing at local fakes. A provider without its credential is skipped.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from pipeline.llm.base import ChatModel, Completion, Message, ProviderError
from pipeline.llm.config import ModelsConfig, Step, Variant, load_models

T = TypeVar("T", bound=BaseModel)
Outcome = Literal["ok", "provider_error", "invalid_output"]
REPAIR_PROMPT = (
    "Your previous answer did not match the required JSON schema: {error}\n"
    "Reply again with one corrected JSON object only."
)


@dataclass(frozen=True)
class Endpoints:
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    anthropic_api_key: str | None = field(default=None, repr=False)
    anthropic_base_url: str | None = None
    ollama_host: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Endpoints:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            return env.get(name, "").strip() or None

        return cls(
            openai_api_key=get("OPENAI_API_KEY"),
            openai_base_url=get("OPENAI_BASE_URL"),
            anthropic_api_key=get("ANTHROPIC_API_KEY"),
            anthropic_base_url=get("ANTHROPIC_BASE_URL"),
            ollama_host=get("OLLAMA_HOST"),
        )

    def configured(self, provider: str) -> bool:
        return provider in PROVIDERS and self._credentials(provider) is not None

    @property
    def any_configured(self) -> bool:
        return any(self.configured(p) for p in PROVIDERS)

    def load(self) -> None:
        """Import the SDK of every configured provider now (a process with no keys never does)."""
        for provider in PROVIDERS:
            if self.configured(provider):
                _chat_class(provider)

    def connect(self, provider: str, model: str) -> ChatModel:
        """A chat model for `provider`; raises ValueError when it is not configured."""
        credentials = self._credentials(provider) if provider in PROVIDERS else None
        if credentials is None:
            raise ValueError(f"provider {provider!r} is not configured")
        return _chat_class(provider)(model, **credentials)

    def _credentials(self, provider: str) -> dict[str, Any] | None:
        """The keyword arguments `provider`'s chat class takes, or None without its credential."""
        if provider == "ollama":
            return {"host": self.ollama_host} if self.ollama_host else None
        key, url = {
            "openai": (self.openai_api_key, self.openai_base_url),
            "anthropic": (self.anthropic_api_key, self.anthropic_base_url),
        }[provider]
        return {"api_key": key, "base_url": url} if key else None


PROVIDERS = {
    "openai": "pipeline.llm.openai_provider:OpenAIChat",
    "anthropic": "pipeline.llm.anthropic_provider:AnthropicChat",
    "ollama": "pipeline.llm.ollama_provider:OllamaChat",
}
"""Provider -> its chat class, imported on first use: the three SDKs take ~1-3 s to import,
which a worker or `novacast make` without keys should not pay."""


def _chat_class(provider: str) -> Callable[..., ChatModel]:
    module, _, name = PROVIDERS[provider].partition(":")
    chat: Callable[..., ChatModel] = getattr(importlib.import_module(module), name)
    return chat


@dataclass(frozen=True)
class Attempt:
    """One call in a route: which model, how it went, and what it cost (if it answered)."""

    provider: str
    model: str
    outcome: Outcome
    detail: str = ""
    completion: Completion | None = None


@dataclass(frozen=True)
class RouteResult(Generic[T]):
    value: T
    completion: Completion
    attempts: list[Attempt]
    variant: Variant | None = None
    experiment: str | None = None

    @property
    def completions(self) -> list[Completion]:
        """Every answer received, failed ones too: each one cost tokens."""
        return [a.completion for a in self.attempts if a.completion is not None]


class RouteFailed(ProviderError):
    """Every link of a route failed; `attempts` says how, `completions` what was paid for."""

    def __init__(self, message: str, attempts: list[Attempt]) -> None:
        super().__init__(message)
        self.attempts = attempts

    @property
    def completions(self) -> list[Completion]:
        return [a.completion for a in self.attempts if a.completion is not None]


@dataclass
class _Trial(Generic[T]):
    value: T | None = None
    attempts: list[Attempt] = field(default_factory=list)


class Router:
    def __init__(self, config: ModelsConfig, endpoints: Endpoints) -> None:
        self.config = config
        self.endpoints = endpoints
        endpoints.load()

    @classmethod
    def from_env(cls) -> Router:
        return cls(load_models(), Endpoints.from_env())

    def chain(self, agent: str, variant: Variant | None = None) -> list[Step]:
        """The configured links for `agent` whose provider has credentials."""
        steps = variant.chain if variant and variant.chain else self.config.chain(agent)
        return [step for step in steps if self.endpoints.configured(step.provider)]

    def variant_for(self, agent: str, project_key: str) -> Variant | None:
        experiment = self.config.experiments.get(agent)
        if experiment is None:
            return None
        digest = hashlib.sha256(f"{project_key}\x00{experiment.name}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") % sum(v.weight for v in experiment.variants)
        for variant in experiment.variants:
            if point < variant.weight:
                return variant
            point -= variant.weight
        raise AssertionError("unreachable: weights cover the point")

    def run(
        self,
        agent: str,
        messages: list[Message],
        output_model: type[T],
        *,
        variant: Variant | None = None,
    ) -> RouteResult[T]:
        attempts: list[Attempt] = []
        for step in self.chain(agent, variant):
            trial = self._try_step(step, messages, output_model)
            attempts.extend(trial.attempts)
            if trial.value is not None:
                return self._result(agent, trial.value, attempts, variant)
        raise RouteFailed(_all_failed(agent, attempts), attempts)

    def _result(
        self, agent: str, value: T, attempts: list[Attempt], variant: Variant | None
    ) -> RouteResult[T]:
        completion = attempts[-1].completion
        assert completion is not None
        experiment = self.config.experiments.get(agent)
        name = experiment.name if experiment and variant else None
        return RouteResult(value, completion, attempts, variant, name)

    def _try_step(self, step: Step, messages: list[Message], output_model: type[T]) -> _Trial[T]:
        model = self.endpoints.connect(step.provider, step.model)
        trial: _Trial[T] = _Trial()
        for _ in range(2):  # the answer, then one repair
            attempt, value = _ask(model, step, messages, output_model)
            trial.attempts.append(attempt)
            if attempt.outcome != "invalid_output":
                trial.value = value
                return trial
            messages = [*messages, *_repair_messages(attempt)]
        return trial


def _ask(
    model: ChatModel, step: Step, messages: list[Message], output_model: type[T]
) -> tuple[Attempt, T | None]:
    try:
        completion = model.complete(
            messages,
            json_schema=output_model.model_json_schema(),
            temperature=step.temperature,
            max_tokens=step.max_tokens,
            timeout=step.timeout,
        )
    except ProviderError as error:
        return Attempt(step.provider, step.model, "provider_error", str(error)), None
    try:
        value = output_model.model_validate_json(_json_text(completion.text))
    except ValidationError as error:
        detail = _validation_summary(error)
        return Attempt(step.provider, step.model, "invalid_output", detail, completion), None
    return Attempt(step.provider, step.model, "ok", "", completion), value


def _json_text(text: str) -> str:
    """The JSON object in an answer, tolerating code fences or a sentence around it."""
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else text


def _validation_summary(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "(whole answer)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def _repair_messages(attempt: Attempt) -> list[Message]:
    text = attempt.completion.text if attempt.completion else ""
    return [
        Message(role="assistant", content=text),
        Message(role="user", content=REPAIR_PROMPT.format(error=attempt.detail)),
    ]


def _all_failed(agent: str, attempts: list[Attempt]) -> str:
    if not attempts:
        return f"No language model is configured for {agent}."
    tried = "; ".join(f"{a.provider}/{a.model}: {a.outcome}" for a in attempts)
    return f"No language model could do the {agent} step ({tried})."
