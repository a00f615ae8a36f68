"""A fake OpenAI Chat Completions API: POST /v1/chat/completions, after
platform.openai.com/docs/api-reference/chat (response object with `choices` and `usage`;
`response_format` json_schema requests are keyed by `json_schema.name`).

It also serves the Images API, POST /v1/images/generations (platform.openai.com/docs/api-reference/
images/create): `model`, `prompt` (required), `n`, `size` (the sizes each model accepts; others
answer 400), `quality`, `response_format` (DALL-E only; GPT image models answer 400 to it and
always send `b64_json`). Each image is a real PNG of the asked size in one colour derived from
the prompt (`colour_of(prompt)`); with `response_format: url` it is served under /images/.
Image calls are recorded in `image_requests`; `fail_images_next(n, mode)` scripts "429",
"500" or "policy" (the 400 content_policy_violation the safety system answers)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web

from tests.fakes.chat_wire import FakeChatAPI, JSONDict, Recorded
from tests.fakes.pexels_api import media_file

API_KEY = "sk-test-not-a-real-key-0123456789"
ERROR_TYPES = {401: "invalid_request_error", 429: "rate_limit_exceeded"}
IMAGE_SIZES = {
    "gpt-image": {"1024x1024", "1536x1024", "1024x1536", "auto"},
    "dall-e-3": {"1024x1024", "1792x1024", "1024x1792"},
    "dall-e-2": {"256x256", "512x512", "1024x1024"},
}
IMAGE_FAILURES = ("429", "500", "policy")
POLICY_MESSAGE = ("Your request was rejected as a result of our safety system. Your prompt may "
                  "contain text that is not allowed by our safety system.")


def colour_of(prompt: str) -> str:
    """The colour the fake draws `prompt` in: "#rrggbb" from a hash of the prompt."""
    return "#" + hashlib.sha256(prompt.encode()).hexdigest()[:6]


@dataclass
class FakeOpenAI(FakeChatAPI):
    route: str = "/v1/chat/completions"
    api_key: str = API_KEY
    image_requests: list[Recorded] = field(default_factory=list)
    image_failures: deque[str] = field(default_factory=deque)

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

    # --- the Images API ----------------------------------------------------------------------

    def fail_images_next(self, count: int, mode: str = "500") -> None:
        assert mode in IMAGE_FAILURES, mode
        self.image_failures.extend([mode] * count)

    async def _start(self) -> None:
        """The chat route as before, plus the Images API and its image files."""
        self._closing = asyncio.Event()
        app = web.Application()
        app.router.add_post(self.route, self._handle)
        app.router.add_post("/v1/images/generations", self._generate)
        app.router.add_get("/images/{size}/{colour}.png", self._image_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def _generate(self, request: web.Request) -> web.Response:
        body = await request.json()
        call = Recorded(request.path, {k.lower(): v for k, v in request.headers.items()}, body)
        self.image_requests.append(call)
        refusal = self.authorize(call)
        if refusal is not None:
            return self._image_error(call, 401, refusal)
        mode = self.image_failures.popleft() if self.image_failures else None
        if mode == "policy":
            return self._image_error(call, 400, POLICY_MESSAGE, "content_policy_violation",
                                     kind="image_generation_user_error")
        if mode is not None:
            return self._image_error(call, int(mode), "scripted failure")
        invalid = self._invalid_image_request(body)
        if invalid is not None:
            return self._image_error(call, 400, invalid, "invalid_value")
        return web.json_response(await asyncio.to_thread(self._images_body, body))

    def _invalid_image_request(self, body: JSONDict) -> str | None:
        model = str(body.get("model") or "dall-e-2")
        family = "gpt-image" if model.startswith("gpt-image") else model
        if not str(body.get("prompt") or "").strip():
            return "Missing required parameter: 'prompt'."
        if family not in IMAGE_SIZES:
            return f"Invalid value: '{model}'. Supported values are: 'gpt-image-1', 'dall-e-3'."
        if body.get("size", "1024x1024") not in IMAGE_SIZES[family]:
            return f"Invalid value: '{body.get('size')}'. Supported values are: " + ", ".join(
                f"'{s}'" for s in sorted(IMAGE_SIZES[family]))
        if family == "gpt-image" and "response_format" in body:
            return "Unknown parameter: 'response_format'."
        return None

    def _images_body(self, body: JSONDict) -> JSONDict:
        size = str(body.get("size") or "1024x1024").replace("auto", "1024x1024")
        width, height = (int(side) for side in size.split("x"))
        colour = colour_of(str(body["prompt"]))
        png = media_file("png", colour, width, height)
        as_url = body.get("response_format", "url" if body.get("model", "").startswith(
            "dall-e") else "b64_json") == "url"
        image = ({"url": f"{self.url}/images/{size}/{colour[1:]}.png"} if as_url
                 else {"b64_json": base64.b64encode(png.read_bytes()).decode()})
        answer: JSONDict = {"created": int(time.time()), "data": [image] * int(body.get("n", 1))}
        if str(body.get("model", "")).startswith("gpt-image"):
            tokens = len(str(body["prompt"])) // 4 + 1
            answer |= {"background": "opaque", "output_format": "png", "size": size,
                       "quality": body.get("quality", "auto"),
                       "usage": {"input_tokens": tokens, "output_tokens": 1056,
                                 "total_tokens": tokens + 1056,
                                 "input_tokens_details": {"text_tokens": tokens,
                                                          "image_tokens": 0}}}
        else:
            image["revised_prompt"] = body["prompt"]
        return answer

    async def _image_file(self, request: web.Request) -> web.StreamResponse:
        width, height = (int(side) for side in request.match_info["size"].split("x"))
        colour = "#" + request.match_info["colour"]
        path = await asyncio.to_thread(media_file, "png", colour, width, height)
        return web.FileResponse(path, headers={"Content-Type": "image/png"})

    def _image_error(
        self, call: Recorded, status: int, message: str, code: str | None = None,
        kind: str | None = None,
    ) -> web.Response:
        call.status = status
        error = {"message": message, "type": kind or ERROR_TYPES.get(status, "server_error"),
                 "param": None, "code": code}
        return web.json_response({"error": error}, status=status)
