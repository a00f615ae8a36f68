"""Metrics where they are counted, read back the way Prometheus reads them.

- `/metrics` on the bot's app: RQ queue depths read from Redis at scrape time; who may scrape
  (a private address without a proxy's header, or the bearer token); every response's
  `X-Trace-Id`.
- A due schedule's lag, an LLM call's tokens and cost, a publish outcome by target kind.
- A real `novacast scheduler` serves its metrics on NOVACAST_METRICS_PORT and logs JSON lines.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue

from bot.events import Conversation, ReplyTarget
from bot.project import Project, ProjectStore
from bot.schedule_store import Schedule, ScheduleKind, ScheduleStore
from novacast.server import build_app, media_links
from pipeline.llm.base import Completion
from pipeline.llm.config import Price
from pipeline.llm.usage import UsageLedger
from pipeline.publish import PublishRequest
from pipeline.settings import load_settings
from pipeline.writers.offline import OfflineWriter
from workers.catalog import PUBLISH_FUNCTION, PUBLISH_QUEUE, SERIALIZER
from workers.due_schedules import Scheduler
from workers.publishing import PublishRun

CHAT = Conversation(adapter="console", workspace="local", channel="terminal", user="you")


def value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def scrape(client: TestClient, **headers: str) -> tuple[int, str]:  # type: ignore[type-arg]
    response = await client.get("/metrics", headers=headers)
    return response.status, await response.text()


async def test_metrics_has_the_queue_depths_read_at_scrape_time(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    app = build_app(redis_conn, [], media_links(load_settings(), redis_conn))
    queue = Queue(PUBLISH_QUEUE, connection=redis_conn, serializer=SERIALIZER)
    for n in range(2):
        queue.enqueue_call(PUBLISH_FUNCTION, args=(f"p{n}", 1, "you", {}))
    async with TestClient(TestServer(app)) as client:
        status, text = await scrape(client)
        assert status == 200
        depths = {
            sample.labels["queue"]: sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "novacast_queue_depth"
            for sample in family.samples
        }
        assert depths[PUBLISH_QUEUE] == 2
        assert depths["novacast-preview-0"] == 0
        queue.empty()  # type: ignore[no-untyped-call]
        _, again = await scrape(client)
        assert f'novacast_queue_depth{{queue="{PUBLISH_QUEUE}"}} 0.0' in again


async def test_who_may_scrape(
    redis_conn: redis.Redis, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(redis_conn, [], media_links(load_settings(), redis_conn))
    async with TestClient(TestServer(app)) as client:
        assert (await scrape(client))[0] == 200  # 127.0.0.1, directly
        assert (await scrape(client, **{"X-Forwarded-For": "203.0.113.9"}))[0] == 403
        monkeypatch.setenv("NOVACAST_METRICS_TOKEN", "scrape-token-1234")
        assert (await scrape(client))[0] == 403
        assert (await scrape(client, Authorization="Bearer wrong"))[0] == 403
        ok, _ = await scrape(client, Authorization="Bearer scrape-token-1234",
                             **{"X-Forwarded-For": "203.0.113.9"})
        assert ok == 200


async def test_every_response_names_its_trace_id(redis_conn: redis.Redis, data_dir: Path) -> None:
    app = build_app(redis_conn, [], media_links(load_settings(), redis_conn))
    async with TestClient(TestServer(app)) as client:
        ok = await client.get("/healthz")
        missing = await client.get("/media/forged/video.mp4")
        ids = {ok.headers["X-Trace-Id"], missing.headers["X-Trace-Id"]}
    assert missing.status == 404
    assert len(ids) == 2
    assert all(len(i) == 12 for i in ids)


def test_a_late_schedule_is_counted_with_its_lag(redis_conn: redis.Redis) -> None:
    store = ScheduleStore(redis_conn)
    now = datetime.now(UTC)
    store.add(Schedule(
        kind=ScheduleKind.MAKE, conversation=CHAT, target=ReplyTarget.of(CHAT),
        created_by="you", timezone="UTC", description="once", idea="octopus hearts",
        next_at=now - timedelta(seconds=30)))
    count, total = value("novacast_schedule_lag_seconds_count"), value(
        "novacast_schedule_lag_seconds_sum")
    assert Scheduler(redis_conn).tick(now) == 1
    assert value("novacast_schedule_lag_seconds_count") == count + 1
    assert value("novacast_schedule_lag_seconds_sum") - total == pytest.approx(30, abs=0.01)
    (job_id,) = Queue("novacast-render", connection=redis_conn, serializer=SERIALIZER).job_ids
    job = Queue("novacast-render", connection=redis_conn, serializer=SERIALIZER).fetch_job(job_id)
    assert job is not None
    assert len(job.meta["trace_id"]) == 12  # the firing's own trace id, carried by its job


def test_llm_tokens_and_cost_by_provider_and_model(redis_conn: redis.Redis) -> None:
    ledger = UsageLedger(redis_conn, prices={"gpt-test": Price(input=2.0, output=8.0)})
    labels = {"provider": "openai", "model": "gpt-test"}
    before = value("novacast_llm_cost_usd_total", labels)
    ledger.add("p1", Completion(text="…", provider="openai", model="gpt-test",
                                input_tokens=1000, output_tokens=500, seconds=0.5))
    assert value("novacast_llm_tokens_total", {**labels, "direction": "input"}) >= 1000
    assert value("novacast_llm_tokens_total", {**labels, "direction": "output"}) >= 500
    assert value("novacast_llm_cost_usd_total", labels) - before == pytest.approx(0.006)
    assert ledger.totals("p1").cost_usd == pytest.approx(0.006)


def test_publish_outcomes_by_target_kind(redis_conn: redis.Redis, data_dir: Path) -> None:
    script = OfflineWriter().script("why the sea is salty", 20)
    project = ProjectStore(redis_conn).create(Project.start(CHAT, script))
    video = data_dir / "video.mp4"

    def publish_once() -> None:
        run = PublishRun(redis_conn, project, 1)
        run.run(PublishRequest(video=video, workspace="local", project_id=project.id, version=1,
                               title=script.title, approved_by="you",
                               approved_at=datetime.now(UTC)))

    failed, done = ({"kind": "folder", "outcome": o} for o in ("failed", "done"))
    before = value("novacast_publishes_total", failed), value("novacast_publishes_total", done)
    publish_once()  # no video: fails for good
    assert value("novacast_publishes_total", failed) == before[0] + 1
    video.write_bytes(b"\x00" * 64)
    PublishRun(redis_conn, project, 1).ledger.forget_failures()  # as Retry does
    publish_once()
    assert value("novacast_publishes_total", done) == before[1] + 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_a_real_scheduler_serves_metrics_and_logs_json(
    redis_url: str, redis_conn: redis.Redis, data_dir: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOVACAST_LOG")}
    env |= {"REDIS_URL": redis_url, "NOVACAST_DATA_DIR": str(data_dir),
            "NOVACAST_METRICS_PORT": f"{port}-{port + 5}"}
    log_path = data_dir / "scheduler.log"
    with log_path.open("wb") as log:
        child = subprocess.Popen([sys.executable, "-m", "novacast", "scheduler"], env=env,
                                 stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        text = ""
        while not text and time.monotonic() < deadline:
            assert child.poll() is None, log_path.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    text = r.read().decode()
            except OSError:
                time.sleep(0.1)
        names = {family.name for family in text_string_to_metric_families(text)}
        assert "novacast_schedule_lag_seconds" in names
        assert "process_resident_memory_bytes" in names
    finally:
        child.terminate()
        child.wait(timeout=30)
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    assert any(r["message"].startswith("scheduler ") and r["message"].endswith(" started")
               for r in records)
    assert {r["role"] for r in records} == {"scheduler"}
