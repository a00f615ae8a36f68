"""Real renders with real Piper and ffmpeg: sizes, codecs, timing, captions in frames, ducking."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from pipeline.checks import check_video
from pipeline.errors import PermanentError
from pipeline.ffmpeg import run_ffmpeg
from pipeline.narration import Narration
from pipeline.probe import frame_at, probe, read_audio
from pipeline.render import Profile, frame_size, render, scene_spans
from pipeline.script import Aspect, Scene, Script
from pipeline.voice import PiperTTS

MUSIC_TONE_HZ = 3150.0
SENTENCES = [
    "Octopuses have three hearts.",
    "Two of them pump blood to the gills.",
    "When an octopus swims, the main heart stops beating.",
]


def _script(aspect: Aspect = Aspect.VERTICAL, sentences: list[str] = SENTENCES) -> Script:
    half = max(1, len(sentences) // 2)
    return Script(
        idea="octopus hearts", title="Three hearts", hook="Why does an octopus need three hearts?",
        sentences=sentences, target_seconds=10, aspect=aspect, writer="test",
        scenes=[Scene(title="Three hearts, one octopus", sentences=list(range(half))),
                Scene(title="The swimming problem", sentences=list(range(half, len(sentences))),
                      colors=("#0f2027", "#2c5364"))],
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("render")


@pytest.fixture(scope="module")
def narration(workdir: Path) -> Narration:
    return PiperTTS().speak(_script().narration, workdir / "narration.wav")


@pytest.fixture(scope="module")
def music(workdir: Path) -> Path:
    """Four seconds of a chord plus a marker tone; the render must loop it."""
    out = workdir / "music.wav"
    chord = ("aevalsrc=0.2*sin(2*PI*220*t)+0.15*sin(2*PI*277.2*t)+0.15*sin(2*PI*329.6*t)"
             f"+0.1*sin(2*PI*{MUSIC_TONE_HZ}*t):s=44100:d=4")
    run_ffmpeg(["-f", "lavfi", "-i", chord, "-ac", "2", "-y", str(out)], duration=4)
    return out


@pytest.fixture(scope="module")
def full(workdir: Path, narration: Narration, music: Path) -> Path:
    return render(_script(), narration, workdir / "full.mp4", music=music)


@pytest.fixture(scope="module")
def preview(workdir: Path, narration: Narration) -> Path:
    return render(_script(), narration, workdir / "preview.mp4", profile=Profile.PREVIEW)


def _caption_pixels(frame: npt.NDArray[np.uint8]) -> tuple[int, int]:
    """White and near-black pixels in the caption band (55 %–85 % of the height)."""
    height = frame.shape[0]
    band = frame[int(height * 0.55) : int(height * 0.85)].astype(int)
    white = int(np.all(band > 225, axis=2).sum())
    black = int(np.all(band < 35, axis=2).sum())
    return white, black


def _tone_db(samples: npt.NDArray[np.float64], rate: int, start: float, end: float) -> float:
    """Level of the music's marker tone in [start, end], from one FFT bin's magnitude."""
    window = samples.mean(axis=0)[int(start * rate) : int(end * rate)]
    spectrum = np.abs(np.fft.rfft(window * np.hanning(window.size)))
    frequencies = np.fft.rfftfreq(window.size, 1 / rate)
    near = np.abs(frequencies - MUSIC_TONE_HZ) < 15
    return float(20 * np.log10(spectrum[near].max() / window.size + 1e-12))


@pytest.mark.slow
def test_full_vertical_is_h264_aac_1080x1920_and_as_long_as_the_narration(
    full: Path, narration: Narration
) -> None:
    facts = probe(full)
    assert (facts.video_codec, facts.audio_codec) == ("h264", "aac")
    assert (facts.width, facts.height, facts.fps) == (1080, 1920, 30)
    assert facts.pixel_aspect == "1:1"  # a 9:16 picture, not squeezed by a player
    assert facts.duration == pytest.approx(narration.duration, abs=0.15)
    assert facts.loudness_lufs is not None
    assert -19 <= facts.loudness_lufs <= -13
    assert check_video(full, narration.duration).ok


@pytest.mark.slow
def test_captions_are_burned_in_during_cues_and_absent_in_pauses(
    full: Path, narration: Narration
) -> None:
    for cue, following in zip(narration.cues, narration.cues[1:], strict=False):
        white, black = _caption_pixels(frame_at(full, (cue.start + cue.end) / 2))
        assert min(white, black) > 2000, (cue.text, white, black)
        pause = _caption_pixels(frame_at(full, (cue.end + following.start) / 2))
        assert max(pause) < 50, (cue.text, pause)


@pytest.mark.slow
def test_title_card_is_in_the_top_third(full: Path, narration: Narration) -> None:
    frame = frame_at(full, narration.cues[0].end)
    top = frame[: frame.shape[0] // 3].astype(int)
    assert np.all(top > 225, axis=2).sum() > 5000


@pytest.mark.slow
def test_music_is_ducked_under_the_voice(full: Path, narration: Narration) -> None:
    samples, rate = read_audio(full)
    under_speech = [_tone_db(samples, rate, c.start + 0.3, c.end - 0.1) for c in narration.cues]
    tail = _tone_db(samples, rate, narration.cues[-1].end + 0.25, narration.duration - 0.02)
    assert tail - max(under_speech) >= 4, (tail, under_speech)


def test_preview_is_540x960_at_a_lower_rate(preview: Path, narration: Narration) -> None:
    facts = probe(preview)
    assert (facts.width, facts.height) == (540, 960)
    assert facts.pixel_aspect == "1:1"
    assert facts.fps is not None
    assert facts.fps <= 24
    assert facts.duration == pytest.approx(narration.duration, abs=0.15)
    first = narration.cues[0]
    white, black = _caption_pixels(frame_at(preview, (first.start + first.end) / 2))
    assert white > 300
    assert black > 300


@pytest.mark.parametrize(("aspect", "size"), [(Aspect.LANDSCAPE, (960, 540)),
                                              (Aspect.SQUARE, (540, 540))])
def test_other_aspects_render_at_their_size(
    workdir: Path, narration: Narration, aspect: Aspect, size: tuple[int, int]
) -> None:
    out = render(_script(aspect), narration, workdir / f"{aspect.name}.mp4",
                 profile=Profile.PREVIEW)
    facts = probe(out)
    assert (facts.width, facts.height) == size
    assert facts.pixel_aspect == "1:1"
    assert facts.duration == pytest.approx(narration.duration, abs=0.15)


def test_frame_sizes() -> None:
    assert frame_size(Aspect.VERTICAL, Profile.FULL) == (1080, 1920)
    assert frame_size(Aspect.LANDSCAPE, Profile.FULL) == (1920, 1080)
    assert frame_size(Aspect.SQUARE, Profile.FULL) == (1080, 1080)
    assert frame_size(Aspect.VERTICAL, Profile.PREVIEW) == (540, 960)


def test_scenes_change_at_their_first_sentence(narration: Narration) -> None:
    first, second = scene_spans(_script(), narration, 30)
    assert first.first_frame == 0
    assert second.first_frame == round(narration.cues[2].start * 30)
    assert second.first_frame + second.frames == pytest.approx(narration.duration * 30, abs=1)


def test_progress_is_reported_and_ends_at_one(workdir: Path, narration: Narration) -> None:
    seen: list[float] = []
    render(_script(), narration, workdir / "progress.mp4", profile=Profile.PREVIEW,
           on_progress=seen.append)
    assert seen[-1] == 1.0
    assert seen == sorted(seen)
    assert all(0 <= value <= 1 for value in seen)


def test_a_failed_render_leaves_nothing_behind(tmp_path: Path, narration: Narration) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio at all" * 100)
    bad = narration.model_copy(update={"audio": broken})
    with pytest.raises(PermanentError) as caught:
        render(_script(), bad, tmp_path / "out.mp4", profile=Profile.PREVIEW)
    assert "ffmpeg" not in str(caught.value).split()[0:1]
    assert "-filter_complex" not in str(caught.value)
    assert sorted(path.suffix for path in tmp_path.iterdir()) == [".ass", ".wav"]


def test_a_mismatched_narration_is_refused(tmp_path: Path, narration: Narration) -> None:
    with pytest.raises(PermanentError, match="does not match"):
        render(_script(sentences=SENTENCES[:2]), narration, tmp_path / "out.mp4")


@pytest.mark.slow
def test_preview_is_at_least_four_times_faster_for_30_seconds(tmp_path: Path) -> None:
    sentences = [f"This is sentence number {n}, which says a little more about octopuses."
                 for n in range(1, 9)]
    script = _script(sentences=sentences)
    spoken = PiperTTS().speak(script.narration, tmp_path / "long.wav")
    assert 25 <= spoken.duration <= 40
    began = time.perf_counter()
    render(script, spoken, tmp_path / "full.mp4")
    full_seconds = time.perf_counter() - began
    began = time.perf_counter()
    render(script, spoken, tmp_path / "preview.mp4", profile=Profile.PREVIEW)
    preview_seconds = time.perf_counter() - began
    assert full_seconds / preview_seconds >= 4, (full_seconds, preview_seconds)
