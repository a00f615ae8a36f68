"""Log lines: one JSON object each for the long-running processes, with the trace id and the
process role, an exception's type but never its text, no secret of the environment."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from novacast import observability, server
from pipeline import telemetry

TOKEN = "xoxb-planted-slack-token-9931"
WORDS = "my secret surprise party plan"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The process's logging as `configure_logging` leaves it, written to a buffer; the root
    logger is put back as pytest had it afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    hooks = sys.excepthook, threading.excepthook
    observability.configure_logging("worker", verbose=True, environ={"SLACK_BOT_TOKEN": TOKEN})
    stream = io.StringIO()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)
    sys.excepthook, threading.excepthook = hooks
    logging.captureWarnings(False)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_has_the_fields_and_the_trace_id(captured: io.StringIO) -> None:
    log = logging.getLogger("workers.render_jobs")
    with telemetry.traced("7f3a9c12e4b1"):
        log.warning("resuming %s of %s", "voice", "p1")
    log.warning("outside any request")
    inside, outside = lines(captured)
    assert set(inside) == {"time", "level", "logger", "message", "role", "trace_id"}
    assert inside["trace_id"] == "7f3a9c12e4b1"
    assert (inside["level"], inside["logger"], inside["role"]) == (
        "WARNING", "workers.render_jobs", "worker")
    assert inside["message"] == "resuming voice of p1"
    assert "trace_id" not in outside


def test_an_exception_is_its_type_and_place_never_its_text(captured: io.StringIO) -> None:
    try:
        raise ValueError(WORDS)
    except ValueError:
        logging.getLogger("bot.engine").exception("failed to handle a %s event", "message")
    (line,) = lines(captured)
    assert line["error"] == "ValueError"
    assert line["where"].startswith("test_json_logs.py:")
    assert WORDS not in json.dumps(line)


def test_a_message_with_a_traceback_inside_keeps_its_first_line(captured: io.StringIO) -> None:
    """RQ puts the whole traceback into its message ('exception raised while executing')."""
    trace = f'Traceback (most recent call last):\n  File "x.py", line 1\nKeyError: {WORDS!r}'
    logging.getLogger("rq.worker").error("job %s: exception raised\n%s", "nc-1", trace)
    (line,) = lines(captured)
    assert line["message"] == "job nc-1: exception raised"
    assert line["error"] == "KeyError"
    assert WORDS not in json.dumps(line)


def test_a_thread_that_dies_is_one_json_line(captured: io.StringIO) -> None:
    def crash() -> None:
        raise RuntimeError(WORDS)

    thread = threading.Thread(target=crash, name="renderer")
    thread.start()
    thread.join()
    (line,) = lines(captured)
    assert line["message"] == "thread renderer stopped on an uncaught RuntimeError"
    assert line["error"] == "RuntimeError"
    assert WORDS not in json.dumps(line)


def test_secrets_of_the_environment_are_redacted(captured: io.StringIO) -> None:
    logging.getLogger("slack").warning("called with %s", TOKEN)
    (line,) = lines(captured)
    assert TOKEN not in json.dumps(line)
    assert line["message"] == "called with [redacted]"


def test_httpx_request_lines_stay_held_back(captured: io.StringIO) -> None:
    logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot123:abc/x")
    assert captured.getvalue() == ""


@pytest.mark.parametrize(
    ("command", "env", "chosen"),
    [
        ("bot", {}, "json"),
        ("worker", {}, "json"),
        ("scheduler", {}, "json"),
        ("up", {}, "json"),
        ("make", {}, "text"),
        ("chat", {}, "text"),
        (None, {}, "text"),
        ("bot", {"NOVACAST_LOG_FORMAT": "text"}, "text"),
        ("make", {"NOVACAST_LOG_FORMAT": "JSON"}, "json"),
        ("bot", {"NOVACAST_LOG_FORMAT": "xml"}, "json"),
    ],
)
def test_the_format_by_command_and_setting(
    command: str | None, env: dict[str, str], chosen: str
) -> None:
    assert observability.log_format(command, env) == chosen


def test_levels() -> None:
    assert observability.log_level(True, {}) == logging.INFO
    assert observability.log_level(False, {}) == logging.WARNING
    assert observability.log_level(False, {"NOVACAST_LOG_LEVEL": "debug"}) == logging.DEBUG
    assert observability.log_level(False, {"NOVACAST_LOG_LEVEL": "loud"}) == logging.WARNING


def test_which_values_count_as_secrets() -> None:
    found = observability.secret_values({
        "TELEGRAM_BOT_TOKEN": "123:abcdefgh",
        "NOVACAST_SECRET_KEYS": "key-one-aaaaaaa, key-two-bbbbbbb",
        "OPENAI_API_KEY": "sk-123456789",
        "REDIS_URL": "redis://:hunter2hunter@redis:6379/0",
        "SENTRY_DSN": "https://abcdef123@o1.ingest.sentry.io/2",
        "NOVACAST_DATA_DIR": "/var/lib/novacast",
        "TELEGRAM_WEBHOOK_SECRET": "abc",  # too short to redact without blanking everything
    })
    assert set(found) == {
        "123:abcdefgh", "key-one-aaaaaaa, key-two-bbbbbbb", "key-one-aaaaaaa", "key-two-bbbbbbb",
        "sk-123456789", "hunter2hunter", "https://abcdef123@o1.ingest.sentry.io/2",
    }
    assert found == sorted(found, key=len, reverse=True)


def test_text_format_prefixes_the_trace_id() -> None:
    formatter = observability.TextFormatter(observability.Redactor([TOKEN]))
    record = logging.LogRecord("bot", logging.WARNING, "f.py", 1, "with %s", (TOKEN,), None)
    with telemetry.traced("7f3a9c12e4b1"):
        text = formatter.format(record)
    assert text.startswith("[7f3a9c12e4b1] ")
    assert text.endswith("bot WARNING with [redacted]")


@pytest.mark.parametrize(
    ("raw", "ports"),
    [("9101", [9101]), ("9101-9103", [9101, 9102, 9103]), ("", []), ("x", []), ("0", [])],
)
def test_metrics_ports(raw: str, ports: list[int]) -> None:
    assert observability.metrics_ports(raw) == ports


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/media/abc.def/video.mp4", "/media/<token>/video.mp4"),
        ("/signin/one-time-token", "/signin/<token>"),
        ("/pictures/sig123/p.jpg", "/pictures/<token>/p.jpg"),
        ("/api/v1/files/asset-token", "/api/v1/files/<token>"),
        ("/api/v1/projects", "/api/v1/projects"),
    ],
)
def test_link_tokens_never_reach_an_access_log_line_or_a_report(path: str, shown: str) -> None:
    assert observability.redacted_path(path) == shown
    assert server.redacted_path(path) == shown  # the bot's access log


def test_secrets_named_by_a_file_variable_are_read_from_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "youtube-refresh-token"
    secret.write_text("1//planted-refresh-token\n")
    found = observability.secret_values({
        "YOUTUBE_REFRESH_TOKEN_FILE": str(secret),
        "NOVACAST_SECRET_KEYS_FILE": str(tmp_path / "missing"),
    })
    assert found == ["1//planted-refresh-token"]
