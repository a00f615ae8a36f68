"""Memory benchmark: model load, embedding and search cost, and what memory adds per message.

Run `python bench/memory_bench.py [--conversations N]`. It loads the bundled MiniLM model
(timed), embeds a few hundred distinct chat lines one at a time, searches the local memory store
(SQLite, `pipeline.memory.points`) on disk holding a few hundred projects, then drives the same
stream of messages through two engines on an embedded Redis: memory off (rules only) and memory
on (vector memory + the embedding intent fallback). The writer is the offline template writer,
so no LLM time is in any figure. Every message and idea is distinct, so the embedding cache
never helps.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bot.engine import Engine  # noqa: E402
from bot.events import CommandEvent, Conversation, Event, MessageEvent  # noqa: E402
from bot.intent_model import IntentModel  # noqa: E402
from novacast.embedded_redis import EmbeddedRedis  # noqa: E402
from pipeline.memory import ProjectRecord, embeddings  # noqa: E402
from pipeline.memory.store import VectorMemory  # noqa: E402
from pipeline.writers.offline import OfflineWriter  # noqa: E402
from policy import load_policy  # noqa: E402
from workers.queues import RQJobQueue  # noqa: E402

SUBJECTS = [
    "octopuses",
    "black holes",
    "tea",
    "volcanoes",
    "bees",
    "the moon",
    "sourdough",
    "chess",
    "tides",
    "penguins",
    "rainbows",
    "coral reefs",
    "glaciers",
    "owls",
    "comets",
]
ANGLES = [
    "why {} matter",
    "the history of {}",
    "five facts about {}",
    "how {} work",
    "myths about {}",
    "the science of {}",
    "{} explained for kids",
    "the future of {}",
]
CHATTER = [
    "hmm, the middle bit about {} drags",
    "not sure the {} part lands",
    "could the {} bit feel warmer",
    "I think {} deserve a better ending",
]


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000
    return f"p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   (n={len(ordered)})"


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def ideas(n: int) -> list[str]:
    found = [a.format(s) for s in SUBJECTS for a in ANGLES]
    return [f"{found[i % len(found)]}, part {i // len(found) + 1}" for i in range(n)]


def stream(conversations: int) -> Iterator[Event]:
    """Five messages per conversation: make, a change, an unsure line, a preference, status."""
    for i, idea in enumerate(ideas(conversations)):
        c = Conversation(adapter="console", workspace=f"W{i % 5}", channel="C", user=f"U{i}")
        chatter = CHATTER[i % len(CHATTER)].format(SUBJECTS[i % len(SUBJECTS)]) + f" ({i})"
        yield CommandEvent(conversation=c, name="make", args=idea)
        for text in ("make it shorter", chatter, f"always {20 + i % 40} seconds", "status"):
            yield MessageEvent(conversation=c, text=text)


def bench_engine(engine: Engine, events: list[Event]) -> list[float]:
    return [timed(lambda e=event: engine.handle(e)) for event in events]  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=80, help="5 messages each")
    args = parser.parse_args()

    print(
        f"model load (ONNX Runtime session + tokenizer + one pass): "
        f"{timed(embeddings.load):.2f} s"
    )
    texts = [f"{line} #{i}" for i, line in enumerate(ideas(300))]
    print(
        "embed one message:      ",
        percentiles([timed(lambda t=t: embeddings.embed([t])) for t in texts]),
    )
    with tempfile.TemporaryDirectory() as tmp:
        bench_store(Path(tmp) / "qdrant", texts)
        bench_core(Path(tmp), args.conversations)


def bench_store(path: Path, texts: list[str]) -> None:
    with VectorMemory(path=path) as memory:
        writes = [
            timed(
                lambda i=i, t=t: memory.remember_project(
                    ProjectRecord(
                        workspace=f"W{i % 5}", user=f"U{i}", project_id=f"{i:08x}", idea=t, topic=t
                    )
                )
            )
            for i, t in enumerate(texts)
        ]
        print("remember a project:     ", percentiles(writes), " (disk, embedding cached)")
        searches = [timed(lambda t=t: memory.similar("W1", t, 3)) for t in texts]
        print("similar(), 300 stored:  ", percentiles(searches), " (embedding cached)")
        lasts = [timed(lambda i=i: memory.last_project(f"W{i % 5}", f"U{i}")) for i in range(300)]
        print("last_project():         ", percentiles(lasts))


def bench_core(tmp: Path, conversations: int) -> None:
    events = list(stream(conversations))
    with EmbeddedRedis(tmp / "redis") as server:
        conn = redis.Redis.from_url(server.url)
        off = Engine(conn, OfflineWriter(), RQJobQueue(conn), load_policy(), prefix="off")
        bench_engine(off, list(stream(3)))  # warm-up
        without = bench_engine(off, events)
        model = IntentModel()
        model.warm()
        with VectorMemory(path=tmp / "core-qdrant") as memory:
            on = Engine(
                conn,
                OfflineWriter(),
                RQJobQueue(conn),
                load_policy(),
                prefix="on",
                memory=memory,
                classifier=model,
            )
            bench_engine(on, list(stream(3)))  # warm-up
            with_memory = bench_engine(on, events)
        conn.close()
    report_core(events, without, with_memory)


def report_core(events: list[Event], without: list[float], with_memory: list[float]) -> None:
    added = [b - a for a, b in zip(without, with_memory, strict=True)]
    print("core, memory off:       ", percentiles(without))
    print("core, memory on:        ", percentiles(with_memory))
    print("added by memory:        ", percentiles(added))
    makes = [i for i, e in enumerate(events) if isinstance(e, CommandEvent)]
    print("  of which /make:       ", percentiles([added[i] for i in makes]))
    rest = [added[i] for i in range(len(events)) if i not in set(makes)]
    print("  of which other lines: ", percentiles(rest))
    slowest = sorted(range(len(events)), key=lambda i: -with_memory[i])[:5]
    for i in slowest:
        print(f"  slow: {with_memory[i] * 1000:6.1f} ms  #{i} {_describe(events[i])}")


def _describe(event: Event) -> str:
    return (
        f"/make {event.args}"
        if isinstance(event, CommandEvent)
        else str(getattr(event, "text", ""))
    )


if __name__ == "__main__":
    main()
