"""Time to each user's quick preview and full video when many renders are queued at once.

Runs the real product on one machine: an embedded Redis, N `novacast worker` processes, the
core with the offline writer, and the console outbox a chat would read. Every render is its own
conversation with a 30-second draft; all Render buttons are pressed within a few milliseconds.
Scenarios:
- `spread`: R renders, each from a different workspace (R = 4, 8).
- `flood`: workspace A presses Render on ten drafts, then workspace B on one; B's times are
  printed on their own, beside `solo` (B's render alone on the same workers), so "B waits no
  more than one render's length" can be read off.
Prints, per scenario and worker count, seconds from the press to the quick preview and to the
full video (p50 and max over the renders), and the load average, since the machine is shared.

`--read S` waits S seconds between the drafts being posted (workers up) and the presses: the
time people read a draft before pressing Render, in which idle workers speak the drafts'
narrations ahead (`workers.voice_ahead`). With 0 (the default) every button is pressed the
moment the workers are up, so nothing is ready ahead: the worst case.

    python bench/queue_fairness.py [--workers 1 2] [--renders 4 8] [--flood 10] [--seconds 30]
                                   [--read 0]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import redis
from rq import Queue, Worker
from rq.job import Job

from adapters.console.outbox import ConsoleOutbox
from bot.actions import AskApproval, ButtonAction, Preview, Say
from bot.events import ButtonEvent, CommandEvent, Conversation
from bot.project import Project
from novacast.embedded_redis import EmbeddedRedis
from novacast.processes import worker_process
from novacast.wiring import build_engine
from pipeline.settings import load_settings
from workers.catalog import QUEUES, SERIALIZER

TOPICS = [
    "why octopuses have three hearts", "how bees dance", "why the sky is blue",
    "how volcanoes form", "why cats purr", "how tides work", "why leaves change colour",
    "how rainbows form", "why bread rises", "how owls see at night", "why the sea is salty",
    "how ants find food",
]


@dataclass
class Render:
    conversation: Conversation
    project: Project
    pressed: float = 0.0
    quick: float | None = None
    full: float | None = None
    failed: str = ""

    @property
    def done(self) -> bool:
        return self.full is not None or bool(self.failed)


@dataclass
class Scenario:
    name: str
    plan: list[tuple[str, int]]
    """(workspace, renders) in the order their buttons are pressed."""
    renders: list[Render] = field(default_factory=list)
    fairness: str = ""


@contextlib.contextmanager
def workers(url: str, data_dir: Path, count: int) -> Iterator[None]:
    env = {**os.environ, "REDIS_URL": url, "NOVACAST_DATA_DIR": str(data_dir)}
    connection = redis.Redis.from_url(url)
    with contextlib.ExitStack() as stack:
        for _ in range(count):
            stack.enter_context(worker_process(data_dir / "logs", env))
        while len(Worker.all(connection=connection)) < count:
            time.sleep(0.1)
        yield


def draft(connection: redis.Redis, scenario: Scenario, seconds: int) -> None:
    engine = build_engine(connection)
    n = 0
    for workspace, count in scenario.plan:
        for _ in range(count):
            conversation = Conversation(
                adapter="console", workspace=workspace, channel=f"c{n}", user=f"u{n}"
            )
            topic = TOPICS[n % len(TOPICS)] + (f" part {n // len(TOPICS) + 1}" if n else "")
            engine.handle(CommandEvent(conversation=conversation, name="make",
                                       args=f"{seconds}s on {topic}"))
            project = engine.store.active(conversation)
            assert project is not None, "no draft"
            scenario.renders.append(Render(conversation, project))
            n += 1


def press_and_watch(connection: redis.Redis, scenario: Scenario, limit: float) -> None:
    engine = build_engine(connection)
    outboxes = {}
    for workspace, _count in scenario.plan:
        outboxes[workspace] = ConsoleOutbox(connection, workspace)
        outboxes[workspace].start_reading()
    for render in scenario.renders:
        render.pressed = time.perf_counter()
        engine.handle(ButtonEvent(conversation=render.conversation,
                                  action=ButtonAction.RENDER, project_id=render.project.id))
    by_channel = {(r.conversation.workspace, r.conversation.channel): r for r in scenario.renders}
    deadline = time.perf_counter() + limit
    while not all(r.done for r in scenario.renders) and time.perf_counter() < deadline:
        for workspace, outbox in outboxes.items():
            for action in outbox.read(block_ms=20):
                render = by_channel.get((workspace, action.target.channel))
                if render is None:
                    continue
                at = time.perf_counter() - render.pressed
                if isinstance(action, Preview) and render.quick is None:
                    render.quick = at
                elif isinstance(action, AskApproval):
                    render.full = at
                elif isinstance(action, Say) and "Retry" in str(action.buttons):
                    render.failed = action.text


def finished(connection: redis.Redis) -> list[Job]:
    """Every finished job, in the order workers started them."""
    jobs = []
    for name in QUEUES:
        ids = Queue(name, connection=connection, serializer=SERIALIZER).finished_job_registry
        jobs += [j for j in Job.fetch_many(ids.get_job_ids(), connection=connection,
                                           serializer=SERIALIZER) if j is not None]
    return sorted(jobs, key=lambda j: j.started_at or datetime.min)


def ahead(connection: redis.Redis, scenario: Scenario) -> str:
    """How many previews and full videos of other workspaces started before the last
    render's preview and before its full video: the fairness, whatever the machine's load."""
    last = scenario.renders[-1]
    others = {r.project.id for r in scenario.renders
              if r.conversation.workspace != last.conversation.workspace}
    steps = [(job.args[0], job.id.rsplit("-", 1)[-1]) for job in finished(connection)
             if job.id.startswith("nc-") and not job.id.endswith("prefetch")]
    counts = []
    for mine in ("preview", "full"):
        at = steps.index((last.project.id, mine)) if (last.project.id, mine) in steps else 0
        before = steps[:at]
        counts.append(sum(1 for p, step in before if p in others and step == "preview"))
        counts.append(sum(1 for p, step in before if p in others and step == "full"))
    return ("other workspaces' previews/fulls started before its preview: {}/{}, "
            "before its full: {}/{}".format(*counts))


def trace(connection: redis.Redis, scenario: Scenario) -> None:
    """Every job the scenario ran: when it started and ended (s after the first press), its
    queue and its worker."""
    start = min(r.pressed for r in scenario.renders)
    wall = time.time() - (time.perf_counter() - start)
    for job in finished(connection):
        assert job.started_at is not None
        assert job.ended_at is not None
        began = job.started_at.replace(tzinfo=UTC).timestamp() - wall
        ended = job.ended_at.replace(tzinfo=UTC).timestamp() - wall
        print(f"    {began:6.1f} {ended:6.1f}  {job.origin:<20} {job.worker_name or '':<12.12} "
              f"{job.id}")


def run(url: str, scenario: Scenario, worker_count: int, seconds: int,
        show: bool = False, *, read: float = 0.0) -> Scenario:
    connection = redis.Redis.from_url(url)
    connection.flushdb()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["NOVACAST_DATA_DIR"] = tmp
        load_settings.cache_clear()  # the data dir just changed
        draft(connection, scenario, seconds)
        with workers(url, Path(tmp), worker_count):
            time.sleep(read)
            press_and_watch(connection, scenario, limit=60.0 * len(scenario.renders) + 120)
        if show:
            trace(connection, scenario)
        if len({r.conversation.workspace for r in scenario.renders}) > 1:
            scenario.fairness = ahead(connection, scenario)
    return scenario


def _stats(values: list[float | None]) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return f"{'-':>6} {'-':>6}"
    missing = "" if len(got) == len(values) else f" ({len(values) - len(got)} missing)"
    return f"{statistics.median(got):6.1f} {max(got):6.1f}{missing}"


def report(scenario: Scenario, worker_count: int, only: str | None = None) -> None:
    renders = [r for r in scenario.renders if only is None or r.conversation.workspace == only]
    label = scenario.name + (f" [{only}]" if only else "")
    failed = sum(1 for r in renders if r.failed)
    print(f"{label:<22} {worker_count:>7} {len(renders):>7}   "
          f"{_stats([r.quick for r in renders])}   {_stats([r.full for r in renders])}"
          f"   {os.getloadavg()[0]:5.1f}" + (f"   {failed} failed" if failed else ""))
    if only is not None and only == scenario.renders[-1].conversation.workspace:
        print(f"{'':<22} {scenario.fairness}")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--renders", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--flood", type=int, default=10, help="0 skips the flood scenario")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--trace", action="store_true", help="print every job's start and end")
    parser.add_argument("--read", type=float, default=0.0,
                        help="seconds between the drafts and the Render presses")
    args = parser.parse_args()
    print(f"Render pressed {args.read:g} s after the drafts were posted")
    print(f"{'scenario':<22} {'workers':>7} {'renders':>7}   {'preview p50/max s':>13}"
          f"   {'full p50/max s':>13}   {'load1':>5}")
    with EmbeddedRedis() as server:
        for count in args.workers:
            for renders in args.renders:
                plan = [(f"ws{i}", 1) for i in range(renders)]
                report(run(server.url, Scenario(f"spread {renders}", plan), count, args.seconds,
                           args.trace, read=args.read),
                       count)
            if args.flood:
                solo = Scenario("solo", [("B", 1)])
                solo = run(server.url, solo, count, args.seconds, args.trace, read=args.read)
                report(solo, count)
                flood = Scenario(f"flood {args.flood}+1", [("A", args.flood), ("B", 1)])
                run(server.url, flood, count, args.seconds, args.trace, read=args.read)
                report(flood, count, only="A")
                report(flood, count, only="B")


if __name__ == "__main__":
    main()
