"""A fake ElevenLabs: the text-to-speech-with-timestamps endpoint, answering with real audio.

`FakeElevenLabs` serves `POST /v1/text-to-speech/{voice_id}/with-timestamps` on 127.0.0.1 with
an ephemeral port, from its own thread (the SDK under test is synchronous). It checks the
`xi-api-key` header, validates the JSON body like the API (422 with a `detail` list), and
answers `{"audio_base64", "alignment", "normalized_alignment"}` in the documented shape. The
audio is real: every letter or digit is a short voiced tone burst (a 140 Hz buzz with
harmonics) lasting exactly its character's time, spaces and punctuation are silence, encoded
per the requested `output_format` (`pcm_<rate>` raw 16-bit, or `mp3_<rate>_<kbps>` through the
bundled ffmpeg), so the audio's length and loudness match the timestamps it sends.
`fail_next(n, status)` makes the next n calls answer an error; `delay_next(seconds)` stalls
the next call. Every request is recorded as it arrived; every answer's alignment is kept.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from dataclasses import dataclass
from typing import Any

import imageio_ffmpeg
import numpy as np
from aiohttp import web

from tests.fakes.served import Recorded, ThreadedServer

LETTER_SECONDS = 0.07
SPACE_SECONDS = 0.06
COMMA_SECONDS = 0.18
STOP_SECONDS = 0.3
LEAD_SECONDS = 0.05
TAIL_SECONDS = 0.25
LEVEL = 0.08
"""Peak amplitude of the bursts: quiet on purpose, so loudness normalization has work to do."""



@dataclass
class Timing:
    """What one answer said: the characters and their start and end times, in seconds."""

    characters: list[str]
    starts: list[float]
    ends: list[float]
    audio_seconds: float


_ERRORS = {
    401: {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}},
    429: {"detail": {"status": "too_many_concurrent_requests",
                     "message": "Too many concurrent requests."}},
    500: {"detail": {"status": "internal_error", "message": "Internal server error"}},
    503: {"detail": {"status": "system_busy", "message": "The system is busy."}},
}


class FakeElevenLabs(ThreadedServer):
    """`with FakeElevenLabs(key) as fake:` serves until the block ends; `fake.base_url`."""

    def __init__(self, api_key: str, voices: tuple[str, ...] | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.voices = voices
        self.requests: list[Recorded] = []
        self.timings: list[Timing] = []
        self.failures: list[int] = []
        self.delays: list[float] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/text-to-speech/{voice_id}/with-timestamps", self._speak)

    def fail_next(self, count: int, status: int = 500) -> None:
        """The next `count` calls answer `status` with ElevenLabs' error body."""
        self.failures.extend([status] * count)

    def delay_next(self, seconds: float) -> None:
        self.delays.append(seconds)

    # --- HTTP ---------------------------------------------------------------------------------

    async def _speak(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw) if raw else {}
        self.requests.append(Recorded.of(request, body))
        if self.delays:
            await asyncio.sleep(self.delays.pop(0))
        refusal = self._refusal(request, body)
        if refusal is not None:
            return refusal
        speed = float((body.get("voice_settings") or {}).get("speed") or 1.0)
        fmt = request.query.get("output_format", "mp3_44100_128")
        timing = character_timing(body["text"], speed)
        audio = await asyncio.get_running_loop().run_in_executor(None, _encode, timing, fmt)
        self.timings.append(timing)
        alignment = {"characters": timing.characters,
                     "character_start_times_seconds": timing.starts,
                     "character_end_times_seconds": timing.ends}
        return web.json_response({"audio_base64": base64.b64encode(audio).decode(),
                                  "alignment": alignment, "normalized_alignment": alignment})

    def _refusal(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        if request.headers.get("xi-api-key") != self.api_key:
            return web.json_response(_ERRORS[401], status=401)
        if self.failures:
            status = self.failures.pop(0)
            return web.json_response(_ERRORS.get(status, {"detail": "error"}), status=status)
        voice = request.match_info["voice_id"]
        if self.voices is not None and voice not in self.voices:
            detail = {"status": "voice_not_found", "message": f"Voice {voice} was not found."}
            return web.json_response({"detail": detail}, status=404)
        return _invalid(body, request.query.get("output_format", "mp3_44100_128"))


def _invalid(body: dict[str, Any], fmt: str) -> web.Response | None:
    """422 in FastAPI's shape for a missing text or an unknown output format."""
    problem = None
    if not isinstance(body.get("text"), str) or not body["text"].strip():
        problem = (["body", "text"], "Field required")
    elif not fmt.startswith(("pcm_", "mp3_")):
        problem = (["query", "output_format"], "Input should be a supported output format")
    if problem is None:
        return None
    detail = [{"loc": problem[0], "msg": problem[1], "type": "value_error"}]
    return web.json_response({"detail": detail}, status=422)


def character_timing(text: str, speed: float = 1.0) -> Timing:
    """Each character's time: letters and digits a fixed length, pauses at spaces and marks."""
    starts, ends, position = [], [], LEAD_SECONDS
    for char in text:
        length = _char_seconds(char) / speed
        starts.append(round(position, 4))
        ends.append(round(position + length, 4))
        position += length
    return Timing(list(text), starts, ends, position + TAIL_SECONDS)


def _char_seconds(char: str) -> float:
    if char.isalnum():
        return LETTER_SECONDS
    if char in ".!?":
        return STOP_SECONDS
    return COMMA_SECONDS if char in ",;:" else SPACE_SECONDS


def synthesize(timing: Timing, rate: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    """A voiced burst per letter or digit, silence elsewhere, as long as the timing says."""
    audio = np.zeros(round(timing.audio_seconds * rate), dtype=np.float32)
    for char, start, end in zip(timing.characters, timing.starts, timing.ends, strict=True):
        if not char.isalnum():
            continue
        first, last = round(start * rate), round(end * rate)
        t = np.arange(last - first) / rate
        buzz = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in (1, 2, 3, 5))
        audio[first:last] = LEVEL * buzz * np.hanning(last - first)
    return audio


def _encode(timing: Timing, fmt: str) -> bytes:
    rate = int(fmt.split("_")[1])
    pcm = (synthesize(timing, rate) * 32767).astype("<i2").tobytes()
    if fmt.startswith("pcm_"):
        return pcm
    bitrate = fmt.split("_")[2] if fmt.count("_") >= 2 else "128"
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "s16le", "-ar", str(rate),
               "-ac", "1", "-i", "pipe:0", "-c:a", "libmp3lame", "-b:a", f"{bitrate}k",
               "-f", "mp3", "pipe:1"]
    return subprocess.run(command, input=pcm, capture_output=True, check=True).stdout
