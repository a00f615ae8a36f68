"""Previews first, and fair: the order in which a real worker runs real render chains.

Real Redis, the real `RQJobQueue` (lanes per workspace), the real worker (`run_worker`, burst,
one worker so the order is the worker's choice alone), real Piper and ffmpeg on short scripts.
The order is read from RQ's own `started_at` of every job; no timing is asserted."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.job import Job

from bot.events import Conversation, ReplyTarget
from bot.handlers import workspace_key
from bot.project import Project, ProjectState, ProjectStore
from novacast.wiring import install_worker_runtime
from pipeline.writers import OfflineWriter
from workers.catalog import FULL_LANES, LANES, PREVIEW_LANES, QUEUES, SERIALIZER
from workers.fairness import lane_for, next_turn
from workers.queues import RQJobQueue
from workers.worker import run_worker

TOPICS = ["why bread rises", "how bees dance", "why the sky is blue", "how tides work"]


def chat(workspace: str, n: int) -> Conversation:
    return Conversation(adapter="slack", workspace=workspace, channel=f"C{n}", user=f"U{n}")


def press_render(connection: redis.Redis, conversation: Conversation, topic: str) -> str:
    """A 6-second draft in `conversation`, Render pressed: the project's id."""
    script = OfflineWriter().script(topic, 6)
    project = Project.start(conversation, script).evolve(state=ProjectState.RENDERING)
    ProjectStore(connection).create(project)
    RQJobQueue(connection).render(project.id, 1, ReplyTarget.of(conversation))
    return project.id


def run_order(connection: redis.Redis) -> list[tuple[str, str]]:
    """(project id, step) of every finished job, in the order the worker started them."""
    jobs = []
    for name in QUEUES:
        finished = Queue(name, connection=connection, serializer=SERIALIZER).finished_job_registry
        ids = finished.get_job_ids()
        jobs += [j for j in Job.fetch_many(ids, connection=connection, serializer=SERIALIZER) if j]
    jobs.sort(key=lambda job: job.started_at or datetime.min)
    return [(job.args[0], job.id.rsplit("-", 1)[1]) for job in jobs if job.id.startswith("nc-")]


@pytest.mark.slow
def test_another_workspace_is_served_between_a_flood_of_renders(
    redis_conn: redis.Redis, data_dir: Path
) -> None:
    """Workspace A presses Render on three drafts, then workspace B on one: B's preview runs
    right after A's first, before A's second render starts; B's full video right after A's
    first; every preview before any full video; each render's steps stay together."""
    flood = [press_render(redis_conn, chat("TA", n), TOPICS[n]) for n in range(3)]
    late = press_render(redis_conn, chat("TB", 9), TOPICS[3])
    install_worker_runtime(redis_conn)

    run_worker(redis_conn, burst=True)

    order = run_order(redis_conn)
    assert len(order) == 4 * 5, order
    previews = [project for project, step in order if step == "preview"]
    fulls = [project for project, step in order if step == "full"]
    assert previews == [flood[0], late, flood[1], flood[2]]
    assert fulls == [flood[0], late, flood[1], flood[2]]
    quick = {"voice", "captions", "preview"}
    assert [step in quick for _, step in order] == [True] * 12 + [False] * 8
    for at in range(0, 12, 3):  # a render's voice, captions and preview run back to back
        assert [step for _, step in order[at:at + 3]] == ["voice", "captions", "preview"]
        assert len({project for project, _ in order[at:at + 3]}) == 1
    for at in range(12, 20, 2):  # and its full video is followed by its checks
        assert [step for _, step in order[at:at + 2]] == ["full", "checks"]


def test_a_workspace_keeps_its_lane_and_others_get_free_ones(redis_conn: redis.Redis) -> None:
    a = lane_for(redis_conn, "slack:TA")
    b = lane_for(redis_conn, "slack:TB")
    assert lane_for(redis_conn, "slack:TA") == a != b
    others = [lane_for(redis_conn, f"discord:{n}") for n in range(LANES - 2)]
    assert sorted([a, b, *others]) == list(range(LANES)), "one workspace per lane while it can"
    assert lane_for(redis_conn, workspace_key(chat("TC", 1))) in range(LANES)  # then they share


def test_a_render_goes_to_its_workspace_lanes(redis_conn: redis.Redis, data_dir: Path) -> None:
    conversation = chat("TA", 1)
    project = press_render(redis_conn, conversation, TOPICS[0])
    lane = lane_for(redis_conn, workspace_key(conversation))
    voice = Queue(PREVIEW_LANES[lane], connection=redis_conn, serializer=SERIALIZER)
    assert [j.split("-")[-1] for j in voice.get_job_ids()] == ["voice"]
    full = Queue(FULL_LANES[lane], connection=redis_conn, serializer=SERIALIZER)
    assert {j.split("-")[-1] for j in full.deferred_job_registry.get_job_ids()} == {
        "full", "checks"}
    assert all(project in j for j in voice.get_job_ids())


def test_a_turn_rotates_only_the_lanes_of_the_served_class(redis_conn: redis.Redis) -> None:
    queues = [Queue(name, connection=redis_conn) for name in QUEUES]
    turned = [q.name for q in next_turn(queues, PREVIEW_LANES[2])]
    assert turned[:2] == list(QUEUES[:2])  # publish and media keep their places
    assert turned[2:2 + LANES] == [*PREVIEW_LANES[3:], *PREVIEW_LANES[:3]]
    assert turned[2 + LANES:] == list(QUEUES[2 + LANES:])  # the full-quality class untouched
    assert [q.name for q in next_turn(queues, QUEUES[0])] == list(QUEUES)
