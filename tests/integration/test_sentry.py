"""Error reports reach Sentry (a fake of its envelope endpoint) with the trace id as a tag and
without what a user typed or any credential.

A real failing request (the bot's own aiohttp app, an adapter route that fails while it holds
a token and a user's words) and a real failing job (a NovacastWorker running a publish whose
approved video is gone, for a project whose idea and requester are planted) each produce an
envelope; a fake token is planted in the environment (as a platform token, in REDIS_URL's
password and as NOVACAST_SECRET_KEYS) and the user's text in the request body, the job's
arguments and the exception's message. None of them may appear in anything Sentry received.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest
import redis
import sentry_sdk
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from rq import Queue

from bot.events import Conversation, ReplyTarget
from bot.project import Project, ProjectState, ProjectStore
from novacast.observability import Redactor, init_sentry, scrub_event, secret_values
from novacast.server import build_app, media_links
from novacast.wiring import install_worker_runtime
from pipeline import telemetry
from pipeline.settings import load_settings
from pipeline.writers.offline import OfflineWriter
from tests.fakes.sentry import SentryFake
from workers.catalog import QUEUES, SERIALIZER
from workers.queues import RQJobQueue
from workers.worker import NovacastWorker

TOKEN = "123456:AAplanted-telegram-token-Zq9"
PASSWORD = "planted-redis-password-77"
SEALING_KEY = "planted-sealing-key-0123456789abcdef0123456="
WORDS = "my private idea about Aunt Mathilda's diary"
USER = "U-planted-person-4711"


@pytest.fixture
def sentry(monkeypatch: pytest.MonkeyPatch) -> Iterator[SentryFake]:
    with SentryFake() as fake:
        env = {"SENTRY_DSN": fake.dsn, "TELEGRAM_BOT_TOKEN": TOKEN,
               "NOVACAST_SECRET_KEYS": SEALING_KEY,
               "REDIS_URL": f"redis://:{PASSWORD}@redis.invalid:6379/0"}
        assert init_sentry("test", env)
        yield fake
        sentry_sdk.get_client().close()
        sentry_sdk.init()  # no DSN: reporting off for the tests after this one


def wait_for_events(fake: SentryFake, count: int = 1) -> list[dict[str, Any]]:
    sentry_sdk.flush(timeout=10)
    deadline = time.monotonic() + 10
    while len(fake.events()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return fake.events()


def assert_clean(fake: SentryFake) -> None:
    received = fake.text()
    for planted in (TOKEN, TOKEN.split(":")[1], PASSWORD, SEALING_KEY, WORDS, "Mathilda", USER):
        assert planted not in received, planted


class FailingAdapter:
    """A chat adapter whose webhook fails while holding a token and a user's words."""

    name = "failing"

    def __init__(self) -> None:
        self.traces: list[str | None] = []

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/failing/hook", self._hook)]

    async def _hook(self, request: web.Request) -> web.Response:
        text = await request.text()
        self.traces.append(telemetry.trace_id())
        token = request.headers["Authorization"]
        raise RuntimeError(f"could not handle {text!r} with {token}")

    @property
    def connected(self) -> bool:
        return True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


async def test_a_failing_request_is_reported_with_its_trace_id_and_nothing_private(
    sentry: SentryFake, redis_conn: redis.Redis, data_dir: Path
) -> None:
    adapter = FailingAdapter()
    app = build_app(redis_conn, [adapter], media_links(load_settings(), redis_conn))
    async with TestClient(TestServer(app)) as client:
        response = await client.post(
            f"/failing/hook?token={TOKEN}", data=WORDS,
            headers={"Authorization": f"Bearer {TOKEN}", "Cookie": f"session={TOKEN}",
                     "X-Slack-Signature": TOKEN},
        )
        assert response.status == 500
    (event,) = wait_for_events(sentry)
    (trace,) = adapter.traces
    assert trace is not None
    assert event["tags"]["trace_id"] == trace
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["request"]["url"].endswith("/failing/hook")
    assert_clean(sentry)


def test_a_failing_job_is_reported_with_the_trace_id_it_was_enqueued_with(
    sentry: SentryFake, redis_conn: redis.Redis, data_dir: Path
) -> None:
    chat = Conversation(adapter="console", workspace="local", channel="terminal", user=USER)
    script = OfflineWriter().script(WORDS, 20)
    store = ProjectStore(redis_conn)
    project = store.create(Project.start(chat, script))
    store.update(project.id, lambda p: p.evolve(
        state=ProjectState.APPROVED, rendered_version=1, approved_by=USER,
        video_path=str(data_dir / "gone.mp4")))
    with telemetry.traced() as trace:  # as the bot's core does when Approve is pressed
        RQJobQueue(redis_conn).publish(project.id, 1, USER, ReplyTarget.of(chat))
    install_worker_runtime(redis_conn)
    queues = [Queue(q, connection=redis_conn, serializer=SERIALIZER) for q in QUEUES]
    NovacastWorker(queues, connection=redis_conn, serializer=SERIALIZER).work(burst=True)

    events = wait_for_events(sentry)
    assert events, "no envelope for the failed job"
    assert {e["tags"]["trace_id"] for e in events} == {trace}
    assert any(e.get("extra", {}).get("rq-job", {}).get("func") == "workers.publishing.publish"
               for e in events)
    raised = [v for e in events for v in e.get("exception", {}).get("values", [])]
    assert [(v["type"], v["value"]) for v in raised] == [("PermanentError", "")]  # RQ's report
    assert_clean(sentry)


def test_scrub_event_leaves_no_words_no_secrets_and_keeps_the_shape() -> None:
    redact = Redactor(secret_values({"SLACK_BOT_TOKEN": TOKEN, "OPENAI_API_KEY": SEALING_KEY,
                                     "REDIS_URL": f"redis://:{PASSWORD}@host/0"}))
    frame = {"filename": "workers/render_jobs.py", "lineno": 3, "vars": {"text": WORDS}}
    event: dict[str, Any] = {
        "message": f"failed with {TOKEN}",
        "exception": {"values": [{"type": "ValueError", "value": WORDS,
                                  "stacktrace": {"frames": [frame]}}]},
        "threads": {"values": [{"stacktrace": {"frames": [dict(frame)]}}]},
        "request": {"url": f"http://bot/media/{TOKEN}/v.mp4?sig={TOKEN}", "data": WORDS,
                    "cookies": {"s": TOKEN}, "query_string": f"t={TOKEN}",
                    "headers": {"Authorization": TOKEN, "Content-Type": "text/plain"}},
        "breadcrumbs": {"values": [{"message": WORDS}]},
        "user": {"id": USER},
        "extra": {"rq-job": {"job_id": "nc-1", "func": "workers.x.y", "args": [WORDS],
                             "description": f"workers.x.y({WORDS!r}, {USER!r})"},
                  "note": f"password {PASSWORD}"},
    }
    with telemetry.traced("feedc0ffee12"):
        scrubbed = scrub_event(event, redact)
    text = repr(scrubbed)
    for planted in (TOKEN, PASSWORD, SEALING_KEY, WORDS, USER):
        assert planted not in text, planted
    assert scrubbed["tags"] == {"trace_id": "feedc0ffee12"}
    assert scrubbed["exception"]["values"][0]["type"] == "ValueError"
    assert scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]["lineno"] == 3
    assert scrubbed["request"]["headers"] == {"Content-Type": "text/plain"}
    assert scrubbed["request"]["url"] == "http://bot/media/<token>/v.mp4"
    assert scrubbed["extra"]["rq-job"] == {"job_id": "nc-1", "func": "workers.x.y"}
