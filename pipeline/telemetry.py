"""Every metric NOVACAST exports, and the trace id that follows one request through it.

The bottom floor on purpose: the adapters, the core, the jobs and the LLM ledger all count
into these, and none of them configures anything. The entry point (`novacast.observability`)
serves them (`/metrics` on the bot, a port per worker) and puts the trace id on log lines and
error reports. Names are the contract the dashboard (`deploy/grafana/`) and alerts use; labels
take only bounded values (adapters, intents, steps, target kinds, model names), never an id.

The trace id is a contextvar: set once per inbound chat event or HTTP request
(`event_arrived`, `request_arrived`), stored in the meta of every RQ job enqueued under it
(`job_meta`) and restored in the worker that runs the job (`traced`), so one grep finds the
chat event, each render step and the publish. Threads do not inherit contextvars by
themselves: a pool that runs work for an event runs it in `contextvars.copy_context()`
(`asyncio.to_thread` does; `loop.run_in_executor` does not).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# --- metrics ---------------------------------------------------------------------------------

EVENTS = Counter(
    "novacast_events",
    "Chat events the core answered, by adapter and by the intent it read.",
    ["adapter", "intent"],
)
ACK_SECONDS = Histogram(
    "novacast_ack_seconds",
    "From an inbound event's arrival to the platform's acknowledgement (webhook 200, Slack "
    "ack, Discord deferral, Telegram callback answer).",
    ["adapter"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
)
JOBS = Counter(
    "novacast_jobs",
    "RQ jobs run, by step (voice, captions, preview, full, checks, publish, fire, prefetch, "
    "ahead) and outcome (ok, retried, failed).",
    ["step", "outcome"],
)
JOB_SECONDS = Histogram(
    "novacast_job_seconds",
    "Wall time of one run of an RQ job, by step.",
    ["step"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900),
)
RENDER_SECONDS = Histogram(
    "novacast_render_seconds",
    "Seconds ffmpeg work took to make one video, by profile (preview, full); videos found "
    "already made are not counted.",
    ["profile"],
    buckets=(1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900),
)
PUBLISHES = Counter(
    "novacast_publishes",
    "Publish attempts to one target, by target kind and outcome (done, failed, retry).",
    ["kind", "outcome"],
)
SCHEDULE_LAG_SECONDS = Histogram(
    "novacast_schedule_lag_seconds",
    "How late a due schedule fired: firing time minus the time it was due.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)
LLM_TOKENS = Counter(
    "novacast_llm_tokens",
    "Tokens sent to and received from language models, by provider, model and direction "
    "(input, output).",
    ["provider", "model", "direction"],
)
LLM_COST = Counter(
    "novacast_llm_cost_usd",
    "What language-model calls cost in US dollars (models.yaml prices), by provider and model.",
    ["provider", "model"],
)
QUEUE_DEPTH = "novacast_queue_depth"
"""Jobs waiting in each RQ queue, read from Redis at scrape time (`QueueDepth`)."""

METRIC_NAMES = frozenset(
    {
        "novacast_events_total",
        "novacast_ack_seconds",
        "novacast_jobs_total",
        "novacast_job_seconds",
        "novacast_render_seconds",
        "novacast_publishes_total",
        "novacast_schedule_lag_seconds",
        "novacast_llm_tokens_total",
        "novacast_llm_cost_usd_total",
        QUEUE_DEPTH,
    }
)
"""Every series family name NOVACAST exports (histograms add `_bucket`, `_sum`, `_count`)."""


class QueueDepth(Collector):
    """`novacast_queue_depth{queue}`: the length of each named RQ queue, read when scraped
    (one pipelined LLEN per scrape; nothing kept in between). `length` reads one queue's
    Redis list; the entry point binds it to its connection, so this module needs no Redis."""

    def __init__(self, queues: Iterable[str], lengths: Callable[[list[str]], list[int]]) -> None:
        self._queues = list(queues)
        self._lengths = lengths

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(QUEUE_DEPTH, "Jobs waiting in each RQ queue.", labels=["queue"])
        try:
            lengths = self._lengths(self._queues)
        except Exception:  # Redis away: no sample, rather than a failed scrape
            lengths = []
        for queue, length in zip(self._queues, lengths, strict=False):
            family.add_metric([queue], float(length))
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(QUEUE_DEPTH, "Jobs waiting in each RQ queue.", labels=["queue"])


def watch_queues(
    queues: Iterable[str],
    lengths: Callable[[list[str]], list[int]],
    registry: CollectorRegistry = REGISTRY,
) -> QueueDepth:
    """Register a `QueueDepth` collector (once per process; a second call replaces the first)."""
    collector = QueueDepth(queues, lengths)
    previous = _Registered.queue_depth
    if previous is not None:
        registry.unregister(previous)
    registry.register(collector)
    _Registered.queue_depth = collector
    return collector


class _Registered:
    queue_depth: QueueDepth | None = None


def count_event(adapter: str, intent: str) -> None:
    """One event the core read (INFO: the adapter and the intent, never the words)."""
    EVENTS.labels(adapter=adapter, intent=intent).inc()
    log.info("%s event read as %s", adapter, intent)


def count_job(step: str, outcome: str, seconds: float) -> None:
    JOBS.labels(step=step, outcome=outcome).inc()
    JOB_SECONDS.labels(step=step).observe(seconds)


def count_publish(kind: str, outcome: str) -> None:
    PUBLISHES.labels(kind=kind, outcome=outcome).inc()


def schedule_fired(lag_seconds: float) -> None:
    SCHEDULE_LAG_SECONDS.observe(max(0.0, lag_seconds))


def llm_used(provider: str, model: str, input_tokens: int, output_tokens: int, cost: float) -> None:
    LLM_TOKENS.labels(provider=provider, model=model, direction="input").inc(input_tokens)
    LLM_TOKENS.labels(provider=provider, model=model, direction="output").inc(output_tokens)
    LLM_COST.labels(provider=provider, model=model).inc(cost)


@contextmanager
def rendering(profile: str) -> Iterator[None]:
    """Time one video's making into `novacast_render_seconds` (only when it succeeds)."""
    started = time.perf_counter()
    yield
    RENDER_SECONDS.labels(profile=profile).observe(time.perf_counter() - started)


