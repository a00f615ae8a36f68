"""A fake OpenAI Chat Completions API: POST /v1/chat/completions, after
platform.openai.com/docs/api-reference/chat (response object with `choices` and `usage`;
`response_format` json_schema requests are keyed by `json_schema.name`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from tests.fakes.chat_wire import FakeChatAPI, JSONDict, Recorded

API_KEY = "sk-test-not-a-real-key-0123456789"
ERROR_TYPES = {401: "invalid_request_error", 429: "rate_limit_exceeded"}


@dataclass
class FakeOpenAI(FakeChatAPI):
    route: str = "/v1/chat/completions"
    api_key: str = API_KEY

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def authorize(self, call: Recorded) -> str | None:
        if call.headers.get("authorization") != f"Bearer {self.api_key}":
            return "Incorrect API key provided."
        return None

    def schema_name(self, body: JSONDict) -> str | None:
        fmt = body.get("response_format") or {}
        if fmt.get("type") != "json_schema":
            return None
        return (fmt.get("json_schema") or {}).get("name")

    def success_body(self, body: JSONDict, text: str, tokens_in: int, tokens_out: int) -> JSONDict:
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": tokens_in,
                "completion_tokens": tokens_out,
                "total_tokens": tokens_in + tokens_out,
            },
        }

    def error_body(self, status: int, message: str) -> JSONDict:
        kind = ERROR_TYPES.get(status, "server_error")
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}
