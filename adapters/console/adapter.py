"""Reads lines, turns them into core events, prints the core's and the workers' actions.

With `patient=True` (stdin is not a terminal) each line, and every job it started, finishes
before the next line is read, so a piped script plays like a patient user. `/attach PATH`, or
a line that is just a file's path, sends that file (`adapters.console.inbound`).

While Redis is unreachable a line is answered `replies.CANNOT_SAVE` (by the core), and waiting
for workers' output stops with one sentence instead of a traceback.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

import redis
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from adapters.console.inbound import Inbox, attach_request
from adapters.console.outbox import ConsoleOutbox
from adapters.console.text import picture_text, preview_text, progress_text, say_text
from bot.actions import Action, AskApproval, Button, JobsStarted, Picture, Preview, Progress, Say
from bot.availability import store_unavailable
from bot.events import ButtonEvent, CommandEvent, Conversation, Event, MessageEvent

Dispatch = Callable[[Event], list[Action]]
LOST_REDIS = (
    "I can't reach my store (Redis) right now, so I can't follow the work in the background; "
    "your draft is kept. Try again in a moment."
)
DONE = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.STOPPED}
_COMMAND = re.compile(r"^/([A-Za-z][\w-]{0,31})(?:\s+(.*))?$", re.DOTALL)


def _normalize_label(text: str) -> str:
    return re.sub(r"[\s.!]+$", "", text.strip().casefold())


def _pressed(text: str, buttons: list[Button]) -> Button | None:
    if text.isdigit() and 1 <= int(text) <= len(buttons):
        return buttons[int(text) - 1]
    wanted = _normalize_label(text)
    return next((b for b in buttons if _normalize_label(b.label) == wanted), None)


def parse_line(
    line: str, conversation: Conversation, buttons: list[Button], inbox: Inbox | None = None
) -> Event | None:
    """A typed line as an event: a file sent (with an `inbox` to copy it into), a slash
    command, a button (label or number), or a message."""
    text = line.strip()
    if not text:
        return None
    if inbox is not None and (wanted := attach_request(text)) is not None:
        sent = inbox.take(wanted)
        return MessageEvent(
            conversation=conversation, text="", attachments=[sent], raw={"line": line}
        )
    if command := _COMMAND.match(text):
        name, args = command.group(1).lower(), (command.group(2) or "").strip()
        return CommandEvent(conversation=conversation, name=name, args=args, raw={"line": line})
    if button := _pressed(text, buttons):
        return ButtonEvent(
            conversation=conversation,
            action=button.action,
            project_id=button.project_id,
            raw={"line": line},
        )
    return MessageEvent(conversation=conversation, text=text, raw={"line": line})


class ConsoleAdapter:
    """The console platform: a terminal is one workspace, one channel, one user."""

    name = "console"

    def __init__(
        self,
        dispatch: Dispatch,
        connection: redis.Redis,
        out: TextIO,
        *,
        workspace: str = "local",
        user: str = "you",
        patient: bool = True,
        job_timeout: float = 900.0,
        workers_alive: Callable[[], bool] | None = None,
        incoming: Path | None = None,
    ) -> None:
        """`incoming` is the folder files sent with `/attach` are copied into (default: the
        data dir's incoming/console, `adapters.incoming.incoming_dir`)."""
        self.conversation = Conversation(
            adapter=self.name, workspace=workspace, channel="terminal", user=user, user_name=user
        )
        self._dispatch = dispatch
        self._redis = connection
        self._out = out
        self._outbox = ConsoleOutbox(connection, workspace)
        self._inbox = Inbox(incoming) if incoming is not None else Inbox()
        self._inbox.sweep()
        self._patient = patient
        self._job_timeout = job_timeout
        self._workers_alive = workers_alive or (lambda: True)
        self._buttons: list[Button] = []
        self._stages: dict[str, str] = {}
        self._live_line = False
        """A terminal shows progress as one line redrawn in place; it is open until other text."""
        self._redraw = out.isatty()
        self._jobs: list[str] = []
        self._lock = threading.Lock()
        self._outbox.start_reading()

    def run(self, lines: Iterable[str]) -> int:
        """Handle every line, then wait for outstanding work; the exit status is 0."""
        pump = None if self._patient else _BackgroundPump(self)
        try:
            for line in lines:
                self.handle_line(line)
        finally:
            if pump is not None:
                pump.stop()
        self.wait_for_jobs()
        return 0

    def handle_line(self, line: str) -> None:
        event = parse_line(line, self.conversation, self._buttons, self._inbox)
        if event is None:
            return
        for action in self._dispatch(event):
            self.show(action)
        if self._patient:
            self.wait_for_jobs()

    def show(self, action: Action) -> None:
        with self._lock:
            self._show(action)

    def _show(self, action: Action) -> None:
        if isinstance(action, JobsStarted):
            self._jobs.extend(action.job_ids)
        elif isinstance(action, Progress):
            self._show_progress(action)
        elif isinstance(action, Say | Preview | AskApproval):
            if action.buttons:
                self._buttons = list(action.buttons)
            self._print(preview_text(action) if isinstance(action, Preview) else say_text(action))
        elif isinstance(action, Picture):
            self._print(picture_text(action))
        else:  # pragma: no cover - the Action union is closed; a new type must be rendered here
            raise TypeError(f"console cannot show {type(action).__name__}")

    def _show_progress(self, action: Progress) -> None:
        line = progress_text(action)
        if self._redraw:
            self._out.write(("\r\033[K" if self._live_line else "") + line)
            self._out.flush()
            self._live_line = not action.done
            if action.done:
                self._out.write("\n")
            return
        if self._stages.get(action.key) == action.stage and not action.done:
            return  # piped output: one line per stage keeps a log readable
        self._stages[action.key] = action.stage
        self._print(line)

    def _print(self, text: str) -> None:
        if self._live_line:
            self._out.write("\n")
            self._live_line = False
        self._out.write(text + "\n\n" if "\n" in text else text + "\n")
        self._out.flush()

    def pump(self, block_ms: int = 0) -> None:
        """Show whatever workers have sent since the last look."""
        for action in self._outbox.read(block_ms):
            self.show(action)

    def wait_for_jobs(self) -> None:
        """Show worker output until every job started so far has finished one way or another
        (or Redis is unreachable: then one sentence says so)."""
        try:
            self._wait_for_jobs()
        except redis.RedisError as error:
            if not store_unavailable(error):
                raise
            if self._jobs:  # a line answered CANNOT_SAVE started none: nothing more to say
                self._print(LOST_REDIS)
            self._jobs.clear()

    def _wait_for_jobs(self) -> None:
        deadline = time.monotonic() + self._job_timeout
        while self._jobs and time.monotonic() < deadline and self._workers_alive():
            self.pump(block_ms=200)
            self._jobs = [j for j in self._jobs if not self._finished(j)]
        self.pump()
        if self._jobs and not self._workers_alive():
            self._print(
                "The render worker has stopped, so nothing more will happen for now; "
                "your draft is safe. Its log is under the data folder's logs/."
            )
        elif self._jobs:
            self._print("Still working in the background; I'll stop waiting here.")
        self._jobs.clear()

    def _finished(self, job_id: str) -> bool:
        # workers.catalog.SERIALIZER, which this floor cannot import: never unpickle a job's meta
        job = Job.fetch_many([job_id], connection=self._redis, serializer=JSONSerializer)[0]
        return job is None or job.get_status(refresh=True) in DONE


class _BackgroundPump:
    """Shows worker output while an interactive user is typing."""

    def __init__(self, adapter: ConsoleAdapter) -> None:
        self._adapter = adapter
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="console-outbox", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._adapter.pump(block_ms=300)
            except redis.RedisError as error:
                if not store_unavailable(error):
                    raise
                self._stop.wait(1.0)  # the next line typed is answered CANNOT_SAVE meanwhile

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
