"""ElevenLabs voices: the narration in as few calls as fit, timed by the character alignment.

`ElevenLabsTTS` owns turning sentences into a `Narration` with ElevenLabs' documented
text-to-speech-with-timestamps endpoint (`POST /v1/text-to-speech/{voice_id}/with-timestamps`),
called through the official SDK. The sentences are sent together, joined by spaces, in batches
of at most `max_request_chars` characters (usually one call for a short video); each batch
names its neighbours' text (`previous_text`, `next_text`) so the prosody carries over. The
answer's per-character start and end times give every sentence cue (first to last character)
and every word cue (each run of non-space characters) exactly, without asking again per
sentence. The audio (raw PCM by default, or any format PyAV decodes, e.g. MP3) is decoded,
placed after the same lead-in as Piper's, loudness-normalized like Piper's and written with
Piper's atomic WAV writer. A planned pause (`pauses`: line index -> seconds) ends a batch
after its line, and that much silence (at least Piper's usual pause) follows it.

Failures become plain messages that never contain the key: rate limits, server errors and
timeouts are `TransientError` (after the SDK's own retries), a refused key, an exhausted
quota, an unknown voice or a rejected request are `PermanentError`.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np

from pipeline.errors import PermanentError, PipelineError, TransientError
from pipeline.narration import Cue, Narration
from pipeline.probe import read_audio
from pipeline.voice.piper_tts import (
    LEAD_IN_SECONDS,
    TAIL_SECONDS,
    Samples,
    clean_sentences,
    gap_after,
    normalize_loudness,
    pauses_tag,
    write_wav,
)

if TYPE_CHECKING:  # the SDK (~14 MB, ~0.4 s) is imported by the first narration only
    from elevenlabs.client import ElevenLabs
    from elevenlabs.core.api_error import ApiError

DEFAULT_MODEL = "eleven_multilingual_v2"
DEFAULT_FORMAT = "pcm_24000"
"""Raw 16-bit PCM needs no decoder and has no encoder delay; every plan may ask for it."""
MAX_REQUEST_CHARS = 2500
"""Well under every model's per-request limit (5,000 characters for the strictest)."""
SPEED_RANGE = (0.7, 1.2)
"""The speeds ElevenLabs accepts in `voice_settings.speed`."""
_MIN_CUE_SECONDS = 0.01
_OMIT: Any = ...
"""What the SDK takes as "leave this field out of the request" (it sends None as null)."""


@dataclass(frozen=True)
class _Spoken:
    """One call's answer: mono samples, and each character with its start and end time."""

    audio: Samples
    rate: int
    characters: list[str]
    starts: list[float]
    ends: list[float]


