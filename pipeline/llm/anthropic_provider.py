"""Anthropic chat models through the official `anthropic` SDK (sync client), as a `ChatModel`.

The system messages go into `system`. Structured output uses the Messages API's own
`output_config.format` (`{"type": "json_schema", "schema": …}`, "structured outputs" in
Anthropic's docs); the schema is also named in the system prompt, so a model without that
feature still knows the shape, and the router validates the answer either way. `temperature` is
not sent: this SDK's `messages.create` no longer takes it.
SDK errors become `ProviderError` with a plain message, never the key.
"""

from __future__ import annotations

import json
import time
from typing import Any, cast

import anthropic
from anthropic.types import MessageParam

from pipeline.llm.base import Completion, Message, ProviderError

PROVIDER = "anthropic"
SCHEMA_INSTRUCTION = (
    "Answer with one JSON object only, no prose and no code fences, matching this JSON schema:"
)


class AnthropicChat:
    """One Claude model. `base_url` is the API root without `/v1`."""

    provider = PROVIDER

    def __init__(self, model: str, *, api_key: str, base_url: str | None = None) -> None:
        self.model = model
        self._api_key, self._base_url = api_key, base_url

    def complete(
        self,
        messages: list[Message],
        *,
        json_schema: dict[str, object] | None = None,
        temperature: float = 0.7,
        max_tokens: int = 1024,
        timeout: float = 30.0,
    ) -> Completion:
        del temperature  # not accepted by messages.create in anthropic>=2
        started = time.monotonic()
        try:
            with self._connect() as client:
                response = client.messages.create(
                    model=self.model,
                    system=system_prompt(messages, json_schema),
                    messages=turns(messages),
                    max_tokens=max_tokens,
                    timeout=timeout,
                    **structured(json_schema),
                )
        except anthropic.AnthropicError as error:
            raise ProviderError(plain_error(self.model, error)) from None
        return self._completion(response, time.monotonic() - started)

    def _connect(self) -> anthropic.Anthropic:
        """A client per call: nothing to close later, and no pooled socket left behind."""
        return anthropic.Anthropic(api_key=self._api_key, base_url=self._base_url, max_retries=0)

    def _completion(self, response: Any, seconds: float) -> Completion:
        text = "".join(block.text for block in response.content if block.type == "text")
        return Completion(
            text=text,
            provider=PROVIDER,
            model=self.model,
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            seconds=round(seconds, 3),
        )


def structured(json_schema: dict[str, object] | None) -> dict[str, Any]:
    """`output_config` asking for JSON matching the schema, when there is one."""
    if json_schema is None:
        return {}
    return {"output_config": {"format": {"type": "json_schema", "schema": json_schema}}}


def turns(messages: list[Message]) -> list[MessageParam]:
    """The user/assistant turns; system messages go into `system`."""
    found = [{"role": m.role, "content": m.content} for m in messages if m.role != "system"]
    return cast("list[MessageParam]", found)


def system_prompt(messages: list[Message], json_schema: dict[str, object] | None) -> str:
    parts = [m.content for m in messages if m.role == "system"]
    if json_schema is not None:
        parts.append(f"{SCHEMA_INSTRUCTION}\n{json.dumps(json_schema)}")
    return "\n\n".join(parts)


def plain_error(model: str, error: Exception) -> str:
    """What went wrong, in words; status codes but never request headers or keys."""
    where = f"Anthropic ({model})"
    if isinstance(error, anthropic.APITimeoutError):
        return f"{where} did not answer in time."
    if isinstance(error, anthropic.APIConnectionError):
        return f"{where} could not be reached."
    if isinstance(error, anthropic.RateLimitError):
        return f"{where} is rate-limiting us (HTTP 429)."
    if isinstance(error, anthropic.AuthenticationError):
        return f"{where} refused the API key (HTTP 401)."
    if isinstance(error, anthropic.APIStatusError):
        return f"{where} failed with HTTP {error.status_code}."
    return f"{where} failed: {type(error).__name__}."
