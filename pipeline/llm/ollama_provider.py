"""Ollama chat models through the official `ollama` SDK (sync client), as a `ChatModel`.

Structured output uses `format=<json schema>`; `num_predict` caps the answer; token counts come
from `prompt_eval_count`/`eval_count`. The SDK's timeout is per client, so a client is opened
per call (with that call's timeout) and closed after it. Errors become `ProviderError` with a
plain message.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import ollama

from pipeline.llm.base import Completion, Message, ProviderError

PROVIDER = "ollama"


class OllamaChat:
    """One local model. `host` like `http://127.0.0.1:11434`; None means OLLAMA_HOST."""

    provider = PROVIDER

    def __init__(self, model: str, *, host: str | None = None) -> None:
        self.model = model
        self.host = host

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
        try:
            with ollama.Client(host=self.host, timeout=timeout) as client:
                response = client.chat(
                    model=self.model,
                    messages=[{"role": m.role, "content": m.content} for m in messages],
                    format=json_schema,
                    options={"temperature": temperature, "num_predict": max_tokens},
                )
        except (ollama.ResponseError, ConnectionError, httpx.HTTPError) as error:
            raise ProviderError(plain_error(self.model, error)) from None
        return self._completion(response, time.monotonic() - started)

    def _completion(self, response: Any, seconds: float) -> Completion:
        return Completion(
            text=response.message.content or "",
            provider=PROVIDER,
            model=self.model,
            input_tokens=response.prompt_eval_count or 0,
            output_tokens=response.eval_count or 0,
            seconds=round(seconds, 3),
        )


def plain_error(model: str, error: Exception) -> str:
    where = f"Ollama ({model})"
    if isinstance(error, httpx.TimeoutException):
        return f"{where} did not answer in time."
    if isinstance(error, ConnectionError | httpx.TransportError):
        return f"{where} could not be reached."
    if isinstance(error, ollama.ResponseError):
        return f"{where} failed with HTTP {error.status_code}."
    return f"{where} failed: {type(error).__name__}."
