"""The schedule store and the scheduler loop against a real Redis: exactly-once firing."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from redis.client import Pipeline
from rq import Queue
from rq.job import Job

from bot.events import Conversation, ReplyTarget
from bot.schedule_store import (
    GRACE,
    MAX_ACTIVE_PER_WORKSPACE,
    Schedule,
    ScheduleKind,
    ScheduleRefusal,
    ScheduleState,
    ScheduleStore,
)
from novacast.cli import main
from workers.catalog import FIRE_FUNCTION, PUBLISH_QUEUE, RENDER_QUEUE, SERIALIZER
from workers.due_schedules import (
    Scheduler,
    fire_job,
    fire_job_id,
    live_schedulers,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
"""A Monday, 10:00 UTC."""


def conversation(workspace: str = "T1", adapter: str = "slack", user: str = "U1") -> Conversation:
    return Conversation(adapter=adapter, workspace=workspace, channel="C1", user=user)


def schedule(
    *,
    at: datetime = T0,
    cron: str | None = None,
    kind: ScheduleKind = ScheduleKind.PUBLISH,
    timezone: str = "UTC",
    workspace: str = "T1",
    adapter: str = "slack",
    project_id: str = "abc123",
) -> Schedule:
    chat = conversation(workspace, adapter)
    extra: dict[str, object] = (
        {"project_id": project_id, "version": 2}
        if kind is ScheduleKind.PUBLISH
        else {"idea": "30s space-news recap"}
    )
    return Schedule(
        kind=kind,
        conversation=chat,
        target=ReplyTarget.of(chat),
        created_by=chat.user,
        created_by_name="Ada",
        created_at=T0 - timedelta(days=7),
        timezone=timezone,
        description="in words",
        cron=cron,
        next_at=at,
        **extra,
    )


class Fired:
    """A `fire` callable that records what it was asked to fire (and writes nothing)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, datetime]] = []
        self._lock = threading.Lock()

    def __call__(self, item: Schedule, fire_at: datetime, pipeline: Pipeline) -> None:
        with self._lock:
            self.calls.append((item.id, fire_at))


@pytest.fixture
def store(redis_conn: redis.Redis) -> ScheduleStore:
    return ScheduleStore(redis_conn)


def queued_ids(connection: redis.Redis) -> list[str]:
    return [
        job_id.decode()
        for name in (PUBLISH_QUEUE, RENDER_QUEUE)
        for job_id in connection.lrange(f"rq:queue:{name}", 0, -1)
    ]


# --- the model ----------------------------------------------------------------------------


def test_ids_are_short_and_url_safe_for_a_button_payload() -> None:
    ids = {schedule().id for _ in range(200)}
    assert len(ids) == 200
    for schedule_id in ids:
        assert len(schedule_id) <= 12
        assert all(c.isalnum() or c in "-_" for c in schedule_id)
        assert len(f"nc1:unschedule:{schedule_id}".encode()) <= 64  # Telegram's callback cap


def test_times_are_stored_in_utc_and_naive_times_are_refused() -> None:
    paris = schedule(at=datetime(2026, 7, 1, 9, 0).astimezone(UTC), timezone="Europe/Paris")
    assert paris.next_at is not None
    assert paris.next_at.tzinfo is UTC
    with pytest.raises(ValueError, match="timezone"):
        schedule(at=datetime(2026, 7, 1, 9, 0))
    with pytest.raises(ValueError, match="time zone"):
        schedule(timezone="Mars/Olympus")


def test_kind_fields_are_checked() -> None:
    chat = conversation()
    with pytest.raises(ValueError, match="project"):
        Schedule(
            kind=ScheduleKind.PUBLISH,
            conversation=chat,
            target=ReplyTarget.of(chat),
            created_by="U1",
            timezone="UTC",
            description="x",
            next_at=T0,
        )
    with pytest.raises(ValueError, match="idea"):
        Schedule(
            kind=ScheduleKind.MAKE,
            conversation=chat,
            target=ReplyTarget.of(chat),
            created_by="U1",
            timezone="UTC",
            description="x",
            next_at=T0,
        )


def test_recurrence_comes_from_cron_and_zone() -> None:
    weekly = schedule(cron="0 9 * * 1", timezone="Europe/Berlin")
    assert weekly.recurrence is not None
    assert weekly.recurrence.cron == "0 9 * * 1"
    assert weekly.recurrence.timezone == "Europe/Berlin"
    assert schedule().recurrence is None


# --- add, get, list, cancel -----------------------------------------------------------------