class ElevenLabsTTS:
    """An ElevenLabs voice behind `pipeline.narration.Voice`; one HTTP client per narration."""

    def __init__(
        self,
        api_key: str,
        voice_id: str,
        *,
        base_url: str | None = None,
        model_id: str = DEFAULT_MODEL,
        speed: float = 1.0,
        output_format: str = DEFAULT_FORMAT,
        timeout: float = 120.0,
        max_retries: int = 2,
        max_request_chars: int = MAX_REQUEST_CHARS,
        pauses: Mapping[int, float] | None = None,
    ) -> None:
        if not api_key.strip():
            raise PermanentError("ElevenLabs needs an API key (set ELEVENLABS_API_KEY)")
        if not voice_id.strip():
            raise PermanentError("an ElevenLabs voice needs a voice id")
        if not SPEED_RANGE[0] <= speed <= SPEED_RANGE[1]:
            raise PermanentError("the ElevenLabs speed must be between 0.7 and 1.2")
        self.voice_id, self.model_id, self.speed = voice_id, model_id, speed
        self.output_format, self.max_retries = output_format, max_retries
        self.max_request_chars = max_request_chars
        self.pauses = dict(sorted((pauses or {}).items()))
        self.name = f"elevenlabs:{voice_id}:{model_id}@{speed:g}{pauses_tag(self.pauses)}"
        self._base_url = base_url or os.environ.get("ELEVENLABS_BASE_URL") or None
        self._timeout = timeout
        self._secret = api_key

    def speak(self, sentences: list[str], out: Path) -> Narration:
        """Synthesize `sentences` in order into the WAV file `out`; return it with exact cues."""
        texts = clean_sentences(sentences)
        batches = _batches(texts, self.max_request_chars, breaks=self.pauses.keys())
        from elevenlabs.client import ElevenLabs  # noqa: PLC0415 (lazy: see TYPE_CHECKING)

        with httpx.Client(timeout=self._timeout, follow_redirects=True) as http:
            client = ElevenLabs(api_key=self._secret, base_url=self._base_url,
                                timeout=self._timeout, httpx_client=http)
            spoken = [self._call(client, batches, index) for index in range(len(batches))]
        audio, rate, cues, words = _assemble(spoken, batches, self.pauses)
        audio = normalize_loudness(audio, rate)
        write_wav(audio, rate, Path(out))
        return Narration(audio=Path(out), duration=audio.size / rate, sample_rate=rate,
                         cues=cues, words=words)

    def _call(self, client: ElevenLabs, batches: list[list[str]], index: int) -> _Spoken:
        """Speak one batch, naming the text around it for continuity."""
        text = " ".join(batches[index])
        previous = " ".join(batches[index - 1]) if index else _OMIT
        following = " ".join(batches[index + 1]) if index + 1 < len(batches) else _OMIT
        from elevenlabs.core.api_error import ApiError  # noqa: PLC0415
        from elevenlabs.types import VoiceSettings  # noqa: PLC0415

        try:
            answer = client.text_to_speech.convert_with_timestamps(
                self.voice_id, text=text, model_id=self.model_id,
                output_format=self.output_format,
                voice_settings=VoiceSettings(speed=self.speed),
                previous_text=previous, next_text=following,
                request_options={"max_retries": self.max_retries},
            )
        except ApiError as error:
            raise self._failure(error) from None
        except httpx.TimeoutException:
            raise TransientError("ElevenLabs did not answer in time; try again") from None
        except httpx.TransportError:
            raise TransientError("could not reach ElevenLabs; try again") from None
        return _decoded(answer, self.output_format, batches[index])

    def _failure(self, error: ApiError) -> PipelineError:
        message = api_failure(error.status_code, error.body)
        safe = message.replace(self._secret, "***") if self._secret else message
        return TransientError(safe) if _transient(error.status_code) else PermanentError(safe)


def _transient(status: int | None) -> bool:
    return status is None or status >= 500 or status in (408, 409, 429)


_MESSAGES = {
    401: "ElevenLabs refused the API key; check ELEVENLABS_API_KEY",
    404: "ElevenLabs does not know this voice; pick another voice",
    429: "ElevenLabs is busy or rate-limiting this key; try again in a minute",
}


def api_failure(status: int | None, body: Any) -> str:
    """A plain sentence for an ElevenLabs error answer (its documented `detail` shapes)."""
    detail = body.get("detail") if isinstance(body, dict) else None
    kind = detail.get("status", "") if isinstance(detail, dict) else ""
    if kind == "quota_exceeded":
        return "the ElevenLabs quota is used up; the narration needs more characters"
    if status in (400, 422):
        return f"ElevenLabs could not use the request: {_detail_text(detail)}"
    if status is not None and status >= 500:
        return "ElevenLabs had a server error; try again"
    return _MESSAGES.get(status or 0, f"ElevenLabs answered with an error (HTTP {status})")


def _detail_text(detail: Any) -> str:
    if isinstance(detail, dict):
        return str(detail.get("message") or detail.get("status") or "no reason given")[:200]
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        return str(detail[0].get("msg", "invalid field"))[:200]
    return "no reason given"


def _batches(
    texts: list[str], limit: int, breaks: Collection[int] = ()
) -> list[list[str]]:
    """Consecutive sentences grouped so each group, joined by spaces, fits `limit` characters;
    a group also ends after every line index in `breaks` (a planned pause follows it)."""
    batches: list[list[str]] = []
    size = 0
    for index, text in enumerate(texts):
        if batches and index - 1 not in breaks and size + 1 + len(text) <= limit:
            batches[-1].append(text)
            size += 1 + len(text)
        else:
            batches.append([text])
            size = len(text)
    return batches


