"""Preview proxies made by real ffmpeg from a landscape clip whose halves differ in colour:
the proxy has the preview's frame, rate and shape, shows the half the shot's crop points at,
keeps the clip's timeline, and a preview rendered from it shows what the original shows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.ffmpeg import run_ffmpeg
from pipeline.media.model import Candidate, Crop, MediaKind, Shot
from pipeline.narration import Cue, Narration
from pipeline.probe import frame_at, probe
from pipeline.proxies import make_proxies, proxy_path, with_proxies
from pipeline.render import Profile, render
from pipeline.script import Scene, Script

LEFT, RIGHT = (220, 30, 30), (30, 30, 220)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("proxies")


@pytest.fixture(scope="module")
def clip(folder: Path) -> Path:
    """6 s of 1280x720: red on the left half, blue on the right, a white bar after 3 s."""
    out = folder / "clip.mp4"
    source = (f"color=c=0x{bytes(LEFT).hex()}:s=640x720:r=30:d=6[l];"
              f"color=c=0x{bytes(RIGHT).hex()}:s=640x720:r=30:d=6[r];"
              "[l][r]hstack,drawbox=y=0:h=60:w=iw:c=white:t=fill:enable=gte(t\\,3)")
    run_ffmpeg(["-f", "lavfi", "-i", source, "-c:v", "libx264", "-pix_fmt", "yuv420p",
                "-t", "6", "-y", str(out)], duration=6)
    return out


@pytest.fixture(scope="module")
def still(folder: Path) -> Path:
    out = folder / "still.png"
    run_ffmpeg(["-f", "lavfi", "-i", "color=c=green:s=320x240", "-frames:v", "1", "-y",
                str(out)], duration=1)
    return out


def _script(crop: Crop) -> Script:
    clip = Candidate(source="test", id="clip", kind=MediaKind.VIDEO, width=1280, height=720,
                     duration=6)
    still = Candidate(source="test", id="still", kind=MediaKind.PHOTO, width=320, height=240)
    return Script(
        idea="hearts", title="Hearts", hook="Why three hearts?", sentences=["Because."],
        target_seconds=10, writer="test",
        scenes=[Scene(title="Hearts", sentences=[0],
                      shots=[Shot(media=clip, line=0, seconds=2, start=0.5, crop=crop),
                             Shot(media=still, line=1, seconds=1)])],
    )


def _centre(frame: np.ndarray) -> tuple[float, ...]:
    height, width, _ = frame.shape
    patch = frame[height // 2 - 8: height // 2 + 8, width // 2 - 8: width // 2 + 8]
    return tuple(float(c) for c in patch.reshape(-1, 3).mean(axis=0))


def _near(colour: tuple[float, ...], rgb: tuple[int, int, int]) -> bool:
    return max(abs(a - b) for a, b in zip(colour, rgb, strict=True)) < 40


def test_a_clip_gets_a_small_proxy_cut_around_its_crop(
    folder: Path, clip: Path, still: Path
) -> None:
    script = _script(Crop(x=0.9))
    files = {"test:clip": clip, "test:still": still}
    made = make_proxies(folder / "proxies", script, files)
    assert set(made) == {"test:clip"}, "stills need no proxy"
    proxy = made["test:clip"]
    facts = probe(proxy)
    assert (facts.video_codec, facts.width, facts.height) == ("h264", 540, 960)
    assert facts.fps == pytest.approx(15, abs=0.1)
    assert facts.audio_codec is None
    assert facts.duration == pytest.approx(6, abs=0.2), "the clip is shorter than the span"
    assert _near(_centre(frame_at(proxy, 1.0)), RIGHT), "crop x=0.9 is the right half"
    top = frame_at(proxy, 4.0)[10:40].reshape(-1, 3).mean(axis=0)
    assert min(top) > 200, "the timeline is kept: the white bar comes after 3 s"
    assert proxy_path(folder / "proxies", clip, script.scenes[0].shots[0], script) == proxy
    assert make_proxies(folder / "proxies", script, files) == made
    assert proxy.stat().st_mtime == made["test:clip"].stat().st_mtime, "made once"


def test_the_preview_reads_the_proxy_only_where_it_exists(
    folder: Path, clip: Path, still: Path
) -> None:
    left = _script(Crop(x=0.1))
    files = {"test:clip": clip, "test:still": still}
    assert with_proxies(folder / "left", left, files) == files, "no proxy made yet"
    make_proxies(folder / "left", left, files)
    chosen = with_proxies(folder / "left", left, files)
    assert chosen["test:still"] == still
    assert chosen["test:clip"].parent == folder / "left"
    other = _script(Crop(x=0.5))
    assert with_proxies(folder / "left", other, files)["test:clip"] == clip, "another crop"


def test_a_preview_from_proxies_shows_what_the_original_shows(
    folder: Path, clip: Path, still: Path
) -> None:
    script = _script(Crop(x=0.1))
    files = {"test:clip": clip, "test:still": still}
    voice = folder / "voice.wav"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=f=300:d=3:r=22050", "-y", str(voice)], duration=3)
    narration = Narration(audio=voice, duration=3.0, sample_rate=22050,
                          cues=[Cue(start=0, end=1.4, text="Why three hearts?"),
                                Cue(start=1.5, end=2.9, text="Because.")])
    make_proxies(folder / "p", script, files)
    proxied = with_proxies(folder / "p", script, files)
    assert proxied["test:clip"] != clip
    outs = []
    for name, media in (("original", files), ("proxied", proxied)):
        out = render(script, narration, folder / f"{name}.mp4", profile=Profile.PREVIEW,
                     media=media)
        outs.append(_centre(frame_at(out, 0.8)))
    assert all(_near(colour, LEFT) for colour in outs), outs
