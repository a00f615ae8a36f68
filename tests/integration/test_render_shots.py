"""Real renders with shots: clips and stills made by ffmpeg here, Piper narration, frames read
back with PyAV. One preview render is shared by most tests (module scope).

The script: scene 1 (the hook and one line) shows a blue clip then a patterned still; scene 2
a white clip; scene 3 a one-second clip that turns from red to yellow, under a longer beat;
scene 4 a shot whose file is missing, so its gradient and title card.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from pipeline.ffmpeg import run_ffmpeg
from pipeline.footage import beats
from pipeline.media.model import Candidate, Crop, MediaKind, Shot
from pipeline.narration import Narration
from pipeline.probe import frame_at, probe
from pipeline.render import Profile, render
from pipeline.script import Scene, Script
from pipeline.voice import PiperTTS

Frame = npt.NDArray[np.uint8]
SENTENCES = [
    "Octopuses have three hearts and blue blood.",
    "Two of the hearts pump blood through the gills.",
    "The third one sends it around the whole body.",
    "When an octopus swims, that heart stops beating.",
]
GRADIENT = ("#0f2027", "#2c5364")
FADE = 0.4
"""A little more than a cross-fade: samples this close to a cut may show both shots."""


def _candidate(name: str, kind: MediaKind = MediaKind.VIDEO) -> Candidate:
    return Candidate(source="test", id=name, kind=kind, width=320, height=568,
                     duration=None if kind == MediaKind.PHOTO else 2.0)


def _script(with_shots: bool = True) -> Script:
    def shots(*planned: Shot) -> list[Shot]:
        return list(planned) if with_shots else []

    return Script(
        idea="octopus hearts", title="Three hearts", hook="Why does an octopus need three hearts?",
        sentences=SENTENCES, target_seconds=15, writer="test",
        scenes=[
            Scene(title="Three hearts", sentences=[0],
                  shots=shots(Shot(media=_candidate("blue"), line=0, seconds=3),
                              Shot(media=_candidate("still", MediaKind.PHOTO), line=1,
                                   seconds=2, crop=Crop(x=0.4)))),
            Scene(title="The gills", sentences=[1],
                  shots=shots(Shot(media=_candidate("white"), line=2, seconds=2))),
            Scene(title="The body", sentences=[2],
                  shots=shots(Shot(media=_candidate("blink"), line=3, seconds=2, start=0.2))),
            Scene(title="Swimming stops it", sentences=[3], colors=GRADIENT,
                  shots=shots(Shot(media=_candidate("gone"), line=4, seconds=2))),
        ],
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shots")


def _lavfi(source: str, out: Path, seconds: float, *extra: str) -> Path:
    run_ffmpeg(["-f", "lavfi", "-i", source, *extra, "-y", str(out)], duration=seconds)
    return out


@pytest.fixture(scope="module")
def media(workdir: Path) -> dict[str, Path]:
    clip = ("-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p")
    blink = ("color=c=red:s=320x568:r=30:d=0.5[a];color=c=yellow:s=320x568:r=30:d=0.5[b];"
             "[a][b]concat=n=2:v=1:a=0")
    return {
        "test:blue": _lavfi("color=c=0x0000ff:s=320x568:r=30", workdir / "blue.mp4", 2, *clip),
        "test:white": _lavfi("color=c=white:s=320x568:r=30", workdir / "white.mp4", 2, *clip),
        "test:blink": _lavfi(blink, workdir / "blink.mp4", 1, "-c:v", "libx264",
                             "-pix_fmt", "yuv420p"),
        "test:still": _lavfi("testsrc2=s=480x640", workdir / "still.png", 1, "-frames:v", "1"),
    }


@pytest.fixture(scope="module")
def narration(workdir: Path) -> Narration:
    return PiperTTS().speak(_script().narration, workdir / "narration.wav")


@pytest.fixture(scope="module")
def video(workdir: Path, narration: Narration, media: dict[str, Path]) -> Path:
    return render(_script(), narration, workdir / "shots.mp4", profile=Profile.PREVIEW,
                  media=media)


def _scene_starts(narration: Narration) -> list[float]:
    """Each scene starts at its sentence's cue (sentence n is cue n + 1; the hook is cue 0)."""
    return [0.0, *(narration.cues[n + 1].start for n in (1, 2, 3)), narration.duration]


