"""`novacast make` with pictures, as a user runs it: a real process, the real Pexels source
against the Pexels fake (solid-colour clips made by ffmpeg), the real shot chooser, media cache,
Piper and ffmpeg. The storyboard is printed a line per shot with its source, in sentence order,
and the video shows each shot's colour during its beat; with no keys, the built-in backgrounds,
said in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from pipeline.footage import beats, transition_frames
from pipeline.media.backgrounds import is_background
from pipeline.narration import Narration
from pipeline.probe import frame_at, probe
from pipeline.render import ENCODINGS, Profile, scene_spans
from pipeline.script import Script
from tests.fakes.pexels_api import Item, PexelsFake

pytestmark = pytest.mark.slow

KEY_VARIABLES = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
                 "OLLAMA_HOST", "ELEVENLABS_API_KEY", "PEXELS_API_KEY", "PEXELS_API_URL",
                 "PIXABAY_API_KEY", "PIXABAY_API_URL", "REDIS_URL")
COLOURS = ["#d62828", "#f77f00", "#fcbf49", "#2a9d8f", "#264653", "#8338ec", "#3a86ff",
           "#ff006e", "#06d6a0", "#ffd166", "#8ecae6", "#b5179e", "#588157", "#e76f51"]
WORDS = ["swimming ocean sea", "blood pumping anatomy", "gills breathing water", "deep sea diving",
         "arms tentacles closeup", "jet propulsion", "brain intelligence", "reef coral",
         "organ body", "blue blood science", "hiding camouflage", "eggs mother",
         "crawling rocks", "ink cloud escape"]
CATALOGUE = [
    Item(300 + n, "video", colour, f"octopuses hearts octopus heart {words}",
         user=f"Creator {n}", seconds=3.0)
    for n, (colour, words) in enumerate(zip(COLOURS, WORDS, strict=True))
]
IDEA = "30s on why octopuses have three hearts"


def _make(idea: str, data_dir: Path, env: dict[str, str], *extra: str) -> (
        subprocess.CompletedProcess[str]):
    base = {k: v for k, v in os.environ.items() if k not in KEY_VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "novacast", "make", idea, *extra],
        env={**base, "NOVACAST_DATA_DIR": str(data_dir), "NO_PROXY": "127.0.0.1,localhost",
             **env},
        capture_output=True, text=True, timeout=900, check=False,
    )


def _made(video: Path) -> tuple[Script, Narration]:
    folder = video.parent
    script = Script.model_validate_json((folder / "script.json").read_text())
    narration = Narration.model_validate_json((folder / "narration.json").read_text())
    return script, narration


def _colour(frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    """The median colour of a band below the title and above the caption shade, on the left."""
    height, width = frame.shape[:2]
    region = frame[int(height * 0.36): int(height * 0.46), int(width * 0.04): int(width * 0.3)]
    return np.asarray(np.median(region.reshape(-1, 3), axis=0), dtype=np.float64)


def _rgb(hex_colour: str) -> npt.NDArray[np.float64]:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)


def _beat_times(script: Script, narration: Narration) -> list[tuple[str, float]]:
    """(shot key, a time well inside its beat) for every shot, in screen order."""
    fps = ENCODINGS[Profile.FULL].fps
    fade = transition_frames(fps)
    placed = []
    for span in scene_spans(script, narration, fps):
        for beat in beats(span.first_frame, span.frames, span.colours, span.shots, {}):
            assert beat.shot is not None
            inside = beat.first_frame + max(beat.frames // 2, min(fade + 3, beat.frames - 1))
            placed.append((beat.shot.media.key, inside / fps))
    return placed


@pytest.fixture(scope="module")
def pexels() -> Iterator[PexelsFake]:
    with PexelsFake(CATALOGUE) as fake:
        yield fake


@pytest.fixture(scope="module")
def made(pexels: PexelsFake, tmp_path_factory: pytest.TempPathFactory) -> (
        tuple[subprocess.CompletedProcess[str], Path]):
    data_dir = tmp_path_factory.mktemp("make") / "var"
    return _make(IDEA, data_dir, pexels.env), data_dir


def test_the_storyboard_lists_pexels_shots_in_sentence_order(
    made: tuple[subprocess.CompletedProcess[str], Path], pexels: PexelsFake
) -> None:
    done, _data_dir = made
    assert done.returncode == 0, done.stderr
    script, _ = _made(Path(done.stdout.strip()))
    shots = [shot for scene in script.scenes for shot in scene.shots]
    stock = [shot for shot in shots if not is_background(shot.media)]
    assert len(stock) >= len(script.scenes)
    assert {shot.media.source for shot in stock} == {"pexels"}
    assert [shot.line for shot in shots] == sorted(shot.line for shot in shots)
    lines = [line for line in done.stderr.splitlines() if line.startswith("Scene ")]
    assert len(lines) == len(shots)
    for line, shot in zip(lines, shots, strict=True):
        if not is_background(shot.media):
            assert "Pexels" in line
            assert shot.media.credit in line
    scene_numbers = [int(line.split()[1]) for line in lines]
    assert scene_numbers == sorted(scene_numbers)
    downloads = {r.path for r in pexels.requests if r.path.endswith(".mp4")}
    assert len(downloads) == len({shot.media.key for shot in stock})
    assert "no stock source is set up" not in done.stderr


def test_each_shot_is_on_screen_during_its_beat(
    made: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, _data_dir = made
    assert done.returncode == 0, done.stderr
    video = Path(done.stdout.strip())
    script, narration = _made(video)
    facts = probe(video)
    assert (facts.width, facts.height, facts.video_codec) == (1080, 1920, "h264")
    colour_of = {f"pexels:{item.id}": item.colour for item in CATALOGUE}
    checked = 0
    for key, seconds in _beat_times(script, narration):
        if key not in colour_of:
            continue
        seen = _colour(frame_at(video, seconds))
        assert np.abs(seen - _rgb(colour_of[key])).max() < 40, (key, seconds, seen)
        checked += 1
    assert checked >= len(script.scenes)


def test_the_credits_are_kept_beside_the_video(
    made: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, _data_dir = made
    assert done.returncode == 0, done.stderr
    video = Path(done.stdout.strip())
    script, _ = _made(video)
    sidecar = json.loads(video.with_suffix(".json").read_text())
    stock = [s for scene in script.scenes for s in scene.shots if not is_background(s.media)]
    assert sidecar["credits"] == list(dict.fromkeys(s.media.credit for s in stock))
    assert all("on Pexels" in credit for credit in sidecar["credits"])


def test_without_keys_it_says_so_and_uses_the_backgrounds(tmp_path: Path) -> None:
    done = _make("why bread rises", tmp_path / "var", {}, "--seconds", "10")
    assert done.returncode == 0, done.stderr
    assert "no stock source is set up" in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("Scene ")]
    assert lines
    assert all("coloured background" in line for line in lines)
    script, _ = _made(Path(done.stdout.strip()))
    assert all(is_background(s.media) for scene in script.scenes for s in scene.shots)
    assert probe(Path(done.stdout.strip())).video_codec == "h264"
