"""How a NOVACAST process reports on itself: its log lines, its error reports, its metrics port.

The one place logging is configured (`configure_logging`, from `novacast.cli.main`); the
metrics themselves and the trace id are `pipeline.telemetry`'s.

**Logs.** One line per record on stderr. `NOVACAST_LOG_FORMAT=json` writes one JSON object a
line: `time`, `level`, `logger`, `message`, `role` (bot, worker, scheduler, …), `trace_id`
when the record was logged while answering an event or running a job, and for an exception
its type (`error`) and where it was raised (`where`: file:line), never its message or its
traceback, which may quote what a user typed. A message is cut at its first line break (RQ
puts whole tracebacks into its messages). `text` is the classic one-line format. The default
is `json` for the long-running processes (`LONG_RUNNING`) and `text` for the others (`make`,
`chat`, `invite`, `keys`). In both, the values of the secrets in the environment
(`secret_values`) are replaced by `[redacted]` wherever they would appear.

**Sentry** (`init_sentry`, when `SENTRY_DSN` is set): the aiohttp and RQ integrations, no
default PII, no local variables, no request bodies, and a `before_send` (`scrub_event`) that
keeps an event's shape (exception types, stack frames, the route, tags) and drops what could
hold a user's words or a credential.

**Metrics port** (`serve_metrics`): the worker and the scheduler serve prometheus-client's own
exposition on `NOVACAST_METRICS_PORT` (a port, or a range `9101-9110` from which each process
takes the first free one); the bot serves `/metrics` on its HTTP server instead
(`novacast.server`). Why a port per process rather than metrics collected through Redis:
docs/operations.md, *Metrics, logs, traces and error reports*.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from pipeline import telemetry
from pipeline.errors import failure_origin

log = logging.getLogger(__name__)

FORMAT_ENV = "NOVACAST_LOG_FORMAT"
LEVEL_ENV = "NOVACAST_LOG_LEVEL"
METRICS_PORT_ENV = "NOVACAST_METRICS_PORT"
METRICS_ADDR_ENV = "NOVACAST_METRICS_ADDR"
SENTRY_DSN_ENV = "SENTRY_DSN"
LONG_RUNNING = frozenset({"bot", "worker", "scheduler", "up"})
"""Commands whose logs default to JSON: what a service manager or compose collects."""
REDACTED = "[redacted]"
SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|_KEYS?$|_DSN$|CREDENTIALS)")
"""Environment variables whose values are credentials (by name)."""
URL_PASSWORD = re.compile(r"://[^/@:\s]*:([^/@\s]+)@")
MIN_SECRET = 6
"""Shorter values are not redacted (a 3-character 'key' would blank half of every line)."""


# --- secrets -------------------------------------------------------------------------------------


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """The values in the environment that are credentials: variables named like one
    (`*_TOKEN`, `*_SECRET*`, `*_API_KEY`, `*_PASSWORD`, `NOVACAST_SECRET_KEYS`, `SENTRY_DSN`, …),
    the contents of the files their `*_FILE` variants name (Docker secrets), and the password
    of any URL (`REDIS_URL=redis://:pw@host`). Longest first."""
    environ = os.environ if environ is None else environ
    found: set[str] = set()
    for name, raw in environ.items():
        value = raw.strip()
        if name.upper().endswith("_FILE") and SECRET_NAME.search(name.upper()[:-5]):
            value = _secret_file(value)
        if SECRET_NAME.search(name.upper()):
            found.update(part for part in re.split(r"[,\s]+", value) if len(part) >= MIN_SECRET)
            if len(value) >= MIN_SECRET:
                found.add(value)
        found.update(m for m in URL_PASSWORD.findall(value) if len(m) >= MIN_SECRET)
    return sorted(found, key=len, reverse=True)


def _secret_file(path: str) -> str:
    """A secret file's text (the first 64 KB), or "" when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(65536).strip()
    except OSError:
        return ""


class Redactor:
    """Replaces every secret value (`secret_values`, read once) in a string."""

    def __init__(self, secrets: Iterable[str]) -> None:
        values = [re.escape(s) for s in secrets if s]
        self._pattern = re.compile("|".join(values)) if values else None

    def __call__(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text) if self._pattern is not None else text


# --- logs --------------------------------------------------------------------------------------


def log_level(verbose: bool, environ: Mapping[str, str]) -> int:
    """INFO with `-v`; else NOVACAST_LOG_LEVEL (debug, info, warning, error); else WARNING."""
    if verbose:
        return logging.INFO
    named = environ.get(LEVEL_ENV, "").strip().upper()
    level = logging.getLevelName(named) if named else logging.WARNING
    return level if isinstance(level, int) else logging.WARNING


