"""ElevenLabsTTS through the real SDK against a fake ElevenLabs serving real audio."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from pipeline.errors import PermanentError, TransientError
from pipeline.narration import Narration, Voice
from pipeline.probe import integrated_lufs, read_audio, rms_dbfs
from pipeline.voice.elevenlabs_tts import ElevenLabsTTS, api_failure
from pipeline.voice.piper_tts import LEAD_IN_SECONDS, PAUSE_SECONDS, TARGET_LUFS, PiperTTS
from pipeline.voice.select import Engine, VoiceChoice, preference_in, voice_for
from tests.fakes.elevenlabs_api import FakeElevenLabs, Timing

KEY = "sk_test_0123456789abcdef0123456789abcdef"
VOICE = "21m00Tcm4TlvDq8ikWAM"
SENTENCES = [
    "Octopuses have three hearts.",
    "Two pump blood to the gills, the third feeds the body!",
    "Isn't that wild?",
]


@pytest.fixture
def fake() -> Iterator[FakeElevenLabs]:
    with FakeElevenLabs(KEY, voices=(VOICE,)) as server:
        yield server


def _tts(fake: FakeElevenLabs, **options: object) -> ElevenLabsTTS:
    return ElevenLabsTTS(KEY, VOICE, base_url=fake.base_url, **options)  # type: ignore[arg-type]


def _char_time(timing: Timing, text: str, sentence: str) -> tuple[float, float]:
    first = text.index(sentence)
    return timing.starts[first], timing.ends[first + len(sentence) - 1]


def test_one_call_gives_sentence_cues_from_the_alignment(
    fake: FakeElevenLabs, tmp_path: Path
) -> None:
    voice: Voice = _tts(fake, speed=1.1)
    narration = voice.speak(SENTENCES, tmp_path / "n.wav")
    [request] = fake.requests
    assert request.path == f"/v1/text-to-speech/{VOICE}/with-timestamps"
    assert request.headers["xi-api-key"] == KEY
    assert request.query["output_format"] == "pcm_24000"
    assert request.body["text"] == " ".join(SENTENCES)
    assert request.body["model_id"] == "eleven_multilingual_v2"
    assert request.body["voice_settings"]["speed"] == 1.1
    assert "previous_text" not in request.body
    assert "next_text" not in request.body
    text, [timing] = request.body["text"], fake.timings
    assert [cue.text for cue in narration.cues] == SENTENCES
    for cue, sentence in zip(narration.cues, SENTENCES, strict=True):
        start, end = _char_time(timing, text, sentence)
        assert cue.start == pytest.approx(LEAD_IN_SECONDS + start, abs=1e-3)
        assert cue.end == pytest.approx(LEAD_IN_SECONDS + end, abs=1e-3)


def test_word_cues_follow_the_characters_and_sit_inside_their_sentence(
    fake: FakeElevenLabs, tmp_path: Path
) -> None:
    narration = _tts(fake).speak(SENTENCES, tmp_path / "n.wav")
    text, timing = fake.requests[0].body["text"], fake.timings[0]
    assert [word.text for word in narration.words] == text.split()
    position = 0
    for word in narration.words:
        position = text.index(word.text, position)
        assert word.start == pytest.approx(LEAD_IN_SECONDS + timing.starts[position], abs=1e-3)
        last = position + len(word.text) - 1
        assert word.end == pytest.approx(LEAD_IN_SECONDS + timing.ends[last], abs=1e-3)
        position = last + 1
    for before, after in itertools.pairwise(narration.words):
        assert before.end <= after.start
    for word in narration.words:
        assert any(c.start <= word.start and word.end <= c.end for c in narration.cues)


def test_audio_is_real_normalized_and_loud_exactly_when_words_are_spoken(
    fake: FakeElevenLabs, tmp_path: Path
) -> None:
    narration = _tts(fake).speak(SENTENCES, tmp_path / "n.wav")
    samples, rate = read_audio(narration.audio)
    assert rate == narration.sample_rate == 24000
    assert samples.shape[1] / rate == pytest.approx(narration.duration, abs=1e-3)
    assert integrated_lufs(samples, rate) == pytest.approx(TARGET_LUFS, abs=1.0)
    assert samples.max() <= 0.9
    _assert_loud_in_words_quiet_between(narration, samples[0], rate)


def _assert_loud_in_words_quiet_between(
    narration: Narration, mono: npt.NDArray[np.float64], rate: int
) -> None:
    for word in narration.words:
        inside = mono[int(word.start * rate) : int(word.end * rate)]
        assert rms_dbfs(inside) > -30, word.text
    for before, after in itertools.pairwise(narration.cues):
        gap = mono[int(before.end * rate) + 240 : int(after.start * rate) - 240]
        assert rms_dbfs(gap) < -60


def test_mp3_answers_are_decoded_with_the_same_timing(
    fake: FakeElevenLabs, tmp_path: Path
) -> None:
    narration = _tts(fake, output_format="mp3_44100_128").speak(SENTENCES, tmp_path / "m.wav")
    assert fake.requests[0].query["output_format"] == "mp3_44100_128"
    samples, rate = read_audio(narration.audio)
    assert rate == 44100
    expected = LEAD_IN_SECONDS + fake.timings[0].audio_seconds + 0.4
    assert narration.duration == pytest.approx(expected, abs=0.06)
    assert integrated_lufs(samples, rate) == pytest.approx(TARGET_LUFS, abs=1.0)
    _assert_loud_in_words_quiet_between(narration, samples[0], rate)


def test_long_narrations_are_split_into_calls_that_name_their_neighbours(
    fake: FakeElevenLabs, tmp_path: Path
) -> None:
    narration = _tts(fake, max_request_chars=75).speak(SENTENCES, tmp_path / "n.wav")
    first, second = fake.requests
    assert first.body["text"] == SENTENCES[0]
    assert first.body["next_text"] == " ".join(SENTENCES[1:])
    assert second.body["text"] == " ".join(SENTENCES[1:])
    assert second.body["previous_text"] == SENTENCES[0]
    one = LEAD_IN_SECONDS + fake.timings[0].audio_seconds + PAUSE_SECONDS
    assert narration.cues[1].start == pytest.approx(one + fake.timings[1].starts[0], abs=1e-3)
    assert [w.text for w in narration.words] == " ".join(SENTENCES).split()


def test_a_refused_key_is_permanent_and_never_shown(fake: FakeElevenLabs, tmp_path: Path) -> None:
    fake.api_key = "sk_the_right_one"
    with pytest.raises(PermanentError) as caught:
        _tts(fake).speak(SENTENCES, tmp_path / "n.wav")
    assert "API key" in str(caught.value)
    assert KEY not in str(caught.value)
    assert KEY not in repr(caught.value.__cause__) + repr(caught.value.__context__)
    assert len(fake.requests) == 1
    assert not (tmp_path / "n.wav").exists()


def test_a_server_error_then_success_is_retried_by_the_sdk(
    fake: FakeElevenLabs, tmp_path: Path
) -> None:
    fake.fail_next(1, 500)
    narration = _tts(fake).speak(SENTENCES, tmp_path / "n.wav")
    assert len(fake.requests) == 2
    assert [cue.text for cue in narration.cues] == SENTENCES


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_server_errors_are_transient(
    fake: FakeElevenLabs, tmp_path: Path, status: int
) -> None:
    fake.fail_next(5, status)
    with pytest.raises(TransientError, match="try again"):
        _tts(fake, max_retries=0).speak(SENTENCES, tmp_path / "n.wav")
    assert len(fake.requests) == 1


def test_rejected_requests_and_unknown_voices_are_permanent(
    fake: FakeElevenLabs, tmp_path: Path
) -> None:
    with pytest.raises(PermanentError, match="could not use the request: Input should be"):
        _tts(fake, output_format="flac_48000").speak(SENTENCES, tmp_path / "n.wav")
    with pytest.raises(PermanentError, match="does not know this voice"):
        ElevenLabsTTS(KEY, "nobody", base_url=fake.base_url).speak(SENTENCES, tmp_path / "n.wav")


def test_a_stalled_answer_is_a_transient_timeout(fake: FakeElevenLabs, tmp_path: Path) -> None:
    fake.delay_next(1.2)
    with pytest.raises(TransientError, match="did not answer in time"):
        _tts(fake, timeout=0.3, max_retries=0).speak(SENTENCES, tmp_path / "n.wav")


def test_an_exhausted_quota_reads_as_such() -> None:
    body = {"detail": {"status": "quota_exceeded", "message": "This request exceeds your quota"}}
    assert "quota is used up" in api_failure(401, body)
    assert "API key" in api_failure(401, {"detail": {"status": "invalid_api_key"}})


def test_bad_settings_are_refused_before_any_call() -> None:
    with pytest.raises(PermanentError, match="API key"):
        ElevenLabsTTS("  ", VOICE)
    with pytest.raises(PermanentError, match="speed"):
        ElevenLabsTTS(KEY, VOICE, speed=2.0)


# --- choosing the voice -----------------------------------------------------------------------

RACHEL, LAURA = "21m00Tcm4TlvDq8ikWAM", "FGY2WhTYpPnrIDTdsKH5"


def _env(fake: FakeElevenLabs) -> dict[str, str]:
    return {"ELEVENLABS_API_KEY": KEY, "ELEVENLABS_BASE_URL": fake.base_url}


def test_without_a_key_or_a_wish_the_voice_is_piper() -> None:
    assert isinstance(voice_for(None, env={}), PiperTTS)
    asked = voice_for(VoiceChoice(engine=Engine.ELEVENLABS, preference="calm"), env={})
    assert isinstance(asked, PiperTTS)
    assert asked.length_scale == pytest.approx(1 / 0.9, abs=1e-3)
    assert isinstance(voice_for(None, env={"ELEVENLABS_API_KEY": KEY}), PiperTTS)


def test_a_preference_with_a_key_speaks_through_elevenlabs_with_its_mapped_voice(
    fake: FakeElevenLabs, tmp_path: Path
) -> None:
    fake.voices = (RACHEL, LAURA)
    voice = voice_for(VoiceChoice(preference="Make it a CALM voice, please"), env=_env(fake))
    assert isinstance(voice, ElevenLabsTTS)
    narration = voice.speak(SENTENCES[:1], tmp_path / "n.wav")
    [request] = fake.requests
    assert request.path == f"/v1/text-to-speech/{RACHEL}/with-timestamps"
    assert request.body["voice_settings"]["speed"] == 0.92
    assert [w.text for w in narration.words] == SENTENCES[0].split()


def test_named_voices_speeds_and_an_explicit_piper(fake: FakeElevenLabs) -> None:
    env = _env(fake)
    laura = voice_for(VoiceChoice(voice="laura", speed=1.5), env=env)
    assert isinstance(laura, ElevenLabsTTS)
    assert (laura.voice_id, laura.speed) == (LAURA, 1.2)
    raw = voice_for(VoiceChoice(engine=Engine.ELEVENLABS, voice="customVoiceId42"), env=env)
    assert isinstance(raw, ElevenLabsTTS)
    assert raw.voice_id == "customVoiceId42"
    piper = voice_for(VoiceChoice(engine=Engine.PIPER, preference="energetic"), env=env)
    assert isinstance(piper, PiperTTS)
    assert piper.length_scale == pytest.approx(1 / 1.15, abs=1e-3)
    assert preference_in("something deep and slow") == "deep"
    assert preference_in("no idea") is None
    assert preference_in("a warm voice") == "calm"
    assert preference_in("british") == "british"
