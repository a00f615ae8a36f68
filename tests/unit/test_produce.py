"""The cached production steps: same inputs, same artifacts, nothing made twice."""

from __future__ import annotations

import time
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from pipeline.narration import Cue, Narration
from pipeline.produce import Workdir, fingerprint, make_voice
from pipeline.writers import OfflineWriter


class ToneVoice:
    """A real Voice: one 440 Hz beep per sentence. Counts how often it is asked to speak."""

    name = "tone"
    rate = 16_000

    def __init__(self) -> None:
        self.calls = 0

    def speak(self, sentences: list[str], out: Path) -> Narration:
        self.calls += 1
        beep = 0.3 * np.sin(np.arange(self.rate // 2) * 2 * np.pi * 440 / self.rate) * 32767
        audio = np.tile(beep.astype(np.int16), len(sentences))
        with wave.open(str(out), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(self.rate)
            wav.writeframes(audio.tobytes())
        cues = [Cue(start=i * 0.5, end=i * 0.5 + 0.5, text=s) for i, s in enumerate(sentences)]
        return Narration(audio=out, duration=len(sentences) * 0.5, sample_rate=self.rate, cues=cues)


def test_fingerprint_is_stable_and_content_sensitive() -> None:
    script = OfflineWriter().script("why bread rises", 20)
    assert fingerprint(script) == fingerprint(script.model_copy())
    retitled = script.model_copy(update={"title": "Bread!"})
    assert fingerprint(retitled) != fingerprint(script)


def test_voice_is_spoken_once_per_work_folder(tmp_path: Path) -> None:
    script = OfflineWriter().script("why bread rises", 20)
    voice = ToneVoice()
    work = Workdir(tmp_path / "project" / fingerprint(script))
    first = make_voice(script, work, voice)
    again = make_voice(script, work, voice)
    assert voice.calls == 1
    assert again == first


def test_a_new_title_reuses_the_narration(tmp_path: Path) -> None:
    script = OfflineWriter().script("why bread rises", 20)
    retitled = script.model_copy(update={"title": "Bread, Explained"})
    voice = ToneVoice()
    first = make_voice(script, Workdir(tmp_path / "p" / fingerprint(script)), voice)
    second = make_voice(retitled, Workdir(tmp_path / "p" / fingerprint(retitled)), voice)
    assert voice.calls == 1
    assert second.cues == first.cues
    assert second.audio != first.audio
    assert second.audio.read_bytes() == first.audio.read_bytes()


def test_new_words_are_spoken_again(tmp_path: Path) -> None:
    writer = OfflineWriter()
    script = writer.script("why bread rises", 30)
    shorter = writer.revise(script, "shorter").script
    voice = ToneVoice()
    make_voice(script, Workdir(tmp_path / "p" / fingerprint(script)), voice)
    make_voice(shorter, Workdir(tmp_path / "p" / fingerprint(shorter)), voice)
    assert voice.calls == 2


def test_two_speakers_of_one_folder_speak_once(tmp_path: Path) -> None:
    """A render's voice step arriving while the narration is spoken ahead waits for it."""
    script = OfflineWriter().script("why bread rises", 20)
    voice = SlowToneVoice()
    work = Workdir(tmp_path / "p" / fingerprint(script))
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: make_voice(script, work, voice), range(2))
    assert voice.calls == 1
    assert first == second


class SlowToneVoice(ToneVoice):
    """ToneVoice that takes a while, as a real synthesis does (the second caller arrives
    while the first is still speaking)."""

    def speak(self, sentences: list[str], out: Path) -> Narration:
        time.sleep(0.3)
        return super().speak(sentences, out)