def test_add_get_and_list_round_trip(store: ScheduleStore) -> None:
    later = store.add(schedule(at=T0 + timedelta(hours=2)))
    sooner = store.add(
        schedule(at=T0 + timedelta(hours=1), kind=ScheduleKind.MAKE, cron="0 * * * *")
    )
    assert store.get(later.id) == later
    assert store.get("nope1234") is None
    assert store.get("../../etc") is None
    assert store.get(f"{later.id}\n") is None
    assert [s.id for s in store.for_workspace("slack", "T1")] == [sooner.id, later.id]
    assert [s.id for s in store.for_project("abc123")] == [later.id]
    with pytest.raises(ValueError, match="exists"):
        store.add(later)


def test_workspaces_never_see_each_other(store: ScheduleStore) -> None:
    mine = store.add(schedule(workspace="T1"))
    theirs = store.add(schedule(workspace="T2"))
    same_id_other_platform = store.add(schedule(workspace="T1", adapter="discord"))
    assert [s.id for s in store.for_workspace("slack", "T1")] == [mine.id]
    assert [s.id for s in store.for_workspace("slack", "T2")] == [theirs.id]
    assert [s.id for s in store.for_workspace("discord", "T1")] == [same_id_other_platform.id]
    assert store.cancel(mine.id, "intruder", adapter="slack", workspace="T2") is None
    assert store.cancel(mine.id, "intruder", adapter="discord", workspace="T1") is None
    assert store.get(mine.id) == mine


def test_cancel_is_reported_once_and_leaves_the_due_index(store: ScheduleStore) -> None:
    item = store.add(schedule())
    cancelled = store.cancel(item.id, "U2", adapter="slack", workspace="T1")
    assert cancelled is not None
    assert cancelled.state is ScheduleState.CANCELLED
    assert cancelled.cancelled_by == "U2"
    assert cancelled.next_at is None
    again = store.cancel(item.id, "U3")
    assert again == cancelled  # reported as it is, not cancelled twice
    assert store.cancel("nope1234", "U2") is None
    assert store.due(T0 + timedelta(days=1)) == []
    assert store.for_workspace("slack", "T1") == []
    assert [s.id for s in store.for_workspace("slack", "T1", include_done=True)] == [item.id]
    assert store.for_project("abc123") == []
    assert [s.state for s in store.for_project("abc123", include_done=True)] == ["cancelled"]


def test_finished_schedules_expire_and_drop_out_of_the_lists(
    store: ScheduleStore, redis_conn: redis.Redis
) -> None:
    item = store.add(schedule())
    store.cancel(item.id, "U1")
    ttl = redis_conn.ttl(f"nc:schedule:{item.id}")
    assert 29 * 86400 < ttl <= 30 * 86400
    redis_conn.delete(f"nc:schedule:{item.id}")  # as if it had expired
    assert store.for_workspace("slack", "T1", include_done=True) == []
    assert not redis_conn.sismember("nc:schedules:workspace:slack:T1", item.id)


def test_a_workspace_has_a_cap_on_active_schedules(redis_conn: redis.Redis) -> None:
    assert ScheduleStore(redis_conn).max_active == MAX_ACTIVE_PER_WORKSPACE == 50
    store = ScheduleStore(redis_conn, max_active=3)
    items = [store.add(schedule()) for _ in range(3)]
    with pytest.raises(ScheduleRefusal, match="already has 3 active schedules") as refused:
        store.add(schedule())
    assert isinstance(refused.value, ValueError)
    store.add(schedule(workspace="T2"))  # another workspace has its own cap
    store.cancel(items[0].id, "U1")
    store.add(schedule())  # a cancelled one frees its place
    assert len(store.for_workspace("slack", "T1")) == 3


def test_the_cap_holds_under_concurrent_adds(redis_conn: redis.Redis) -> None:
    store = ScheduleStore(redis_conn, max_active=5)
    refused: list[str] = []
    barrier = threading.Barrier(12)

    def add() -> None:
        barrier.wait()
        try:
            store.add(schedule())
        except ScheduleRefusal as error:
            refused.append(str(error))

    threads = [threading.Thread(target=add) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.for_workspace("slack", "T1")) == 5
    assert len(refused) == 7


def test_due_lists_what_is_due_most_overdue_first(store: ScheduleStore) -> None:
    late = store.add(schedule(at=T0 - timedelta(minutes=5)))
    now = store.add(schedule(at=T0))
    later = store.add(schedule(at=T0 - timedelta(minutes=1)))
    store.add(schedule(at=T0 + timedelta(seconds=1)))
    assert store.due(T0) == [late.id, later.id, now.id]
    assert store.due(T0, limit=2) == [late.id, later.id]
    assert store.earliest() == T0 - timedelta(minutes=5)


