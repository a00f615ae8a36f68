"""A fake Ollama server: POST /api/chat (non-streaming), after github.com/ollama/ollama
docs/api.md (`message`, `done`, `prompt_eval_count`/`eval_count`; `format` may be a JSON
schema, keyed by its `title`; errors as `{"error": "..."}`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tests.fakes.chat_wire import FakeChatAPI, JSONDict


@dataclass
class FakeOllama(FakeChatAPI):
    route: str = "/api/chat"

    @property
    def host(self) -> str:
        return self.url

    def schema_name(self, body: JSONDict) -> str | None:
        fmt = body.get("format")
        return fmt.get("title") if isinstance(fmt, dict) else None

    def success_body(self, body: JSONDict, text: str, tokens_in: int, tokens_out: int) -> JSONDict:
        return {
            "model": body["model"],
            "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "message": {"role": "assistant", "content": text},
            "done": True,
            "done_reason": "stop",
            "total_duration": 5_000_000,
            "load_duration": 1_000_000,
            "prompt_eval_count": tokens_in,
            "prompt_eval_duration": 1_000_000,
            "eval_count": tokens_out,
            "eval_duration": 3_000_000,
        }

    def error_body(self, status: int, message: str) -> JSONDict:
        return {"error": message}
