"""Each provider through its real SDK against a wire-level fake: request shape, answer, token
counts, and every failure (5xx, 429, timeout, refused connection, bad key) as ProviderError."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator

import pytest

from pipeline.llm.anthropic_provider import AnthropicChat
from pipeline.llm.base import ChatModel, Message, ProviderError
from pipeline.llm.ollama_provider import OllamaChat
from pipeline.llm.openai_provider import OpenAIChat
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.chat_wire import FakeChatAPI
from tests.fakes.ollama_api import FakeOllama
from tests.fakes.openai_api import FakeOpenAI

SCHEMA: dict[str, object] = {
    "title": "Angles",
    "type": "object",
    "properties": {"angles": {"type": "array", "items": {"type": "string"}}},
    "required": ["angles"],
}
MESSAGES = [
    Message(role="system", content="You suggest angles."),
    Message(role="user", content="<user_idea>octopus hearts</user_idea>"),
]
ANSWER = {"angles": ["Three hearts, one blue blood"]}


def openai_model(api: FakeChatAPI, key: str | None = None) -> ChatModel:
    assert isinstance(api, FakeOpenAI)
    return OpenAIChat("gpt-4o-mini", api_key=key or api.api_key, base_url=api.base_url)


def anthropic_model(api: FakeChatAPI, key: str | None = None) -> ChatModel:
    assert isinstance(api, FakeAnthropic)
    return AnthropicChat("claude-haiku-4-5", api_key=key or api.api_key, base_url=api.base_url)


def ollama_model(api: FakeChatAPI, key: str | None = None) -> ChatModel:
    assert isinstance(api, FakeOllama)
    return OllamaChat("llama3.2", host=api.host)


PROVIDERS: dict[str, tuple[type[FakeChatAPI], Callable[..., ChatModel]]] = {
    "openai": (FakeOpenAI, openai_model),
    "anthropic": (FakeAnthropic, anthropic_model),
    "ollama": (FakeOllama, ollama_model),
}


@pytest.fixture(params=sorted(PROVIDERS))
def wired(request: pytest.FixtureRequest) -> Iterator[tuple[FakeChatAPI, ChatModel]]:
    fake_class, connect = PROVIDERS[request.param]
    with fake_class() as api:
        yield api, connect(api)


def test_answers_with_text_and_token_counts(wired: tuple[FakeChatAPI, ChatModel]) -> None:
    api, model = wired
    api.answer(ANSWER)
    completion = model.complete(MESSAGES, json_schema=SCHEMA, temperature=0.2, max_tokens=300)
    assert json.loads(completion.text) == ANSWER
    assert (completion.provider, completion.model) == (model.provider, model.model)
    assert (completion.input_tokens, completion.output_tokens) == api.requests[0].usage
    assert completion.input_tokens > 0
    assert completion.seconds >= 0


def test_openai_request_shape() -> None:
    with FakeOpenAI() as api:
        api.answer(ANSWER)
        openai_model(api).complete(MESSAGES, json_schema=SCHEMA, temperature=0.2, max_tokens=300)
        body = api.requests[0].body
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == [{"role": m.role, "content": m.content} for m in MESSAGES]
    assert (body["temperature"], body["max_tokens"]) == (0.2, 300)
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Angles", "schema": SCHEMA},
    }


def test_openai_without_schema_sends_no_response_format() -> None:
    with FakeOpenAI() as api:
        api.answer("plain words")
        completion = openai_model(api).complete(MESSAGES)
        assert "response_format" not in api.requests[0].body
    assert completion.text == "plain words"


def test_anthropic_request_shape() -> None:
    with FakeAnthropic() as api:
        api.answer(ANSWER)
        anthropic_model(api).complete(MESSAGES, json_schema=SCHEMA, max_tokens=300)
        call = api.requests[0]
    assert call.path == "/v1/messages"
    assert call.body["messages"] == [{"role": "user", "content": MESSAGES[1].content}]
    assert call.body["system"].startswith("You suggest angles.")
    assert json.dumps(SCHEMA) in call.body["system"]
    assert call.body["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    assert call.body["max_tokens"] == 300
    assert call.headers["anthropic-version"]


def test_ollama_request_shape() -> None:
    with FakeOllama() as api:
        api.answer(ANSWER)
        ollama_model(api).complete(MESSAGES, json_schema=SCHEMA, temperature=0.2, max_tokens=300)
        body = api.requests[0].body
    assert body["format"] == SCHEMA
    assert body["stream"] is False
    assert body["options"] == {"temperature": 0.2, "num_predict": 300}
    assert body["messages"][0] == {"role": "system", "content": "You suggest angles."}


@pytest.mark.parametrize(("mode", "words"), [("500", "HTTP 500"), ("429", "rate-limiting")])
def test_http_failures_become_provider_errors(
    wired: tuple[FakeChatAPI, ChatModel], mode: str, words: str
) -> None:
    api, model = wired
    api.fail_next(1, mode)
    with pytest.raises(ProviderError) as caught:
        model.complete(MESSAGES, json_schema=SCHEMA)
    if model.provider != "ollama" or mode == "500":
        assert words in str(caught.value) or "HTTP 429" in str(caught.value)
    assert model.model in str(caught.value)


def test_timeout_becomes_provider_error(wired: tuple[FakeChatAPI, ChatModel]) -> None:
    api, model = wired
    api.fail_next(1, "hang")
    with pytest.raises(ProviderError, match="did not answer in time"):
        model.complete(MESSAGES, timeout=0.3)


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_refused_connection_becomes_provider_error(provider: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fake_class, connect = PROVIDERS[provider]
    api = fake_class()
    api.url = f"http://127.0.0.1:{port}"
    with pytest.raises(ProviderError, match="could not be reached"):
        connect(api).complete(MESSAGES, timeout=2)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_refused_key_is_never_repeated(provider: str) -> None:
    fake_class, connect = PROVIDERS[provider]
    wrong = "sk-wrong-key-that-must-not-leak-42"
    with fake_class() as api:
        with pytest.raises(ProviderError) as caught:
            connect(api, wrong).complete(MESSAGES)
        assert api.requests[0].status == 401
    assert "401" in str(caught.value)
    assert wrong not in str(caught.value)
    assert wrong not in repr(caught.value.__cause__) + repr(caught.value.__context__)