# --- claim --------------------------------------------------------------------------------


def test_a_one_off_fires_once_and_is_done(store: ScheduleStore) -> None:
    item = store.add(schedule(at=T0))
    fired = Fired()
    assert store.claim(item.id, T0 - timedelta(seconds=1), fired) is None  # not due yet
    done = store.claim(item.id, T0 + timedelta(seconds=1), fired)
    assert done is not None
    assert fired.calls == [(item.id, T0)]
    assert (done.state, done.fired, done.last_fired_at, done.next_at) == ("done", 1, T0, None)
    assert store.get(item.id) == done
    assert store.claim(item.id, T0 + timedelta(seconds=2), fired) is None
    assert len(fired.calls) == 1
    assert store.due(T0 + timedelta(days=1)) == []
    assert store.for_workspace("slack", "T1") == []
    assert store.cancel(item.id, "U1") == done  # too late: reported as done


def test_a_recurring_schedule_advances(store: ScheduleStore) -> None:
    item = store.add(schedule(at=T0, cron="0 * * * *", kind=ScheduleKind.MAKE))
    fired = Fired()
    first = store.claim(item.id, T0 + timedelta(seconds=0.3), fired)
    assert first is not None
    assert (first.state, first.fired, first.missed) == ("active", 1, 0)
    assert first.last_fired_at == T0
    assert first.next_at == T0 + timedelta(hours=1)
    assert store.due(T0 + timedelta(minutes=59)) == []
    assert store.due(T0 + timedelta(hours=1)) == [item.id]
    second = store.claim(item.id, T0 + timedelta(hours=1, seconds=1), fired)
    assert second is not None
    assert second.fired == 2
    assert fired.calls == [(item.id, T0), (item.id, T0 + timedelta(hours=1))]


def test_a_recurring_schedule_keeps_local_time_across_dst(store: ScheduleStore) -> None:
    # 09:00 in Berlin is 08:00 UTC on Saturday 28 March 2026 and 07:00 UTC on Sunday (CEST).
    saturday = datetime(2026, 3, 28, 8, 0, tzinfo=UTC)
    item = store.add(schedule(at=saturday, cron="0 9 * * *", timezone="Europe/Berlin"))
    claimed = store.claim(item.id, saturday + timedelta(seconds=1), Fired())
    assert claimed is not None
    assert claimed.next_at == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert claimed.local(claimed.next_at).hour == 9


def test_after_downtime_an_hourly_show_fires_once_not_72_times(store: ScheduleStore) -> None:
    item = store.add(schedule(at=T0, cron="0 * * * *", kind=ScheduleKind.MAKE))
    back = T0 + timedelta(days=3, minutes=20)
    fired = Fired()
    claimed = store.claim(item.id, back, fired)
    assert claimed is not None
    assert fired.calls == [(item.id, T0 + timedelta(days=3))]  # the latest, 20 minutes late
    assert (claimed.fired, claimed.missed) == (1, 72)
    assert claimed.next_at == T0 + timedelta(days=3, hours=1)
    assert store.claim(item.id, back, fired) is None
    assert len(fired.calls) == 1


def test_an_occurrence_older_than_the_grace_window_is_skipped(store: ScheduleStore) -> None:
    assert timedelta(hours=1) == GRACE
    nine = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    item = store.add(schedule(at=nine - timedelta(days=3), cron="0 9 * * *"))
    fired = Fired()
    assert store.claim(item.id, nine + timedelta(hours=6), fired) is None
    assert fired.calls == []
    skipped = store.get(item.id)
    assert skipped is not None
    assert (skipped.state, skipped.fired, skipped.missed) == ("active", 0, 4)
    assert skipped.next_at == nine + timedelta(days=1)


def test_an_occurrence_within_the_grace_window_still_fires(store: ScheduleStore) -> None:
    nine = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    item = store.add(schedule(at=nine, cron="0 9 * * *"))
    fired = Fired()
    claimed = store.claim(item.id, nine + timedelta(minutes=59), fired)
    assert claimed is not None
    assert fired.calls == [(item.id, nine)]


def test_a_one_off_fires_however_late(store: ScheduleStore) -> None:
    item = store.add(schedule(at=T0))
    fired = Fired()
    done = store.claim(item.id, T0 + timedelta(days=3), fired)
    assert done is not None
    assert done.state is ScheduleState.DONE
    assert fired.calls == [(item.id, T0)]  # the job gets the planned time: it can say it's late


