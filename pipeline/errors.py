"""Errors production raises; the message is plain words a user can read in the chat."""

from __future__ import annotations


class PipelineError(Exception):
    """A production step failed; `str(error)` is safe and meaningful to show a user."""


class TransientError(PipelineError):
    """Worth retrying: a busy machine, a killed process, a flaky network."""


class PermanentError(PipelineError):
    """Retrying will not help: bad input, a missing binary, a broken file."""
