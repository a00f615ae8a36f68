"""What a user reads when a job fails for reasons outside production's own errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from rq.exceptions import AbandonedJobError

from bot import replies
from pipeline.errors import TransientError
from workers.failures import plain_reason


def _disk_full_error() -> OSError:
    """A real ENOSPC: /dev/full answers every write with 'No space left on device'."""
    with pytest.raises(OSError) as caught, Path("/dev/full").open("wb", buffering=0) as full:
        full.write(b"narration")
    return caught.value


def test_a_full_disk_is_said_in_words_not_as_an_unexpected_error() -> None:
    assert plain_reason(_disk_full_error()) == replies.DISK_FULL


def test_other_os_errors_stay_unexpected_and_production_errors_speak_for_themselves() -> None:
    assert plain_reason(PermissionError(13, "Permission denied")) == replies.UNEXPECTED
    assert plain_reason(AbandonedJobError()) == replies.WORKER_STOPPED
    assert plain_reason(TransientError("ElevenLabs did not answer in time")) == (
        "ElevenLabs did not answer in time"
    )
