"""Token use and cost per project, kept in Redis: `UsageLedger.add` after every model call.

Prices come from the `prices` table of models.yaml (USD per one million tokens). Each project
has one hash `<prefix>:llm-usage:<project key>` with input/output tokens, calls and cost in
micro-dollars (integers, so concurrent workers add exactly).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field
from redis import Redis

from pipeline import telemetry
from pipeline.llm.base import Completion
from pipeline.llm.config import Price, load_models

MICRO = 1_000_000

HashReply = Mapping[bytes, bytes] | Mapping[str, str] | Mapping[bytes | str, bytes | str]
"""A hash as HGETALL gives it: bytes, or text with `decode_responses`."""


class Usage(BaseModel):
    model_config = ConfigDict(frozen=True)

    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cost_usd: float = Field(default=0.0, ge=0)
    calls: int = Field(default=0, ge=0)

    @classmethod
    def of_hash(cls, raw: HashReply) -> Usage:
        """The totals a project's ledger hash holds (as HGETALL returns it; empty: nothing)."""
        fields = {_text(k): int(v) for k, v in raw.items()}
        return cls(
            input_tokens=fields.get("input_tokens", 0),
            output_tokens=fields.get("output_tokens", 0),
            cost_usd=fields.get("cost_micro_usd", 0) / MICRO,
            calls=fields.get("calls", 0),
        )


def cost_usd(completion: Completion, prices: Mapping[str, Price]) -> float:
    """What one completion cost; a model missing from the table costs nothing."""
    price = prices.get(completion.model)
    if price is None:
        return 0.0
    total = completion.input_tokens * price.input + completion.output_tokens * price.output
    return total / 1_000_000


class UsageLedger:
    def __init__(
        self,
        redis: Redis,
        prefix: str = "novacast",
        *,
        prices: Mapping[str, Price] | None = None,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.prices = load_models().prices if prices is None else prices

    def key(self, project_key: str) -> str:
        return f"{self.prefix}:llm-usage:{project_key}"

    def add(self, project_key: str, completion: Completion) -> None:
        """Add one completion to the project's totals (and to the process's metrics)."""
        cost = cost_usd(completion, self.prices)
        telemetry.llm_used(completion.provider, completion.model, completion.input_tokens,
                           completion.output_tokens, cost)
        micro = round(cost * MICRO)
        pipe = self.redis.pipeline()
        key = self.key(project_key)
        pipe.hincrby(key, "input_tokens", completion.input_tokens)
        pipe.hincrby(key, "output_tokens", completion.output_tokens)
        pipe.hincrby(key, "cost_micro_usd", micro)
        pipe.hincrby(key, "calls", 1)
        pipe.execute()

    def totals(self, project_key: str) -> Usage:
        return Usage.of_hash(self.redis.hgetall(self.key(project_key)))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
