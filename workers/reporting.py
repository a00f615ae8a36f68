"""Progress and results from a job back to the conversation it came from."""

from __future__ import annotations

import logging
import time

import redis

from adapters.outbox import sender_for
from bot import replies
from bot.actions import Action, AskApproval, Button, Preview, Progress, Say
from bot.events import ReplyTarget

log = logging.getLogger(__name__)

MIN_INTERVAL = 0.5
"""Seconds between progress edits: platforms rate-limit message edits."""


class Reporter:
    """Posts through the reply target's adapter; throttles progress edits of the one message."""

    def __init__(self, connection: redis.Redis, target: ReplyTarget, key: str) -> None:
        self._sender = sender_for(target, connection)
        self._target = target
        self._key = key
        self._last: tuple[str, int] = ("", -1)
        self._last_at = 0.0
        self._resumed = False

    def resume(self, stage: str, percent: int) -> None:
        """The step runs again after its worker stopped: the message says so at once, and
        keeps saying so (`replies.resuming`) until the step is done."""
        self._resumed = True
        self.progress(stage, percent)

    def progress(self, stage: str, percent: int, *, done: bool = False) -> None:
        if self._resumed and not done:
            stage = replies.resuming(stage)
        now = time.monotonic()
        same_stage = stage == self._last[0]
        if (
            same_stage
            and not done
            and (percent <= self._last[1] or now - self._last_at < MIN_INTERVAL)
        ):
            return
        self._last, self._last_at = (stage, percent), now
        self._send(
            Progress(target=self._target, key=self._key, stage=stage, percent=percent, done=done)
        )

    def span(self, stage: str, start: int, end: int) -> ProgressSpan:
        """A callback mapping a step's own 0..1 progress onto [start, end] percent."""
        return ProgressSpan(self, stage, start, end)

    def say(self, text: str, buttons: list[Button] | None = None) -> None:
        self._send(Say(target=self._target, text=text, buttons=buttons or []))

    def preview(self, path: str, caption: str, buttons: list[Button] | None = None) -> None:
        self._send(Preview(target=self._target, path=path, caption=caption, buttons=buttons or []))

    def ask_approval(self, project_id: str, text: str, buttons: list[Button]) -> None:
        self._send(
            AskApproval(target=self._target, project_id=project_id, text=text, buttons=buttons)
        )

    def _send(self, action: Action) -> None:
        try:
            self._sender.send(action)
        except Exception:  # a chat outage must not fail the render itself
            log.warning(
                "could not deliver %s to %s", action.kind, self._target.adapter, exc_info=True
            )


class ProgressSpan:
    """Callable progress adapter used by long steps (rendering reports a 0..1 fraction)."""

    def __init__(self, reporter: Reporter, stage: str, start: int, end: int) -> None:
        self._reporter, self._stage, self._start, self._end = reporter, stage, start, end

    def __call__(self, fraction: float) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        self._reporter.progress(
            self._stage, round(self._start + (self._end - self._start) * fraction)
        )
