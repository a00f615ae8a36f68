"""A fake Anthropic Messages API: POST /v1/messages, after docs.anthropic.com/en/api/messages
(`content` blocks, `usage.input_tokens`/`output_tokens`; errors as `{"type": "error", ...}`).
The key may come as `x-api-key` or, as anthropic 2.x sends it, `Authorization: Bearer`."""

from __future__ import annotations

from dataclasses import dataclass

from tests.fakes.chat_wire import FakeChatAPI, JSONDict, Recorded

API_KEY = "sk-ant-test-not-a-real-key-0123456789"
ERROR_TYPES = {401: "authentication_error", 429: "rate_limit_error", 529: "overloaded_error"}


@dataclass
class FakeAnthropic(FakeChatAPI):
    route: str = "/v1/messages"
    api_key: str = API_KEY

    @property
    def base_url(self) -> str:
        return self.url

    def authorize(self, call: Recorded) -> str | None:
        sent = {call.headers.get("x-api-key"), call.headers.get("authorization")}
        if not sent & {self.api_key, f"Bearer {self.api_key}"}:
            return "invalid x-api-key"
        if not call.headers.get("anthropic-version"):
            return "anthropic-version header is required"
        return None

    def schema_name(self, body: JSONDict) -> str | None:
        """The schema's title from `output_config.format` (structured outputs), if asked for."""
        output = body.get("output_config") or {}
        fmt = output.get("format") if isinstance(output, dict) else None
        if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
            return None
        schema = fmt.get("schema")
        return str(schema.get("title")) if isinstance(schema, dict) and "title" in schema else None

    def success_body(self, body: JSONDict, text: str, tokens_in: int, tokens_out: int) -> JSONDict:
        return {
            "id": f"msg_{len(self.requests):04d}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
        }

    def error_body(self, status: int, message: str) -> JSONDict:
        kind = ERROR_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
