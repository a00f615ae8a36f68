"""Fuzz every HTTP route with ≥ 5,000 Hypothesis cases each (issue 11, item 8).

    .venv/bin/python bench/fuzz_routes.py [--cases 5000] [--routes slack,telegram,media]

The real bot (server app, Slack and Telegram adapters against the protocol fakes, the core, real
Redis) runs in this process; requests come from the documented payload shapes with valid
signatures and the webhook secret (`tests/fuzz_payloads.py`). Prints per route the statuses and
the rate, the 5xx count, the log lines with a traceback or at ERROR, whether the bot still
answers on Slack and Telegram afterwards, and resident memory before and after. Exit status 1
when any of those is wrong.

Redis: REDIS_URL's server, database NOVACAST_TEST_DB (default 13), flushed first; without
REDIS_URL a private embedded server.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

import redis

from novacast.embedded_redis import EmbeddedRedis
from tests.fuzz_support import ROUTES, fuzz


@contextlib.contextmanager
def bench_redis() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
        yield f"{base}/{os.environ.get('NOVACAST_TEST_DB', '13')}"
        return
    with EmbeddedRedis() as server:
        yield server.url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000, help="Hypothesis cases per route")
    parser.add_argument("--routes", default=",".join(ROUTES))
    args = parser.parse_args()
    root = logging.getLogger()
    root.setLevel(logging.INFO)  # the report's trap sees INFO and up; nothing is printed
    root.addHandler(logging.NullHandler())
    with bench_redis() as url, tempfile.TemporaryDirectory(prefix="novacast-fuzz-") as tmp:
        connection = redis.Redis.from_url(url)
        connection.flushdb()
        data_dir = Path(tmp) / "var"
        data_dir.mkdir()
        os.environ["NOVACAST_DATA_DIR"] = str(data_dir)
        started = time.perf_counter()
        report = fuzz(url, data_dir, args.cases, tuple(args.routes.split(",")))
        connection.flushdb()
        connection.close()
    print("\n".join(report.lines()))
    print(f"total {time.perf_counter() - started:.0f} s")
    ok = (
        report.server_errors == 0
        and report.unanswered == 0
        and not report.tracebacks
        and not report.errors
        and report.alive_slack
        and report.alive_telegram
    )
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
