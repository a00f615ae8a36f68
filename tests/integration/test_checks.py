"""check_video against real files: a good render passes; silent, mute and mistimed ones fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.checks import CheckLimits, check_video
from pipeline.ffmpeg import run_ffmpeg
from pipeline.narration import Narration
from pipeline.render import Profile, render
from pipeline.script import Scene, Script
from pipeline.voice import PiperTTS


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Narration]:
    folder = tmp_path_factory.mktemp("checks")
    script = Script(idea="tides", title="Tides", hook="Why are there two tides a day?",
                    sentences=["The moon pulls the ocean toward it.",
                               "The far side bulges too, so there are two tides."],
                    scenes=[Scene(title="Tides", sentences=[0, 1])], target_seconds=6,
                    writer="test")
    narration = PiperTTS().speak(script.narration, folder / "n.wav")
    return render(script, narration, folder / "good.mp4", profile=Profile.PREVIEW), narration


def _clip(out: Path, seconds: float, audio: str | None) -> Path:
    """A plain test clip: grey H.264 picture, with the lavfi `audio` graph as AAC, or mute."""
    args = ["-f", "lavfi", "-i", f"color=c=gray:s=320x240:r=15:d={seconds}"]
    if audio is not None:
        args += ["-f", "lavfi", "-i", audio, "-c:a", "aac"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-t", str(seconds),
             "-y", str(out)]
    run_ffmpeg(args, duration=seconds)
    return out


def test_a_good_render_passes(good: tuple[Path, Narration]) -> None:
    path, narration = good
    report = check_video(path, narration.duration)
    assert report.ok, report.problems
    assert report.problems == []
    assert report.facts.video_codec == "h264"


def test_a_wrong_duration_fails(good: tuple[Path, Narration]) -> None:
    path, narration = good
    report = check_video(path, narration.duration + 2.0)
    assert not report.ok
    assert report.problems == [
        f"the video lasts {report.facts.duration:.1f} s but the narration lasts "
        f"{narration.duration + 2.0:.1f} s"
    ]


def test_a_silent_video_fails(tmp_path: Path) -> None:
    silent = _clip(tmp_path / "silent.mp4", 4, "anullsrc=r=44100:cl=stereo")
    report = check_video(silent, 4)
    assert not report.ok
    assert report.problems == ["the sound is silent"]


def test_a_video_without_sound_fails(tmp_path: Path) -> None:
    report = check_video(_clip(tmp_path / "mute.mp4", 4, None), 4)
    assert report.problems == ["the file has no sound track"]


def test_too_quiet_and_too_short_are_reported(tmp_path: Path) -> None:
    quiet = _clip(tmp_path / "quiet.mp4", 2, "sine=f=440:r=44100,volume=-20dB")
    report = check_video(quiet, 2, CheckLimits(min_seconds=3))
    assert not report.ok
    assert report.problems[0].startswith("the video is too short")
    assert report.problems[1].startswith("the sound is too quiet")
