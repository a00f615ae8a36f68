"""OpenAI chat models through the official `openai` SDK (sync client), as a `ChatModel`.

Structured output uses `response_format={"type": "json_schema", ...}` (non-strict, so any
pydantic schema is accepted; the router validates the answer). A client is opened per call
and closed right after. SDK errors become `ProviderError` with a plain message that never
contains the key.
"""

from __future__ import annotations

import time
from typing import Any, cast

import openai
from openai.types.chat import ChatCompletionMessageParam

from pipeline.llm.base import Completion, Message, ProviderError

PROVIDER = "openai"


class OpenAIChat:
    """One OpenAI model. `base_url` includes `/v1`; None means the SDK's default or env."""

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
        started = time.monotonic()
        extra: dict[str, Any] = {}
        if json_schema is not None:
            extra["response_format"] = response_format(json_schema)
        try:
            with self._connect() as client:
                response = client.chat.completions.create(
                    model=self.model,
                    messages=turns(messages),
                    temperature=temperature,
                    max_tokens=max_tokens,
                    timeout=timeout,
                    **extra,
                )
        except openai.OpenAIError as error:
            raise ProviderError(plain_error(self.model, error)) from None
        return self._completion(response, time.monotonic() - started)

    def _connect(self) -> openai.OpenAI:
        """A client per call: nothing to close later, and no pooled socket left behind."""
        return openai.OpenAI(api_key=self._api_key, base_url=self._base_url, max_retries=0)

    def _completion(self, response: Any, seconds: float) -> Completion:
        if not response.choices:
            raise ProviderError(f"OpenAI ({self.model}) returned no answer.")
        usage = response.usage
        return Completion(
            text=response.choices[0].message.content or "",
            provider=PROVIDER,
            model=self.model,
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            seconds=round(seconds, 3),
        )


def turns(messages: list[Message]) -> list[ChatCompletionMessageParam]:
    found = [{"role": m.role, "content": m.content} for m in messages]
    return cast("list[ChatCompletionMessageParam]", found)


def response_format(json_schema: dict[str, object]) -> dict[str, object]:
    name = str(json_schema.get("title") or "answer")
    safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in name)[:64]
    return {"type": "json_schema", "json_schema": {"name": safe, "schema": json_schema}}


def plain_error(model: str, error: Exception) -> str:
    """What went wrong, in words; status codes but never request headers or keys."""
    where = f"OpenAI ({model})"
    if isinstance(error, openai.APITimeoutError):
        return f"{where} did not answer in time."
    if isinstance(error, openai.APIConnectionError):
        return f"{where} could not be reached."
    if isinstance(error, openai.RateLimitError):
        return f"{where} is rate-limiting us (HTTP 429)."
    if isinstance(error, openai.AuthenticationError):
        return f"{where} refused the API key (HTTP 401)."
    if isinstance(error, openai.APIStatusError):
        return f"{where} failed with HTTP {error.status_code}."
    return f"{where} failed: {type(error).__name__}."
