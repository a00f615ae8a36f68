"""The voice plan travels with the script and decides the voice: the LLM writer fills it from
the voice-plan agent (through the real OpenAI SDK and its wire fake), the offline writer leaves
it empty and keeps it on revisions, and the render's voice follows preference > plan > default,
with the plan's pace and pauses heard in real Piper and (fake-served) ElevenLabs audio."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline.script import Pause, Script, VoicePlan
from pipeline.voice.elevenlabs_tts import ElevenLabsTTS
from pipeline.voice.piper_tts import PAUSE_SECONDS, PiperTTS
from pipeline.voice.select import Engine, choice_for, voice_for_script
from pipeline.writers import OfflineWriter
from tests.e2e.test_llm_writer import CARDS, DRAFT, REVIEW, SENTENCES, make_writer, schema_names
from tests.fakes.elevenlabs_api import FakeElevenLabs
from tests.fakes.openai_api import FakeOpenAI

KEY = "sk_test_0123456789abcdef0123456789abcdef"
RACHEL, GEORGE = "21m00Tcm4TlvDq8ikWAM", "JBFqnCBsd6RMkjVDRZzb"
PLAN = VoicePlan(voice="warm", speed=1.1, pauses=[Pause(after_sentence=1, seconds=1.2)])


@pytest.fixture
def api() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def eleven() -> Iterator[FakeElevenLabs]:
    with FakeElevenLabs(KEY, voices=(RACHEL, GEORGE)) as server:
        yield server


def planned(plan: VoicePlan | None = PLAN, seconds: int = 20) -> Script:
    script = OfflineWriter().script("why bread rises", seconds)
    return Script.model_validate({**script.model_dump(), "voice": plan})


# --- the value on the script ----------------------------------------------------------------


def test_the_plan_is_an_optional_validated_field_of_the_script() -> None:
    script = planned()
    assert Script.model_validate_json(script.model_dump_json()) == script
    old = script.model_dump(mode="json")
    del old["voice"]
    assert Script.model_validate(old).voice is None  # versions stored before the field
    assert script.narration_pauses == {2: 1.2}  # the hook is line 0
    too_far = {**script.model_dump(), "voice": {**PLAN.model_dump(), "pauses": [
        {"after_sentence": len(script.sentences), "seconds": 1.0}]}}  # fmt: skip
    with pytest.raises(ValidationError, match="does not have"):
        Script.model_validate(too_far)
    with pytest.raises(ValidationError):
        Script.model_validate({**script.model_dump(), "voice": {"voice": "warm", "speed": 9}})


def test_fitting_and_moving_pauses() -> None:
    plan = VoicePlan(voice="deep", speed=1.0, pauses=[
        Pause(after_sentence=4, seconds=0.5), Pause(after_sentence=1, seconds=0.4),
        Pause(after_sentence=1, seconds=0.9), Pause(after_sentence=9, seconds=2.0)])  # fmt: skip
    assert plan.fitted(5).pauses == [Pause(after_sentence=1, seconds=0.9),
                                     Pause(after_sentence=4, seconds=0.5)]  # fmt: skip
    before = ["a.", "b.", "c.", "d.", "e."]
    moved = plan.moved(before, ["new.", "b.", "c.", "e."])
    assert moved.pauses == [Pause(after_sentence=1, seconds=0.9),
                            Pause(after_sentence=3, seconds=0.5)]  # fmt: skip
    assert plan.moved(before, ["x."]).pauses == []
    assert (moved.voice, moved.speed) == ("deep", 1.0)


# --- the writers ------------------------------------------------------------------------------


def test_the_llm_writer_plans_the_voice_and_fits_the_plan(api: FakeOpenAI) -> None:
    api.answer(DRAFT, schema="ScriptDraft")
    api.answer(CARDS, schema="SceneCards")
    plan = {"voice": "deep", "speed": 0.9, "pauses": [
        {"after_sentence": 2, "seconds": 0.7}, {"after_sentence": 12, "seconds": 1.0}]}  # fmt: skip
    api.answer(plan, schema="VoicePlan")
    api.answer(REVIEW, schema="ReviewNotes")
    script = make_writer(api).script("30s on why octopuses have three hearts, calm", 30)
    assert schema_names(api) == ["ScriptDraft", "SceneCards", "VoicePlan", "ReviewNotes"]
    assert script.voice == VoicePlan(voice="deep", speed=0.9,
                                     pauses=[Pause(after_sentence=2, seconds=0.7)])  # fmt: skip
    asked = api.requests[2].body["messages"][1]["content"]
    assert "Plan a calm narration" in asked
    assert f"[4] {SENTENCES[4]}" in asked


def test_a_revision_replans_only_when_the_words_change(api: FakeOpenAI) -> None:
    api.answer(DRAFT, schema="ScriptDraft")
    api.answer({"voice": "bright", "speed": 1.05, "pauses": [
        {"after_sentence": 3, "seconds": 0.6}]}, schema="VoicePlan")  # fmt: skip
    writer = make_writer(api)
    script = writer.script("octopus hearts", 30)
    assert script.voice is not None
    retitled = {**DRAFT, "title": "Three hearts!", "summary": "New title.", "changed": True}
    api.answer(retitled, schema="RewriteDraft")
    sent = len(api.requests)
    revised = writer.revise(script, "a punchier title").script
    assert "VoicePlan" not in schema_names(api)[sent:]  # same words: the plan stays as it is
    assert revised.voice == script.voice
    assert voice_for_script(revised, env={}).name == voice_for_script(script, env={}).name
    cut = {**DRAFT, "sentences": SENTENCES[1:], "summary": "Cut the first.", "changed": True}
    api.answer(cut, schema="RewriteDraft")  # the voice-plan agent is down this time
    sent = len(api.requests)
    cut_script = writer.revise(script, "drop the first sentence").script
    assert "VoicePlan" in schema_names(api)[sent:]
    assert cut_script.voice == VoicePlan(voice="bright", speed=1.05,
                                         pauses=[Pause(after_sentence=2, seconds=0.6)])  # fmt: skip


def test_the_offline_writer_directs_no_voice_but_keeps_a_plan_it_is_given() -> None:
    writer = OfflineWriter()
    assert writer.script("why bread rises, calm", 30).voice is None
    script = planned(VoicePlan(voice="calm", speed=0.9, pauses=[
        Pause(after_sentence=0, seconds=0.5), Pause(after_sentence=2, seconds=1.0)]))  # fmt: skip
    revised = writer.revise(script, "at the start add Yeast is alive.").script
    assert revised.sentences == ["Yeast is alive.", *script.sentences]
    assert revised.voice == VoicePlan(voice="calm", speed=0.9, pauses=[
        Pause(after_sentence=1, seconds=0.5), Pause(after_sentence=3, seconds=1.0)])  # fmt: skip
    retitled = writer.revise(script, "change the title to Bread!").script
    assert (retitled.title, retitled.voice) == ("Bread!", script.voice)


# --- who decides the voice ----------------------------------------------------------------------


def test_preference_wins_over_the_plan_and_the_plan_over_the_default() -> None:
    default = voice_for_script(planned(None), env={})
    assert isinstance(default, PiperTTS)
    assert (default.length_scale, default.name) == (1.0, "piper:en_US-joe-medium")
    by_plan = voice_for_script(planned(), env={})
    assert isinstance(by_plan, PiperTTS)
    assert by_plan.length_scale == pytest.approx(1 / 1.1, abs=1e-3)
    assert by_plan.pauses == {2: 1.2}
    by_preference = voice_for_script(planned(), "calm", env={})
    assert isinstance(by_preference, PiperTTS)
    assert by_preference.length_scale == pytest.approx(1 / 0.9, abs=1e-3)  # calm's pace, not 1.1
    assert by_preference.pauses == {2: 1.2}  # the script's pauses stay
    assert len({default.name, by_plan.name, by_preference.name}) == 3
    assert choice_for(PLAN, "no-such-word") == choice_for(PLAN)  # an unknown preference: no say


def test_with_a_key_the_plan_picks_the_elevenlabs_voice(eleven: FakeElevenLabs) -> None:
    env = {"ELEVENLABS_API_KEY": KEY, "ELEVENLABS_BASE_URL": eleven.base_url}
    warm = voice_for_script(planned(), env=env)
    assert isinstance(warm, ElevenLabsTTS)
    assert (warm.voice_id, warm.speed) == (RACHEL, 1.1)  # "warm" reads as calm: Rachel
    george = voice_for_script(planned(PLAN.model_copy(update={"voice": "george"})), env=env)
    assert isinstance(george, ElevenLabsTTS)
    assert george.voice_id == GEORGE
    slow = voice_for_script(planned(PLAN.model_copy(update={"speed": 0.5})), env=env)
    assert isinstance(slow, ElevenLabsTTS)
    assert slow.speed == 0.7  # clamped to what ElevenLabs accepts
    assert choice_for(PLAN, "deep").engine is None
    assert isinstance(voice_for_script(planned(), "energetic", env=env), ElevenLabsTTS)


def test_an_unknown_plan_voice_falls_back_to_the_default_plainly(
    caplog: pytest.LogCaptureFixture, eleven: FakeElevenLabs
) -> None:
    odd = planned(PLAN.model_copy(update={"voice": "gravelly pirate"}))
    env = {"ELEVENLABS_API_KEY": KEY, "ELEVENLABS_BASE_URL": eleven.base_url}
    with caplog.at_level(logging.WARNING, logger="pipeline.voice.select"):
        voice = voice_for_script(odd, env=env)
    assert "unknown voice 'gravelly pirate'; using the default voice" in caplog.text
    assert isinstance(voice, PiperTTS)
    assert voice.length_scale == pytest.approx(1 / 1.1, abs=1e-3)  # the plan's pace still holds
    assert choice_for(odd.voice).engine is not Engine.ELEVENLABS


# --- the plan is heard ------------------------------------------------------------------------


def test_piper_speaks_the_planned_pause(tmp_path: Path) -> None:
    script = planned(seconds=10)
    narration = voice_for_script(script, env={}).speak(script.narration, tmp_path / "n.wav")
    gaps = [after.start - before.end for before, after in zip(
        narration.cues, narration.cues[1:], strict=False)]  # fmt: skip
    expected = [PAUSE_SECONDS] * len(gaps)
    expected[2] = 1.2  # after sentence 1, which is narration line 2
    assert gaps == pytest.approx(expected, abs=0.002)


def test_elevenlabs_breaks_the_request_at_a_planned_pause(
    eleven: FakeElevenLabs, tmp_path: Path
) -> None:
    env = {"ELEVENLABS_API_KEY": KEY, "ELEVENLABS_BASE_URL": eleven.base_url}
    script = planned(seconds=10)
    voice = voice_for_script(script, env=env)
    narration = voice.speak(script.narration, tmp_path / "n.wav")
    first, second = (request.body["text"] for request in eleven.requests)
    assert first == " ".join(script.narration[:3])
    assert second == " ".join(script.narration[3:])
    assert narration.cues[3].start - narration.cues[2].end >= 1.2
    assert [request.body["voice_settings"]["speed"] for request in eleven.requests] == [1.1, 1.1]
