"""Previews first, and fair: which lane a workspace's render goes to, and how workers take turns.

Render work comes in two classes of queues that every worker drains in order
(`workers.catalog.QUEUES`): the quick-preview class (voice, captions, the preview cut: a few
seconds each) before the full-quality class (the full video and its checks: tens of seconds).
Each class has `LANES` lanes. A workspace (`bot.handlers.workspace_key`: `adapter:workspace`)
keeps one lane while it renders, chosen when it starts as the lane fewest other workspaces
hold (`lane_for`). A worker takes the lanes of a class in turn (`FairQueues`): once it has
taken the last step a render has in that class (its preview; its checks), the next lane is
looked at first; after a voice or captions (a full video) the lane stays first, and the next
step goes to the front of its lane when the step before it ends (`Step.follows`), so a worker
finishes a render's preview before the next lane's turn instead of speaking every queued
voice first.

What a user waits for, then: a team that queues ten renders fills its own lane, and another
team's quick preview waits for at most one preview chain per worker (those running when it
arrives), never for the ten; its full video waits for one full video per worker and for the
previews still queued, since previews of every workspace go first (short, and someone is
waiting to see them). Checked by order, not time, in tests/integration/test_queue_fairness.py;
measured in bench/queue_fairness.py (figures in the issue's note).

Chosen over:
- one queue, FIFO (before): the chain's next step joins the back of the queue, so four renders
  on two workers showed the last previews after the first full videos, and a team's ten
  renders put another team's preview behind all ten voices.
- RQ's `round_robin` dequeue strategy: it rotates *all* queues, so publishing and previews
  would no longer go first; the same idea within a class is what `FairQueues` does.
- one RQ queue per workspace, discovered by the worker: exact, but every workspace adds a queue
  that RQ's scheduler (delayed retries), the started-job cleanup (abandoned jobs) and `rq info`
  would have to learn about at run time, and a worker blocked on its known queues only sees a
  new one after its dequeue timeout. Fixed lanes are known to all of them from the catalog.
- a cap of running jobs per workspace: does nothing with one worker, where a queue of ten
  still comes first.
Lanes are exact while at most `LANES` workspaces render at once; beyond that workspaces share
lanes (least-held first), and fairness holds between lanes.
"""

from __future__ import annotations

import time

import redis
from rq import Queue
from rq.exceptions import DeserializationError
from rq.job import Job
from rq.worker import BaseWorker

from workers.catalog import FAIR_CLASSES, LANES, continues

LANE_TTL = 3600
"""Seconds a workspace keeps its lane after its last render was queued."""
_ASSIGN = """
local lane = redis.call('GET', KEYS[1])
if not lane then
  local best, fewest = 0, -1
  for i = 2, #KEYS do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[1])
    local held = redis.call('ZCARD', KEYS[i])
    if fewest < 0 or held < fewest then best, fewest = i - 2, held end
  end
  lane = best
end
redis.call('SET', KEYS[1], lane, 'EX', ARGV[2])
redis.call('ZADD', KEYS[2 + tonumber(lane)], ARGV[1] + ARGV[2], ARGV[3])
return tonumber(lane)
"""


def _lane_key(workspace: str) -> str:
    return f"novacast:lane:{workspace}"


def _holders_key(lane: int) -> str:
    return f"novacast:lane-holders:{lane}"


def lane_for(connection: redis.Redis, workspace: str) -> int:
    """The workspace's lane (0..LANES-1): the one it holds, else the one fewest workspaces
    hold now; held for `LANE_TTL` seconds from now. One atomic script, so two workspaces
    starting at once see each other's choice."""
    keys = [_lane_key(workspace), *(_holders_key(lane) for lane in range(LANES))]
    lane = connection.eval(_ASSIGN, len(keys), *keys, time.time(), LANE_TTL, workspace)
    return int(lane)


class FairQueues(BaseWorker):
    """Worker mixin: within a class of lanes, the lane after the one just served comes first,
    once a render's steps in that class are done (its voice, captions and preview; its full
    video and checks), so a render in progress finishes its preview before the next lane's
    turn. Queues outside the classes (publish, media) keep their places, so the order between
    classes stays the priority order. RQ's own `reorder_queues` strategies would rotate every
    queue, so this turns them off."""

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        taken = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        if taken is not None:
            job, queue = taken
            if not _continues(job):
                self._ordered_queues = next_turn(self._ordered_queues, queue.name)
        return taken

    def reorder_queues(self, reference_queue: Queue) -> None:
        del reference_queue


def _continues(job: Job) -> bool:
    try:
        return continues(job.func_name)
    except DeserializationError:  # not our JSON: RQ fails it when it runs; the turn moves on
        return False


def next_turn(queues: list[Queue], served: str) -> list[Queue]:
    """`queues` with the lanes of `served`'s class rotated so the lane after it comes first;
    the same order when `served` is in no class."""
    for lanes in FAIR_CLASSES:
        if served in lanes:
            return _turn(queues, lanes, served)
    return queues


def _turn(queues: list[Queue], lanes: tuple[str, ...], served: str) -> list[Queue]:
    """`queues` with the members of `lanes` rotated in their places so that the lane after
    `served` comes first."""
    slots = [i for i, queue in enumerate(queues) if queue.name in lanes]
    members = [queues[i] for i in slots]
    after = next(i for i, queue in enumerate(members) if queue.name == served) + 1
    rotated = members[after:] + members[:after]
    turned = list(queues)
    for slot, queue in zip(slots, rotated, strict=True):
        turned[slot] = queue
    return turned
