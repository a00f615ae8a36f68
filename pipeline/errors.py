"""Errors production raises; the message is plain words a user can read in the chat."""

from __future__ import annotations

import traceback


class PipelineError(Exception):
    """A production step failed; `str(error)` is safe and meaningful to show a user."""


class TransientError(PipelineError):
    """Worth retrying: a busy machine, a killed process, a flaky network."""


class PermanentError(PipelineError):
    """Retrying will not help: bad input, a missing binary, a broken file."""


def failure_origin(error: BaseException | None) -> str:
    """`file:line` of the innermost frame where `error` was raised (and of our innermost one,
    when that is a library's), for a one-line log entry: never a traceback per request, never
    the payload, which may hold users' words."""
    frames = traceback.extract_tb(error.__traceback__) if error is not None else []
    if not frames:
        return "?"
    ours = [f for f in frames if "site-packages" not in f.filename]
    where = [frames[-1], *ours[-1:]] if ours and ours[-1] is not frames[-1] else frames[-1:]
    return " in ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in where)