def _decoded(answer: Any, output_format: str, texts: list[str]) -> _Spoken:
    """The answer's audio as mono floats, and its alignment (which must hold every sentence)."""
    alignment = answer.alignment
    if alignment is None or _sentence_spans("".join(alignment.characters), texts) is None:
        raise PermanentError("ElevenLabs sent timing that does not match the narration text")
    data = base64.b64decode(answer.audio_base_64)
    audio, rate = _pcm(data, output_format) if output_format.startswith("pcm_") else _any(data)
    return _Spoken(audio, rate, list(alignment.characters),
                   [float(t) for t in alignment.character_start_times_seconds],
                   [float(t) for t in alignment.character_end_times_seconds])


def _pcm(data: bytes, output_format: str) -> tuple[Samples, int]:
    """ElevenLabs' `pcm_<rate>`: little-endian 16-bit mono samples."""
    samples = np.frombuffer(data[: len(data) - len(data) % 2], dtype="<i2")
    return (samples.astype(np.float32) / np.float32(32768.0)), int(output_format.split("_")[1])


def _any(data: bytes) -> tuple[Samples, int]:
    """Any other format (MP3, Opus, …) decoded by PyAV through a temporary file."""
    handle, name = tempfile.mkstemp(prefix="elevenlabs.", suffix=".audio")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        samples, rate = read_audio(Path(name))
    finally:
        Path(name).unlink(missing_ok=True)
    if samples.shape[1] == 0:
        raise TransientError("ElevenLabs sent no audio; try again")
    return samples.mean(axis=0).astype(np.float32), rate


def _assemble(
    spoken: list[_Spoken], batches: list[list[str]], pauses: Mapping[int, float]
) -> tuple[Samples, int, list[Cue], list[Cue]]:
    """Lead-in, each batch's audio (a pause between batches), tail; cues shifted to match."""
    rate = spoken[0].rate
    parts = [np.zeros(int(LEAD_IN_SECONDS * rate), dtype=np.float32)]
    cues: list[Cue] = []
    words: list[Cue] = []
    line = -1
    for index, (answer, texts) in enumerate(zip(spoken, batches, strict=True)):
        if answer.rate != rate:
            raise PermanentError("ElevenLabs changed the sample rate between calls")
        if index:
            parts.append(np.zeros(int(gap_after(line, pauses) * rate), dtype=np.float32))
        line += len(texts)
        offset = sum(part.size for part in parts) / rate
        limit = offset + answer.audio.size / rate
        spans = _sentence_spans("".join(answer.characters), texts) or []
        cues += [_cue(answer, span, offset, limit) for span in spans]
        words += [_cue(answer, span, offset, limit) for span in _word_spans(answer.characters)]
        parts.append(answer.audio)
    parts.append(np.zeros(int(TAIL_SECONDS * rate), dtype=np.float32))
    return np.concatenate(parts), rate, cues, words


def _sentence_spans(spoken: str, texts: list[str]) -> list[tuple[int, int]] | None:
    """Character ranges of each sentence in the aligned text, found in order; None if one is
    missing (the alignment normally repeats the text sent, sentences joined by a space)."""
    spans, position = [], 0
    for text in texts:
        found = spoken.find(text, position)
        if found < 0:
            return None
        spans.append((found, found + len(text)))
        position = found + len(text)
    return spans


def _word_spans(characters: list[str]) -> list[tuple[int, int]]:
    """Character ranges of each run of non-space characters."""
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for index, char in enumerate([*characters, " "]):
        if char.isspace() and start is not None:
            spans.append((start, index))
            start = None
        elif not char.isspace() and start is None:
            start = index
    return spans


def _cue(answer: _Spoken, span: tuple[int, int], offset: float, limit: float) -> Cue:
    """The cue for characters [first, last): first's start to last's end, inside the audio."""
    first, last = span
    text = "".join(answer.characters[first:last])
    start = min(offset + answer.starts[first], limit - _MIN_CUE_SECONDS)
    end = min(max(offset + answer.ends[last - 1], start + _MIN_CUE_SECONDS), limit)
    return Cue(start=max(start, 0.0), end=end, text=text)