def _middle(frame: Frame) -> npt.NDArray[np.float64]:
    """The mean colour between the title (top) and the shade (lower half)."""
    height, width = frame.shape[:2]
    region = frame[int(height * 0.3) : int(height * 0.45), int(width * 0.2) : int(width * 0.8)]
    return np.asarray(region.reshape(-1, 3).mean(axis=0), dtype=np.float64)


def _is(colour: npt.NDArray[np.float64], rgb: tuple[int, int, int]) -> bool:
    return bool(np.abs(colour - np.array(rgb)).max() < 40)


def _luma(pixels: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(pixels @ np.array([0.2126, 0.7152, 0.0722]), dtype=np.float64)


def _times(narration: Narration, step: float = 0.2) -> list[float]:
    return [float(t) for t in np.arange(0.05, narration.duration - 0.05, step)]


@pytest.mark.slow
def test_the_output_is_h264_aac_at_the_preview_size_and_as_long_as_the_narration(
    video: Path, narration: Narration
) -> None:
    facts = probe(video)
    assert (facts.video_codec, facts.audio_codec) == ("h264", "aac")
    assert (facts.width, facts.height) == (540, 960)
    assert facts.duration == pytest.approx(narration.duration, abs=0.15)


@pytest.mark.slow
def test_a_clip_is_on_screen_during_its_beat_and_nowhere_else(
    video: Path, narration: Narration
) -> None:
    """The blue clip has the first 3/5 of scene 1; the white clip all of scene 2."""
    starts = _scene_starts(narration)
    blue_end = starts[1] * 3 / 5
    white = (starts[1], starts[2])
    for t in _times(narration):
        colour = _middle(frame_at(video, t))
        if t < blue_end - 0.05:
            assert _is(colour, (0, 0, 255)), (t, colour)
        elif t > blue_end + FADE:
            assert not _is(colour, (0, 0, 255)), (t, colour)
        if white[0] + FADE < t < white[1] - 0.05:
            assert _is(colour, (255, 255, 255)), (t, colour)
        elif not white[0] - 0.05 < t < white[1] + FADE:
            assert not _is(colour, (255, 255, 255)), (t, colour)


@pytest.mark.slow
def test_a_clip_shorter_than_its_beat_loops(video: Path, narration: Narration) -> None:
    """The one-second red-then-yellow clip, from 0.2 s, keeps changing over its longer beat."""
    starts = _scene_starts(narration)
    assert starts[3] - starts[2] > 1.6
    seen = []
    for t in np.arange(starts[2] + FADE, starts[3] - 0.05, 0.1):
        colour = _middle(frame_at(video, float(t)))
        assert _is(colour, (255, 0, 0)) or _is(colour, (255, 255, 0)), (t, colour)
        seen.append("red" if _is(colour, (255, 0, 0)) else "yellow")
    changes = sum(a != b for a, b in itertools.pairwise(seen))
    assert changes >= 3, seen  # red, yellow, red, yellow...: it loops, it does not freeze


def _shift(first: Frame, second: Frame) -> tuple[int, int]:
    """How far `second` is moved against `first` (phase correlation of the grey images)."""
    a, b = (np.asarray(frame.mean(axis=2), dtype=np.float64) for frame in (first, second))
    spectrum = np.fft.fft2(a) * np.conj(np.fft.fft2(b))
    peak = np.fft.ifft2(spectrum / (np.abs(spectrum) + 1e-9)).real
    dy, dx = np.unravel_index(int(peak.argmax()), peak.shape)
    height, width = peak.shape
    return (int(dx) - width if dx > width // 2 else int(dx),
            int(dy) - height if dy > height // 2 else int(dy))


@pytest.mark.slow
def test_a_still_moves_slowly(video: Path, narration: Narration) -> None:
    starts = _scene_starts(narration)
    begin, end = starts[1] * 3 / 5 + FADE, starts[1] - 0.1
    first, second = frame_at(video, begin), frame_at(video, end)
    rows = slice(int(first.shape[0] * 0.3), int(first.shape[0] * 0.45))
    dx, dy = _shift(first[rows], second[rows])
    assert (dx, dy) != (0, 0)
    assert abs(dx) < 40
    assert abs(dy) < 40
    moved = np.roll(second[rows].astype(int), (dy, dx), axis=(0, 1))[40:-40, 40:-40]
    assert np.abs(moved - first[rows].astype(int)[40:-40, 40:-40]).mean() < 12


@pytest.mark.slow
def test_captions_keep_their_contrast_over_a_white_clip(
    video: Path, narration: Narration
) -> None:
    cue = narration.cues[2]  # spoken over the white clip
    frame = frame_at(video, (cue.start + cue.end) / 2 + 0.2)
    height = frame.shape[0]
    band = _luma(frame[int(height * 0.55) : int(height * 0.85)].reshape(-1, 3).astype(float))
    text = band[band > 235]
    shade = float(np.median(band))
    assert text.size > 300
    ratio = (float(text.mean()) / 255 + 0.05) / (shade / 255 + 0.05)
    assert ratio > 2.0, (shade, ratio)
    assert shade < 150


@pytest.mark.slow
def test_the_shade_darkens_without_greying_the_colours(video: Path) -> None:
    frame = frame_at(video, 0.5)
    height, width = frame.shape[:2]
    below = frame[int(height * 0.9) :, int(width * 0.1) : int(width * 0.9)].reshape(-1, 3)
    red, green, blue = below.astype(float).mean(axis=0)
    assert 60 < blue < 180, (red, green, blue)
    assert max(red, green) < 25, (red, green, blue)


def _title_pixels(frame: Frame) -> int:
    top = frame[: frame.shape[0] // 4].astype(int)
    return int(np.all(top > 225, axis=2).sum())


@pytest.mark.slow
def test_the_title_shows_during_the_hook_only_and_on_a_scene_without_pictures(
    video: Path, narration: Narration
) -> None:
    hook, line = narration.cues[0], narration.cues[1]
    assert _title_pixels(frame_at(video, hook.end - 0.1)) > 1000
    assert _title_pixels(frame_at(video, (line.start + line.end) / 2)) < 50  # blue or still
    gone = narration.cues[4]  # scene 4: the missing shot, so the gradient with its title
    assert _title_pixels(frame_at(video, (gone.start + gone.end) / 2)) > 1000


@pytest.mark.slow
def test_a_shot_whose_file_is_missing_shows_the_gradient(
    video: Path, narration: Narration
) -> None:
    starts = _scene_starts(narration)
    colour = _middle(frame_at(video, (starts[4] + starts[3]) / 2 + 0.2))
    darkest, lightest = (np.array([int(c[i : i + 2], 16) for i in (1, 3, 5)]) for c in GRADIENT)
    assert np.all(colour >= darkest - 20), colour
    assert np.all(colour <= lightest + 20), colour


@pytest.mark.slow
def test_a_script_without_shots_or_media_renders_as_before(
    workdir: Path, narration: Narration
) -> None:
    plain = render(_script(with_shots=False), narration, workdir / "plain.mp4",
                   profile=Profile.PREVIEW)
    unmapped = render(_script(), narration, workdir / "unmapped.mp4", profile=Profile.PREVIEW)
    for t in (0.5, narration.cues[2].start + 0.5, narration.duration - 0.3):
        assert np.array_equal(frame_at(plain, t), frame_at(unmapped, t)), t


def test_a_scene_is_shared_among_its_shots_in_order_and_in_proportion(
    media: dict[str, Path],
) -> None:
    shots = [Shot(media=_candidate(name), line=0, seconds=seconds)
             for name, seconds in (("blue", 1.0), ("absent", 2.0), ("white", 1.0))]
    planned = beats(30, 100, GRADIENT, shots, media)
    assert [(b.first_frame, b.frames) for b in planned] == [(30, 25), (55, 50), (105, 25)]
    assert [b.pictured for b in planned] == [True, False, True]
    (alone,) = beats(0, 10, GRADIENT, [], media)
    assert (alone.frames, alone.pictured, alone.colours) == (10, False, GRADIENT)


def test_a_background_shot_shows_its_own_colours_and_a_changed_file_the_scenes(
    tmp_path: Path,
) -> None:
    background = Candidate(source="background", id="112233-445566", kind=MediaKind.BACKGROUND,
                           width=0, height=0)
    text = tmp_path / "clip.mp4"
    text.write_text("#EXTM3U\nhttp://example.com/x.ts\n")
    shots = [Shot(media=background, line=0, seconds=1), Shot(media=_candidate("a"), line=0,
                                                             seconds=1)]
    first, second = beats(0, 20, GRADIENT, shots, {"test:a": text})
    assert (first.colours, first.pictured) == (("0x112233", "0x445566"), False)
    assert (second.colours, second.pictured) == (GRADIENT, False)

