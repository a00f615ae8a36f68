"""The trace id's rules (one per inbound event, a request's shared with the event it carries,
kept across the core's thread pool and into job meta) and the metric names' contract."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from typing import cast

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot.actions import Action
from bot.engine import Engine
from bot.events import Event
from novacast.server import make_dispatch
from pipeline import telemetry


def ack_count(adapter: str) -> float:
    return REGISTRY.get_sample_value("novacast_ack_seconds_count", {"adapter": adapter}) or 0.0


def test_traced_sets_a_new_id_and_puts_the_old_one_back() -> None:
    assert telemetry.trace_id() is None
    with telemetry.traced() as outer:
        assert re.fullmatch(r"[0-9a-f]{12}", outer)
        with telemetry.traced("abc123abc123") as inner:
            assert telemetry.trace_id() == inner == "abc123abc123"
            assert telemetry.reference() == " (ref abc123abc123)"
        assert telemetry.trace_id() == outer
    assert telemetry.trace_id() is None
    assert telemetry.reference() == ""


async def test_a_request_shares_its_id_with_the_first_event_only() -> None:
    async def request_with_two_events() -> tuple[str, str, str]:
        request = telemetry.request_arrived()
        first = telemetry.event_arrived()
        second = telemetry.event_arrived()
        return request, first, second

    request, first, second = await asyncio.create_task(request_with_two_events())
    assert first == request
    assert second != request


async def test_each_inbound_is_acked_once_into_the_histogram() -> None:
    async def acked_twice() -> None:
        telemetry.event_arrived()
        telemetry.acked("unit")
        telemetry.acked("unit")

    before = ack_count("unit")
    await asyncio.create_task(acked_twice())
    await asyncio.create_task(acked_twice())
    assert ack_count("unit") == before + 2


async def test_no_ack_is_counted_outside_an_inbound_context() -> None:
    async def stray() -> None:
        telemetry.acked("unit-stray")

    await asyncio.create_task(stray())
    assert ack_count("unit-stray") == 0


def test_job_meta_carries_the_trace_id() -> None:
    assert telemetry.job_meta() == {}
    with telemetry.traced("0123456789ab"):
        meta = telemetry.job_meta()
    assert meta == {"trace_id": "0123456789ab"}
    assert telemetry.job_trace_id(meta) == "0123456789ab"
    assert telemetry.job_trace_id({}) is None
    assert telemetry.job_trace_id({"trace_id": 5}) is None


class SeesTrace:
    """A core that records the trace id it runs under."""

    def __init__(self) -> None:
        self.seen: list[str | None] = []

    def handle(self, event: Event) -> list[Action]:
        del event
        self.seen.append(telemetry.trace_id())
        return []


async def test_the_core_runs_under_the_events_trace_id_in_its_thread() -> None:
    core = SeesTrace()
    dispatch = make_dispatch(cast(Engine, core))

    async def one_event() -> str:
        trace = telemetry.event_arrived()
        await dispatch(cast(Event, object()))
        return trace

    trace = await asyncio.create_task(one_event())
    assert core.seen == [trace]


async def test_run_in_executor_alone_would_lose_it() -> None:
    """Why make_dispatch copies the context: the control."""
    with ThreadPoolExecutor(1) as pool, telemetry.traced():
        seen = await asyncio.get_running_loop().run_in_executor(pool, telemetry.trace_id)
    assert seen is None


async def test_an_event_without_an_adapter_trace_gets_one_in_the_core() -> None:
    core = SeesTrace()
    dispatch = make_dispatch(cast(Engine, core))

    async def untraced_event() -> None:
        await dispatch(cast(Event, object()))

    await asyncio.create_task(untraced_event())
    (seen,) = core.seen
    assert seen is not None


def test_every_declared_metric_is_exported_under_its_name() -> None:
    telemetry.count_event("unit", "make")
    telemetry.count_job("voice", "ok", 0.1)
    telemetry.count_publish("folder", "done")
    telemetry.schedule_fired(0.2)
    telemetry.llm_used("offline", "m", 1, 2, 0.0)
    with telemetry.rendering("preview"):
        pass
    telemetry.watch_queues(["q"], lambda queues: [3 for _ in queues])
    with telemetry.traced():
        telemetry.event_arrived()
        telemetry.acked("unit")
    text = generate_latest(REGISTRY).decode()
    exported: set[str] = set()
    for family in text_string_to_metric_families(text):
        exported.update(sample.name for sample in family.samples)
    for name in telemetry.METRIC_NAMES:
        assert name in exported or f"{name}_count" in exported, name
    assert REGISTRY.get_sample_value("novacast_queue_depth", {"queue": "q"}) == 3


def test_a_queue_depth_that_cannot_be_read_is_no_sample_not_a_failed_scrape() -> None:
    def unreachable(queues: list[str]) -> list[int]:
        raise ConnectionError("redis away")

    telemetry.watch_queues(["q"], unreachable)
    text = generate_latest(REGISTRY).decode()
    assert "# TYPE novacast_queue_depth gauge" in text
    assert REGISTRY.get_sample_value("novacast_queue_depth", {"queue": "q"}) is None
