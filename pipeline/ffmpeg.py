"""Running ffmpeg: choosing the binary, following progress, and turning failures into plain words.

This module owns the one place production starts an ffmpeg process, and the choice of which
ffmpeg that is. `ffmpeg_exe(needs)` resolves, once per process for each set of needs: the binary
`NOVACAST_FFMPEG` names (which must be there and have everything; otherwise `FfmpegUnsuitable`,
meant to stop a command at start), else PATH's ffmpeg if `pipeline.ffmpeg_check.judge` finds it
suitable, else the static build imageio-ffmpeg ships (judged too). Skipping PATH's binary is
logged once, with the reason.

`run_ffmpeg` takes an argument list (without the binary), what the arguments need from ffmpeg
and an expected output duration; it adds progress reporting, reads `-progress pipe:1` lines,
calls `on_progress(fraction)` with values in [0, 1], and maps failures to
`PermanentError`/`TransientError` whose messages are safe to show a user. Details (the command
and ffmpeg's last log lines) go to the log, never into the message.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import IO

import imageio_ffmpeg

from pipeline.errors import PermanentError, PipelineError, TransientError
from pipeline.ffmpeg_check import ANY_FFMPEG, FfmpegNeeds, Verdict, judge
from pipeline.parent_death import signal_on_parent_death

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float], None]
FFMPEG_ENV = "NOVACAST_FFMPEG"

_TRANSIENT_SIGNS = (
    "no space left on device",
    "cannot allocate memory",
    "resource temporarily unavailable",
    "connection reset",
    "connection timed out",
)
_MISSING_INPUT_SIGNS = ("no such file or directory",)
_BROKEN_INPUT_SIGNS = ("invalid data found when processing input", "could not find codec")


class FfmpegUnsuitable(PermanentError):
    """No ffmpeg here can do the work: the message names each binary tried and what it lacks."""


def ffmpeg_exe(needs: FfmpegNeeds = ANY_FFMPEG) -> str:
    """The ffmpeg to run for work that needs `needs` (see the module docstring)."""
    explicit = os.environ.get(FFMPEG_ENV, "").strip() or None
    return _chosen(needs, explicit, shutil.which("ffmpeg")).exe


@cache
def _chosen(needs: FfmpegNeeds, explicit: str | None, on_path: str | None) -> Verdict:
    """The resolution itself, cached on everything it depends on: judged once per process."""
    if explicit is not None:
        return _explicit(explicit, needs)
    found = judge(on_path, needs) if on_path else None
    if found is not None and found.suitable:
        return found
    bundled = _bundled(needs)
    if bundled is not None and bundled.suitable:
        if found is not None:
            log.warning("%s; using the bundled ffmpeg %s instead", found.describe(),
                        bundled.version)
        return bundled
    tried = [verdict.describe() for verdict in (found, bundled) if verdict is not None]
    raise FfmpegUnsuitable(
        ("; ".join(tried) if tried else "no ffmpeg was found on this machine")
        + f". Install a newer ffmpeg, or set {FFMPEG_ENV} to one that has what is missing."
    )


def _explicit(exe: str, needs: FfmpegNeeds) -> Verdict:
    path = Path(exe).expanduser()
    if not path.is_file():
        raise FfmpegUnsuitable(f"{FFMPEG_ENV} names {exe}, which is not a file.")
    verdict = judge(str(path), needs)
    if not verdict.suitable:
        raise FfmpegUnsuitable(
            f"{FFMPEG_ENV}: {verdict.describe()}. Point it at an ffmpeg that has what is "
            "missing, or unset it to use the one on PATH or the bundled one."
        )
    return verdict


def _bundled(needs: FfmpegNeeds) -> Verdict | None:
    """imageio-ffmpeg's binary, judged; None when this platform has none."""
    try:
        exe = str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError as error:
        log.info("imageio-ffmpeg has no ffmpeg here: %s", error)
        return None
    return judge(exe, needs)


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
    needs: FfmpegNeeds = ANY_FFMPEG,
    on_progress: ProgressCallback | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
) -> None:
    """Run `ffmpeg <args>` with an ffmpeg that has `needs`, reporting progress as the fraction of
    `duration` written so far."""
    command = [ffmpeg_exe(needs), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
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


_PREEXEC = signal_on_parent_death(signal.SIGKILL)
"""ffmpeg gets SIGKILL when the thread that started it dies: it ignores SIGPIPE and would finish
the whole render for nobody after its worker was killed."""


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
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, cwd=cwd,
                                   preexec_fn=_PREEXEC)  # noqa: PLW1509 (libc call only)
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
