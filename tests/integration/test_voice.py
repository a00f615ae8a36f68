"""PiperTTS with the real bundled voice: cues, pauses, loudness, the WAV format, bad input."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import PermanentError
from pipeline.narration import Narration, Voice
from pipeline.probe import integrated_lufs, read_audio, rms_dbfs
from pipeline.voice import PiperTTS
from pipeline.voice.piper_tts import PAUSE_SECONDS, PEAK_CEILING, TARGET_LUFS

SENTENCES = [
    "Octopuses have three hearts.",
    "Two pump blood to the gills! The third one feeds the rest of the body.",
    "Isn't that wild?",
]


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Narration:
    out = tmp_path_factory.mktemp("voice") / "narration.wav"
    return PiperTTS().speak(SENTENCES, out)


def test_piper_is_a_voice() -> None:
    voice: Voice = PiperTTS()
    assert voice.name.startswith("piper")


def test_one_cue_per_sentence_in_order(spoken: Narration) -> None:
    assert [cue.text for cue in spoken.cues] == SENTENCES
    starts = [cue.start for cue in spoken.cues]
    assert starts == sorted(starts)
    assert spoken.cues[-1].end < spoken.duration


def test_sentences_are_separated_by_the_pause(spoken: Narration) -> None:
    gaps = [b.start - a.end for a, b in zip(spoken.cues, spoken.cues[1:], strict=False)]
    assert gaps == pytest.approx([PAUSE_SECONDS] * len(gaps), abs=0.002)


def test_wav_is_16_bit_mono_and_matches_duration(spoken: Narration) -> None:
    with wave.open(str(spoken.audio)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        assert wav.getframerate() == spoken.sample_rate == 22050
        assert wav.getnframes() / wav.getframerate() == pytest.approx(spoken.duration, abs=1e-3)


def test_cues_cover_speech_and_pauses_are_quiet(spoken: Narration) -> None:
    samples, rate = read_audio(spoken.audio)
    mono = samples[0]
    for cue in spoken.cues:
        assert rms_dbfs(mono[int(cue.start * rate) : int(cue.end * rate)]) > -30
    for a, b in zip(spoken.cues, spoken.cues[1:], strict=False):
        assert rms_dbfs(mono[int(a.end * rate) + 1 : int(b.start * rate) - 1]) < -80


def test_loudness_is_normalized_without_clipping(spoken: Narration) -> None:
    samples, rate = read_audio(spoken.audio)
    assert integrated_lufs(samples, rate) == pytest.approx(TARGET_LUFS, abs=1.0)
    assert np.abs(samples).max() <= PEAK_CEILING + 1e-3


def test_quiet_and_loud_sentences_end_at_the_same_loudness(tmp_path: Path) -> None:
    short = PiperTTS().speak(["Hi."], tmp_path / "short.wav")
    samples, rate = read_audio(short.audio)
    assert integrated_lufs(samples, rate) == pytest.approx(TARGET_LUFS, abs=1.0)


def test_odd_unicode_is_spoken_without_crashing(tmp_path: Path) -> None:
    sentences = ["Café e\u0301te\u0301 🙂 done.", "שלום and hello."]
    narration = PiperTTS().speak(sentences, tmp_path / "u.wav")
    assert len(narration.cues) == 2


@pytest.mark.parametrize(
    ("sentences", "words"),
    [([], "no sentences"), (["Fine.", "   "], "sentence 2"), (["...", "Fine."], "sentence 1")],
)
def test_bad_input_is_a_permanent_error_and_writes_nothing(
    tmp_path: Path, sentences: list[str], words: str
) -> None:
    out = tmp_path / "bad.wav"
    with pytest.raises(PermanentError, match=words):
        PiperTTS().speak(sentences, out)
    assert list(tmp_path.iterdir()) == []


def test_rewrites_an_existing_file_in_place(tmp_path: Path) -> None:
    out = tmp_path / "n.wav"
    out.write_bytes(b"old")
    PiperTTS().speak(["New words."], out)
    assert out.read_bytes()[:4] == b"RIFF"
    assert [path.name for path in tmp_path.iterdir()] == ["n.wav"]