def test_a_firing_that_fails_changes_nothing(store: ScheduleStore, redis_conn: redis.Redis) -> None:
    item = store.add(schedule(at=T0))

    def broken(s: Schedule, fire_at: datetime, pipeline: Pipeline) -> None:
        fire_job(s, fire_at, pipeline)
        raise RuntimeError("crash between enqueue and commit")

    with pytest.raises(RuntimeError):
        store.claim(item.id, T0, broken)
    assert store.get(item.id) == item
    assert store.due(T0) == [item.id]
    assert queued_ids(redis_conn) == []
    assert not redis_conn.exists(f"rq:job:{fire_job_id(item.id, T0)}")


def test_claim_enqueues_the_rq_job_in_the_same_transaction(
    store: ScheduleStore, redis_conn: redis.Redis
) -> None:
    publish = store.add(schedule(at=T0))
    show = store.add(schedule(at=T0, kind=ScheduleKind.MAKE, cron="0 * * * *"))
    assert store.claim(publish.id, T0, fire_job) is not None
    assert store.claim(show.id, T0, fire_job) is not None
    stamp = int(T0.timestamp())
    assert Queue(PUBLISH_QUEUE, connection=redis_conn).job_ids == [f"nc-sched-{publish.id}-{stamp}"]
    assert Queue(RENDER_QUEUE, connection=redis_conn).job_ids == [f"nc-sched-{show.id}-{stamp}"]
    job = Job.fetch(f"nc-sched-{publish.id}-{stamp}", connection=redis_conn, serializer=SERIALIZER)
    assert job.func_name == FIRE_FUNCTION == "workers.schedule_jobs.fire"
    assert tuple(job.args) == (publish.id, "2026-03-02T10:00:00+00:00")
    assert (job.timeout, job.result_ttl, job.retries_left) == (900, 86400, 2)
    assert job.retry_intervals == [5, 30]
    assert job.get_status() == "queued"
    assert job.origin == PUBLISH_QUEUE


def test_cancel_that_lands_first_wins_over_a_claim(
    store: ScheduleStore, redis_conn: redis.Redis
) -> None:
    item = store.add(schedule(at=T0))
    other = ScheduleStore(redis.Redis(connection_pool=redis_conn.connection_pool))

    def cancel_meanwhile(s: Schedule, fire_at: datetime, pipeline: Pipeline) -> None:
        other.cancel(s.id, "U2")  # commits between the claim's WATCH and its EXEC
        fire_job(s, fire_at, pipeline)

    assert store.claim(item.id, T0, cancel_meanwhile) is None
    final = store.get(item.id)
    assert final is not None
    assert (final.state, final.fired, final.cancelled_by) == ("cancelled", 0, "U2")
    assert queued_ids(redis_conn) == []


