"""Background music beds that ship with NOVACAST: synthesized, so nothing is downloaded.

A bed is a short seamless loop the renderer repeats under the narration and ducks whenever
the voice speaks. Each is made once per data dir from code (deterministic: the same samples on
every machine) and cached as a WAV.
"""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pipeline.errors import PermanentError
from pipeline.settings import load_settings

DEFAULT_BED = "calm-pad"
SAMPLE_RATE = 44_100
BED_VERSION = 1
"""Bump when a bed's sound changes, so cached files are made again."""

_CHORD_SECONDS = 4.0
_FADE_SECONDS = 1.0
_CALM_PAD_CHORDS = (  # A minor, F major, C major, G major: root in the bass, triad above
    (110.00, 220.00, 261.63, 329.63),
    (87.31, 174.61, 220.00, 261.63),
    (65.41, 130.81, 164.81, 196.00),
    (98.00, 196.00, 246.94, 293.66),
)

Samples = npt.NDArray[np.float64]


def bed_path(name: str, cache_dir: Path | None = None) -> Path:
    """The WAV of the bed called `name`, made on first use into the cache folder."""
    if name != DEFAULT_BED:
        raise PermanentError(f"there is no background music called “{name}”")
    folder = cache_dir or load_settings().data_dir / "assets" / "music"
    path = folder / f"{name}-v{BED_VERSION}.wav"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        _write_wav(_calm_pad(), path)
    return path


def _calm_pad() -> Samples:
    """Four slow chords that cross-fade into each other, the last into the first (a loop)."""
    total = int(SAMPLE_RATE * _CHORD_SECONDS * len(_CALM_PAD_CHORDS))
    loop = np.zeros(total)
    for index, chord in enumerate(_CALM_PAD_CHORDS):
        start = int(SAMPLE_RATE * (index * _CHORD_SECONDS - _FADE_SECONDS / 2))
        tone = _chord(chord, _CHORD_SECONDS + _FADE_SECONDS)
        positions = (start + np.arange(len(tone))) % total
        np.add.at(loop, positions, tone)
    peak = float(np.max(np.abs(loop)))
    return (0.5 / peak) * loop


def _chord(frequencies: tuple[float, ...], seconds: float) -> Samples:
    """Soft organ-like voices, slightly detuned for width, under a raised-cosine envelope."""
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    sound = np.zeros_like(t)
    for number, frequency in enumerate(frequencies):
        weight = 1.0 if number else 0.7
        for detune in (0.997, 1.003):
            phase = 2 * np.pi * frequency * detune * t
            sound += weight * (np.sin(phase) + 0.3 * np.sin(2 * phase) + 0.1 * np.sin(3 * phase))
    return sound * _envelope(len(t))


def _envelope(length: int) -> Samples:
    fade = int(SAMPLE_RATE * _FADE_SECONDS)
    envelope = np.ones(length)
    ramp = np.sin(np.linspace(0, np.pi / 2, fade)) ** 2
    envelope[:fade] = ramp
    envelope[-fade:] = ramp[::-1]
    return envelope


def _write_wav(samples: Samples, path: Path) -> None:
    """16-bit mono WAV, written to a temporary name first so no half file is ever read."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pcm = np.clip(samples * 32767, -32768, 32767).astype("<i2")
    with wave.open(str(tmp), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    tmp.replace(path)