def log_format(command: str | None, environ: Mapping[str, str] | None = None) -> str:
    """`json` or `text`: NOVACAST_LOG_FORMAT, else json for the long-running processes."""
    environ = os.environ if environ is None else environ
    chosen = environ.get(FORMAT_ENV, "").strip().lower()
    if chosen in ("json", "text"):
        return chosen
    return "json" if command in LONG_RUNNING else "text"


def _first_line(text: str) -> tuple[str, str | None]:
    """A message's first line, and the exception type named by a traceback after it."""
    head, _, rest = text.partition("\n")
    if not rest:
        return head, None
    last = rest.strip().rsplit("\n", 1)[-1]
    name = re.match(r"^([A-Za-z_][\w.]*)(:|$)", last)
    return head, name.group(1).rsplit(".", 1)[-1] if name else None


class JsonFormatter(logging.Formatter):
    """One JSON object per record, one line (see the module docstring for the fields)."""

    def __init__(self, role: str, redact: Redactor) -> None:
        super().__init__()
        self.role = role
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        message, raised = _first_line(record.getMessage())
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(message),
            "role": self.role,
        }
        trace = getattr(record, "trace_id", None) or telemetry.trace_id()
        if trace:
            line["trace_id"] = trace
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            line["error"], line["where"] = type(error).__name__, failure_origin(error)
        elif raised:
            line["error"] = raised
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The classic line (`time logger LEVEL message`), with `[trace]` when there is one and
    secrets redacted; tracebacks are kept (an interactive command's user reads them)."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(name)s %(levelname)s %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        text = self.redact(super().format(record))
        trace = telemetry.trace_id()
        return f"[{trace}] {text}" if trace else text


def configure_logging(
    command: str | None, *, verbose: bool = False, environ: Mapping[str, str] | None = None
) -> str:
    """Configure the root logger for this process (the only place that does); returns the
    format chosen. httpx's request lines hold URLs with Telegram's token: held back."""
    environ = os.environ if environ is None else environ
    chosen = log_format(command, environ)
    redact = Redactor(secret_values(environ))
    handler = logging.StreamHandler(sys.stderr)
    role = command or "novacast"
    handler.setFormatter(JsonFormatter(role, redact) if chosen == "json" else TextFormatter(redact))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(log_level(verbose, environ))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if chosen == "json":
        _everything_through_logging()
    return chosen


def _everything_through_logging() -> None:
    """Python's warnings and uncaught exceptions (main thread and others) become log records,
    so even a crash is one JSON line (its type and place, not its text; Sentry has the stack)."""
    logging.captureWarnings(True)
    crash = logging.getLogger("novacast.crash")

    def uncaught(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        crash.critical("the process stopped on an uncaught %s", kind.__name__,
                       exc_info=(kind, error, tb))

    def uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or isinstance(args.exc_value, SystemExit):
            return
        name = args.thread.name if args.thread is not None else "?"
        crash.error("thread %s stopped on an uncaught %s", name, args.exc_type.__name__,
                    exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    sys.excepthook = uncaught
    threading.excepthook = uncaught_in_thread


# --- Sentry ------------------------------------------------------------------------------------

SAFE_HEADERS = frozenset({"content-type", "content-length", "user-agent", "accept", "host"})
"""Request headers an error report keeps; every other (tokens, signatures, cookies) goes."""
DROPPED_REQUEST_FIELDS = ("data", "cookies", "query_string", "env")
TOKEN_PATHS = re.compile(r"/(media|signin|pictures|files)/[^/?#]*")
"""Path segments that are credentials by themselves: signed media links, one-time sign-in
links, signed picture links, the API's signed asset downloads (`/api/v1/files/<token>`).
Replaced by `<token>` in access logs and error reports."""


def redacted_path(path: str) -> str:
    """A request path fit for a log or a report: every token segment replaced."""
    return TOKEN_PATHS.sub(r"/\1/<token>", path)


def _walk(value: Any, redact: Redactor) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _walk(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, redact) for v in value]
    return value


def _scrub_frames(event: dict[str, Any]) -> None:
    """No local variables and no exception messages (types and frames stay)."""
    holders = [*event.get("exception", {}).get("values", []), *event.get("threads", {}).get(
        "values", []
    )]
    for holder in holders:
        if "value" in holder:
            holder["value"] = ""
        for frame in (holder.get("stacktrace") or {}).get("frames", []):
            frame.pop("vars", None)


def _scrub_request(event: dict[str, Any]) -> None:
    request = event.get("request")
    if not isinstance(request, dict):
        return
    for field in DROPPED_REQUEST_FIELDS:
        request.pop(field, None)
    headers = request.get("headers")
    if isinstance(headers, dict):
        request["headers"] = {k: v for k, v in headers.items() if k.lower() in SAFE_HEADERS}
    if isinstance(request.get("url"), str):
        request["url"] = redacted_path(request["url"].split("?", 1)[0])


def scrub_event(event: dict[str, Any], redact: Redactor) -> dict[str, Any]:
    """An error report with nothing a user typed and no credential: exception messages,
    local variables, request bodies, cookies, query strings and headers other than
    `SAFE_HEADERS` removed; breadcrumbs (log lines that may quote anything) dropped; RQ's job
    arguments and description (a reply target, a user id) dropped; then every secret value
    left anywhere replaced. The trace id goes in as the `trace_id` tag."""
    _scrub_frames(event)
    _scrub_request(event)
    event.pop("breadcrumbs", None)
    event.pop("user", None)
    event.get("extra", {}).pop("sys.argv", None)  # `novacast make "an idea"` holds words
    job = event.get("extra", {}).get("rq-job")
    if isinstance(job, dict):
        event["extra"]["rq-job"] = {k: job[k] for k in ("job_id", "func") if k in job}
    trace = telemetry.trace_id()
    if trace:
        event.setdefault("tags", {})["trace_id"] = trace
    scrubbed: dict[str, Any] = _walk(event, redact)
    return scrubbed


def init_sentry(role: str, environ: Mapping[str, str] | None = None) -> bool:
    """Start reporting errors to `SENTRY_DSN` (False when unset). Imported only then."""
    environ = os.environ if environ is None else environ
    dsn = environ.get(SENTRY_DSN_ENV, "").strip()
    if not dsn:
        return False
    import sentry_sdk  # noqa: PLC0415 (only processes that report load it)
    from sentry_sdk.integrations.aiohttp import AioHttpIntegration  # noqa: PLC0415
    from sentry_sdk.integrations.rq import RqIntegration  # noqa: PLC0415

    redact = Redactor(secret_values(environ))

    def before_send(event: Any, _hint: Any) -> Any:
        return scrub_event(event, redact)

    sentry_sdk.init(
        dsn=dsn,
        integrations=[AioHttpIntegration(), RqIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=before_send,
        before_send_transaction=before_send,
        before_breadcrumb=lambda _crumb, _hint: None,
        server_name=role,
        environment=environ.get("NOVACAST_ENVIRONMENT", "production"),
        http_proxy="",
        https_proxy="",
    )
    sentry_sdk.set_tag("role", role)
    return True


# --- metrics port ---------------------------------------------------------------------------


def metrics_ports(raw: str) -> list[int]:
    """`9101` -> [9101]; `9101-9110` -> the range; empty or malformed -> []."""
    raw = raw.strip()
    match = re.fullmatch(r"(\d{1,5})(?:-(\d{1,5}))?", raw)
    if match is None:
        if raw:
            log.warning("%s=%r is neither a port nor a range; no metrics port", METRICS_PORT_ENV,
                        raw[:20])
        return []
    first = int(match.group(1))
    last = int(match.group(2) or first)
    return [p for p in range(first, last + 1) if 0 < p < 65536]


def serve_metrics(role: str, environ: Mapping[str, str] | None = None) -> int | None:
    """Serve this process's metrics on the first free port of NOVACAST_METRICS_PORT (bound to
    NOVACAST_METRICS_ADDR, default all interfaces); the port, or None when unset or all busy."""
    environ = os.environ if environ is None else environ
    from prometheus_client import start_http_server  # noqa: PLC0415

    address = environ.get(METRICS_ADDR_ENV, "").strip() or "0.0.0.0"  # noqa: S104
    for port in metrics_ports(environ.get(METRICS_PORT_ENV, "")):
        try:
            start_http_server(port, addr=address)
        except OSError:
            continue
        log.warning("%s metrics on %s:%s/metrics", role, address, port)
        return port
    if environ.get(METRICS_PORT_ENV, "").strip():
        log.warning("no free port in %s for the %s's metrics", METRICS_PORT_ENV, role)
    return None


def start(command: str | None, *, verbose: bool = False) -> None:
    """What every `novacast` command does first: its logs, and Sentry for the long-running."""
    configure_logging(command, verbose=verbose)
    if command in LONG_RUNNING:
        init_sentry(command or "novacast")
