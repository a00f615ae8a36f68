"""The bundled music bed, asked for in words and heard under the voice."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import PermanentError
from pipeline.music import DEFAULT_BED, SAMPLE_RATE, bed_path
from pipeline.writers import OfflineWriter


def _samples(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == SAMPLE_RATE
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(float) / 32768


def test_the_bed_is_a_deterministic_audible_loop(tmp_path: Path) -> None:
    first = bed_path(DEFAULT_BED, tmp_path / "a")
    second = bed_path(DEFAULT_BED, tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    audio = _samples(first)
    assert len(audio) / SAMPLE_RATE == pytest.approx(16.0)
    rms = float(np.sqrt(np.mean(audio**2)))
    assert 0.05 < rms < 0.5
    seam = abs(audio[-1] - audio[0])  # the loop point: end flows into the start
    assert seam < 0.02
    assert not list((tmp_path / "a").glob(".*tmp"))


def test_unknown_beds_are_refused_plainly(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="no background music called"):
        bed_path("death-metal", tmp_path)


@pytest.mark.parametrize(
    "instruction",
    [
        "add some background music",
        "add music",
        "music on",
        "with soft music",
        "use background music",
    ],
)
def test_music_is_asked_for_in_words(instruction: str) -> None:
    writer = OfflineWriter()
    script = writer.script("why bread rises", 20)
    revision = writer.revise(script, instruction)
    assert revision.changed
    assert revision.script.music == DEFAULT_BED
    assert revision.script.sentences == script.sentences  # not added as a sentence
    assert "music" in revision.summary


@pytest.mark.parametrize(
    "instruction", ["no music", "remove the music", "music off", "without music"]
)
def test_music_is_taken_away_in_words(instruction: str) -> None:
    writer = OfflineWriter()
    with_music = writer.revise(writer.script("why bread rises", 20), "add music").script
    revision = writer.revise(with_music, instruction)
    assert revision.changed
    assert revision.script.music is None
    assert revision.script.sentences == with_music.sentences


def test_music_survives_other_edits() -> None:
    writer = OfflineWriter()
    with_music = writer.revise(writer.script("why bread rises", 40), "add music").script
    assert writer.revise(with_music, "shorter and funnier").script.music == DEFAULT_BED