# --- the trace id ------------------------------------------------------------------------------

TRACE_META = "trace_id"
"""The `job.meta` key a job's trace id travels under."""
TRACE_BYTES = 6
"""12 hex characters: short enough to read out of a chat ("ref 7f3a9c12e4b1"), unique enough
to grep a week of logs."""

_TRACE: ContextVar[str | None] = ContextVar("novacast_trace_id", default=None)


@dataclass
class Inbound:
    """One inbound request or event being answered: when it arrived, whether it was acked, and
    whether an event already took over a request's trace id."""

    trace_id: str
    started: float
    acked: bool = False
    claimed: bool = False


_INBOUND: ContextVar[Inbound | None] = ContextVar("novacast_inbound", default=None)


def new_trace_id() -> str:
    return secrets.token_hex(TRACE_BYTES)


def trace_id() -> str | None:
    """The trace id of what this context is working on, if any."""
    return _TRACE.get()


def set_trace_id(value: str | None) -> None:
    """Make `value` this context's trace id (None clears it)."""
    _TRACE.set(value)


@contextmanager
def traced(value: str | None = None) -> Iterator[str]:
    """Run a block under `value` (a new id when None), then put back the trace id before it."""
    current = value or new_trace_id()
    token = _TRACE.set(current)
    try:
        yield current
    finally:
        _TRACE.reset(token)


def request_arrived() -> str:
    """An HTTP request came in (the bot's middleware): a new trace id, the arrival time kept
    for its acknowledgement, and an event read from it (a webhook) shares its trace id."""
    inbound = Inbound(new_trace_id(), time.perf_counter())
    _INBOUND.set(inbound)
    _TRACE.set(inbound.trace_id)
    return inbound.trace_id


def event_arrived() -> str:
    """A chat event came in: the request's trace id when it came in an HTTP request no event
    has taken yet, else a new one. Call it first thing where the adapter receives the event,
    in the task that answers it."""
    inbound = _INBOUND.get()
    if inbound is None or inbound.claimed:
        inbound = Inbound(new_trace_id(), time.perf_counter())
        _INBOUND.set(inbound)
    inbound.claimed = True
    _TRACE.set(inbound.trace_id)
    return inbound.trace_id


def event_trace() -> str:
    """The trace id of the event being dispatched: the one its adapter set with
    `event_arrived`, else (an adapter that did not) as `event_arrived` would choose."""
    inbound = _INBOUND.get()
    current = _TRACE.get()
    if inbound is not None and inbound.claimed and current:
        return current
    return event_arrived()


def acked(adapter: str) -> None:
    """The platform was just acknowledged for this context's inbound request or event: its
    latency goes to `novacast_ack_seconds` once (later calls are no-ops)."""
    inbound = _INBOUND.get()
    if inbound is None or inbound.acked:
        return
    inbound.acked = True
    ACK_SECONDS.labels(adapter=adapter).observe(time.perf_counter() - inbound.started)


def job_meta() -> dict[str, Any]:
    """What a job enqueued now carries in its meta: the current trace id, if any."""
    current = _TRACE.get()
    return {TRACE_META: current} if current else {}


def job_trace_id(meta: dict[str, Any]) -> str | None:
    """The trace id a job's meta carries (None for jobs enqueued without one)."""
    value = meta.get(TRACE_META)
    return value if isinstance(value, str) and value else None


def reference() -> str:
    """" (ref 7f3a9c12e4b1)" for a sentence telling a user something failed, so an operator
    can grep the logs for it; "" outside a trace."""
    current = _TRACE.get()
    return f" (ref {current})" if current else ""


__all__ = [
    "ACK_SECONDS",
    "EVENTS",
    "JOBS",
    "JOB_SECONDS",
    "LLM_COST",
    "LLM_TOKENS",
    "METRIC_NAMES",
    "PUBLISHES",
    "QUEUE_DEPTH",
    "RENDER_SECONDS",
    "SCHEDULE_LAG_SECONDS",
    "TRACE_META",
    "Inbound",
    "QueueDepth",
    "acked",
    "count_event",
    "count_job",
    "count_publish",
    "event_arrived",
    "event_trace",
    "job_meta",
    "job_trace_id",
    "llm_used",
    "new_trace_id",
    "reference",
    "rendering",
    "request_arrived",
    "schedule_fired",
    "set_trace_id",
    "trace_id",
    "traced",
    "watch_queues",
]
