"""Start-up cost of the processes, with the embedding model loaded once per process.

Prints seconds for: importing the core, building the engine (prompts, models.yaml, memory
store), loading the embedding model (once), a first and a second message through the core,
and a worker's start (Piper voice warm-up).

    python bench/startup.py
"""

from __future__ import annotations

import os
import tempfile
import time


def _timed(label: str, started: float) -> float:
    now = time.perf_counter()
    print(f"{label:<34} {now - started:6.2f} s")
    return now


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["NOVACAST_DATA_DIR"] = tmp
        os.environ.pop("REDIS_URL", None)
        t = time.perf_counter()
        import redis

        from bot.events import CommandEvent, Conversation
        from novacast.embedded_redis import EmbeddedRedis
        from novacast.wiring import build_engine

        t = _timed("import the core", t)
        with EmbeddedRedis() as server:
            engine = build_engine(redis.Redis.from_url(server.url))
            t = _timed("build_engine (prompts, memory)", t)
            engine.warm()
            t = _timed("embedding model warm (once)", t)
            who = Conversation(adapter="console", workspace="w", channel="c", user="u")
            engine.handle(CommandEvent(conversation=who, name="make", args="why cats purr"))
            t = _timed("first /make through the core", t)
            engine.handle(CommandEvent(conversation=who, name="make", args="how bees fly"))
            t = _timed("second /make through the core", t)
        from pipeline.voice import PiperTTS

        PiperTTS().warm_up()
        _timed("worker: Piper voice warm-up", t)


if __name__ == "__main__":
    main()
