"""Running ffmpeg: finding the binary, following progress, and turning failures into plain words.

This module owns the one place production starts an ffmpeg process. Callers hand it an argument
list (without the binary) and an expected output duration; it adds progress reporting, reads
`-progress pipe:1` lines, calls `on_progress(fraction)` with values in [0, 1], and maps failures
to `PermanentError`/`TransientError` whose messages are safe to show a user. Details (the
command and ffmpeg's last log lines) go to the log, never into the message.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import IO

from pipeline.errors import PermanentError, PipelineError, TransientError

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float], None]

_TRANSIENT_SIGNS = (
    "no space left on device",
    "cannot allocate memory",
    "resource temporarily unavailable",
    "connection reset",
    "connection timed out",
)
_MISSING_INPUT_SIGNS = ("no such file or directory",)
_BROKEN_INPUT_SIGNS = ("invalid data found when processing input", "could not find codec")


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """The ffmpeg to run: one on PATH first, else the static build imageio-ffmpeg ships."""
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError) as exc:
        log.error("no ffmpeg found: %s", exc)
        raise PermanentError("ffmpeg is not installed on this machine") from exc


def filter_escape(value: str) -> str:
    """Escape `value` for use as a filter option inside a -filter_complex graph.

    Two levels, as ffmpeg-filters documents: first the option value (quote with '...'),
    then the graph (backslash before the characters the graph parser treats specially).
    """
    quoted = "'" + value.replace("'", "'\\''") + "'"
    out = []
    for char in quoted:
        if char in "\\'[],;":
            out.append("\\")
        out.append(char)
    return "".join(out)


def run_ffmpeg(
    args: Sequence[str],
    *,
    duration: float,
    on_progress: ProgressCallback | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
) -> None:
    """Run `ffmpeg <args>`, reporting progress as the fraction of `duration` written so far."""
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
               "-progress", "pipe:1", *args]
    log.debug("running %s", subprocess.list2cmdline(command))
    with tempfile.TemporaryFile(mode="w+b") as stderr:
        returncode = _run(command, stderr, cwd=cwd, timeout=timeout,
                          report=lambda line: _report(line, duration, on_progress))
        stderr.seek(0)
        log_text = stderr.read().decode("utf-8", "replace")
    if returncode != 0:
        raise _failure(returncode, log_text, command)
    if on_progress is not None:
        on_progress(1.0)


def _run(
    command: list[str],
    stderr: IO[bytes],
    *,
    cwd: Path | None,
    timeout: float | None,
    report: Callable[[str], None],
) -> int:
    """Start ffmpeg, feed each progress line to `report`, and return its exit code."""
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, cwd=cwd)
    except OSError as exc:
        log.error("could not start ffmpeg %s: %s", command[0], exc)
        raise PermanentError("ffmpeg could not be started on this machine") from exc
    assert process.stdout is not None
    with process:
        for raw in process.stdout:
            report(raw.decode("ascii", "replace"))
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            process.kill()
            raise TransientError("making the video took too long; try again") from exc


def _report(line: str, duration: float, on_progress: ProgressCallback | None) -> None:
    """Turn one `key=value` progress line into a callback when it says how far ffmpeg got."""
    key, _, value = line.strip().partition("=")
    if on_progress is None or key != "out_time_us" or duration <= 0:
        return
    try:
        seconds = int(value) / 1_000_000
    except ValueError:  # "N/A" before the first frame
        return
    on_progress(min(max(seconds / duration, 0.0), 0.999))


def _failure(returncode: int, log_text: str, command: list[str]) -> PipelineError:
    """Classify a failed run; log the details and return an error with a plain message."""
    tail = "\n".join(log_text.strip().splitlines()[-15:])
    log.error("ffmpeg exited with %s\ncommand: %s\nlog:\n%s",
              returncode, subprocess.list2cmdline(command), tail)
    lowered = log_text.lower()
    if returncode < 0:
        return TransientError("the video maker was stopped before it finished; try again")
    if any(sign in lowered for sign in _TRANSIENT_SIGNS):
        return TransientError("the machine ran short of disk or memory while making the video")
    if any(sign in lowered for sign in _MISSING_INPUT_SIGNS):
        return PermanentError("a file needed for the video is missing")
    if any(sign in lowered for sign in _BROKEN_INPUT_SIGNS):
        return PermanentError("a media file needed for the video is damaged or not supported")
    return PermanentError("ffmpeg could not make the video")
