"""Checks a rendered video must pass before anyone is asked to approve it.

This module owns the acceptance rules for a render: its length (within absolute limits and
close to the narration it was made from), both streams present with the codecs chat platforms
play (H.264 video, AAC audio), sound that is not silent, and loudness in a sensible range.
Each failed rule adds one problem in plain words; `CheckReport.ok` is true when there are none.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pipeline.probe import MediaFacts, probe


class CheckLimits(BaseModel):
    """The limits a render is held to; defaults suit narrated shorts at about -16 LUFS."""

    model_config = ConfigDict(frozen=True)

    min_seconds: float = Field(default=3.0, gt=0)
    max_seconds: float = Field(default=185.0, gt=0)
    duration_tolerance: float = Field(default=0.25, ge=0, description="seconds off expected")
    video_codec: str = "h264"
    audio_codec: str = "aac"
    silence_dbfs: float = Field(default=-50.0, description="RMS below this counts as silent")
    min_lufs: float = -24.0
    max_lufs: float = -10.0


class CheckReport(BaseModel):
    """The outcome of checking one file: ok, the problems found, and what was measured."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    problems: list[str]
    facts: MediaFacts


DEFAULT_LIMITS = CheckLimits()


def check_video(
    path: Path, expected_seconds: float, limits: CheckLimits = DEFAULT_LIMITS
) -> CheckReport:
    """Probe `path` and hold it to `limits`; a bad video is reported, not raised."""
    facts = probe(Path(path))
    problems = [
        *_duration_problems(facts, expected_seconds, limits),
        *_stream_problems(facts, limits),
        *_sound_problems(facts, limits),
    ]
    return CheckReport(ok=not problems, problems=problems, facts=facts)


def _duration_problems(facts: MediaFacts, expected: float, limits: CheckLimits) -> list[str]:
    problems = []
    if facts.duration < limits.min_seconds:
        problems.append(f"the video is too short ({facts.duration:.1f} s; "
                        f"at least {limits.min_seconds:.0f} s)")
    if facts.duration > limits.max_seconds:
        problems.append(f"the video is too long ({facts.duration:.1f} s; "
                        f"at most {limits.max_seconds:.0f} s)")
    if abs(facts.duration - expected) > limits.duration_tolerance:
        problems.append(f"the video lasts {facts.duration:.1f} s but the narration "
                        f"lasts {expected:.1f} s")
    return problems


def _stream_problems(facts: MediaFacts, limits: CheckLimits) -> list[str]:
    problems = []
    if facts.video_codec is None:
        problems.append("the file has no picture")
    elif facts.video_codec != limits.video_codec:
        problems.append(f"the picture is {facts.video_codec}, not {limits.video_codec}")
    if facts.audio_codec is None:
        problems.append("the file has no sound track")
    elif facts.audio_codec != limits.audio_codec:
        problems.append(f"the sound is {facts.audio_codec}, not {limits.audio_codec}")
    return problems


def _sound_problems(facts: MediaFacts, limits: CheckLimits) -> list[str]:
    if facts.rms_dbfs is None or facts.loudness_lufs is None:
        return []
    if facts.rms_dbfs < limits.silence_dbfs:
        return ["the sound is silent"]
    if facts.loudness_lufs < limits.min_lufs:
        return [f"the sound is too quiet ({facts.loudness_lufs:.0f} LUFS; "
                f"at least {limits.min_lufs:.0f})"]
    if facts.loudness_lufs > limits.max_lufs:
        return [f"the sound is too loud ({facts.loudness_lufs:.0f} LUFS; "
                f"at most {limits.max_lufs:.0f})"]
    return []