def test_cancel_and_claim_racing_fire_or_cancel_never_both(
    store: ScheduleStore, redis_conn: redis.Redis
) -> None:
    outcomes: set[str] = set()
    for _ in range(40):
        item = store.add(schedule(at=T0))
        barrier = threading.Barrier(2)
        results: dict[str, object] = {}

        def claim(
            item_id: str = item.id,
            barrier: threading.Barrier = barrier,
            results: dict[str, object] = results,
        ) -> None:
            barrier.wait()
            results["claim"] = store.claim(item_id, T0, fire_job)

        def cancel(
            item_id: str = item.id,
            barrier: threading.Barrier = barrier,
            results: dict[str, object] = results,
        ) -> None:
            barrier.wait()
            results["cancel"] = store.cancel(item_id, "U2")

        threads = [threading.Thread(target=claim), threading.Thread(target=cancel)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        final = store.get(item.id)
        assert final is not None
        jobs = [j for j in queued_ids(redis_conn) if item.id in j]
        if final.state is ScheduleState.DONE:
            assert (final.fired, len(jobs)) == (1, 1)
            assert isinstance(results["cancel"], Schedule)
            assert results["cancel"].state is ScheduleState.DONE  # reported, not cancelled
        else:
            assert final.state is ScheduleState.CANCELLED
            assert (final.fired, len(jobs)) == (0, 0)
            assert results["claim"] is None
        outcomes.add(final.state.value)
    assert outcomes <= {"done", "cancelled"}


# --- the scheduler ------------------------------------------------------------------------


def test_eight_schedulers_fire_thirty_schedules_exactly_once(
    store: ScheduleStore, redis_conn: redis.Redis
) -> None:
    now = datetime.now(UTC)
    items = [
        store.add(
            schedule(
                at=now - timedelta(seconds=5 + i),
                kind=ScheduleKind.MAKE if i % 2 else ScheduleKind.PUBLISH,
                cron="0 * * * *" if i % 3 == 0 else None,
                workspace=f"T{i % 4}",
            )
        )
        for i in range(30)
    ]
    barrier = threading.Barrier(8)
    counts: list[int] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        scheduler = Scheduler(redis_conn, name=f"t{n}")
        barrier.wait()
        fired = scheduler.tick()
        with lock:
            counts.append(fired)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 30
    ids = queued_ids(redis_conn)
    assert len(ids) == 30
    assert len(set(ids)) == 30
    assert {i.rsplit("-", 1)[0].removeprefix("nc-sched-") for i in ids} == {s.id for s in items}
    for item in items:
        stored = store.get(item.id)
        assert stored is not None
        assert stored.fired == 1
        assert stored.state is (ScheduleState.ACTIVE if item.cron else ScheduleState.DONE)
    assert Scheduler(redis_conn).tick() == 0


def test_the_loop_fires_on_time_beats_and_stops(
    store: ScheduleStore, redis_conn: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="workers.due_schedules")
    at = datetime.now(UTC) + timedelta(seconds=0.6)
    item = store.add(schedule(at=at, timezone="Asia/Tokyo"))
    stop = threading.Event()
    scheduler = Scheduler(redis_conn, poll_seconds=0.2, name="loop-1")
    thread = threading.Thread(target=scheduler.run, args=(stop,))
    thread.start()
    try:
        _wait(lambda: bool(queued_ids(redis_conn)), 5)
        assert datetime.now(UTC) - at < timedelta(seconds=1)
        assert live_schedulers(redis_conn) == ["loop-1"]
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert live_schedulers(redis_conn) == []
    (line,) = [r.getMessage() for r in caplog.records if "fired schedule" in r.getMessage()]
    tokyo = store.get(item.id)
    assert tokyo is not None
    assert item.id in line
    assert "publish" in line
    assert "Asia/Tokyo" in line
    assert tokyo.local(at).strftime("%H:%M") in line


def test_the_loop_rides_out_a_redis_outage(
    redis_url: str,
    store: ScheduleStore,
    redis_conn: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The scheduler starts while its Redis is unreachable, logs, backs off, then fires."""
    item = store.add(schedule(at=datetime.now(UTC) - timedelta(seconds=1)))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there yet
    db = int(redis_url.rsplit("/", 1)[1])
    password = redis_conn.connection_pool.connection_kwargs.get("password")  # the embedded one's
    unreachable = redis.Redis(port=port, db=db, password=password, socket_timeout=2)
    stop = threading.Event()
    thread = threading.Thread(target=Scheduler(unreachable, poll_seconds=0.1).run, args=(stop,))
    thread.start()
    try:
        _wait(lambda: any("lost Redis" in r.getMessage() for r in caplog.records), 5)
        assert thread.is_alive()
        with _forward(port, redis_conn):
            _wait(lambda: bool(queued_ids(redis_conn)), 10)
            stop.set()
            thread.join(5)
    finally:
        stop.set()
        thread.join(5)
        unreachable.close()
    assert not thread.is_alive()
    fired = store.get(item.id)
    assert fired is not None
    assert fired.fired == 1
    said = [r.getMessage() for r in caplog.records]
    assert sum("lost Redis" in line for line in said) == 1  # once, however long it backed off
    assert sum("Redis is back" in line for line in said) == 1


def _wait(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


@contextmanager
def _forward(port: int, target: redis.Redis) -> Iterator[None]:
    """A TCP forwarder on `port` to the test Redis: the outage ends when it starts."""
    kwargs = target.connection_pool.connection_kwargs
    upstream_address = (kwargs.get("host", "127.0.0.1"), int(kwargs.get("port", 6379)))
    server = socket.create_server(("127.0.0.1", port))
    opened: list[socket.socket] = []

    def pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def accept() -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(upstream_address)
            opened.extend((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        acceptor.join(5)
        server.close()
        for sock in opened:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    leftover = [t for t in threading.enumerate() if t not in before and not t.daemon]
    assert leftover == []


def test_the_scheduler_command_refuses_to_run_without_a_redis(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    result = CliRunner().invoke(main, ["scheduler"])
    assert result.exit_code == 2
    assert "REDIS_URL is not set" in result.output
