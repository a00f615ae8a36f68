"""The one small protocol every language-model provider implements, and its value objects."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from pipeline.errors import PermanentError, TransientError


class Message(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class Completion(BaseModel):
    """What a provider answered, and what it cost."""

    model_config = ConfigDict(frozen=True)

    text: str
    provider: str
    model: str
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    seconds: float = Field(ge=0)


class ChatModel(Protocol):
    """A provider's chat model, reached through its official SDK (sync: workers and the core
    are synchronous). `json_schema`, when given, asks for structured output matching it."""

    provider: str
    model: str

    def complete(
        self,
        messages: list[Message],
        *,
        json_schema: dict[str, object] | None = None,
        temperature: float = 0.7,
        max_tokens: int = 1024,
        timeout: float = 30.0,
    ) -> Completion: ...


class ProviderError(TransientError):
    """The provider failed (5xx, timeout, connection): try the next one in the chain."""


class InvalidOutput(PermanentError):
    """The model answered, but not in the shape asked for (after the one repair attempt)."""
