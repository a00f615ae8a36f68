"""Word timing and word-highlight captions: Piper's word cues, the ASS events, a real render."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from pipeline.captions import HIGHLIGHT_RGB, caption_cues, write_ass
from pipeline.errors import PermanentError
from pipeline.narration import Cue, Narration
from pipeline.probe import frame_at, probe
from pipeline.render import Profile, render
from pipeline.script import Aspect, Scene, Script
from pipeline.voice import PiperTTS
from pipeline.voice.piper_tts import alignments_available

SENTENCES = [
    "Octopuses have three hearts.",
    "In 1990, two of them pumped blood to the gills!",
]
LONG = ("Two pump blood to the gills, the third one feeds the rest of the body "
        "while the octopus swims.")
_HIGHLIGHT = re.compile(r"\{\\1c&H([0-9A-F]{6})&\}([^{]+)\{\\r\}")


def _even_words(text: str, start: float, end: float) -> list[Cue]:
    words = text.split()
    step = (end - start) / len(words)
    return [Cue(start=start + i * step, end=start + (i + 0.8) * step, text=w)
            for i, w in enumerate(words)]


def _dialogues(path: Path) -> list[tuple[str, str, str]]:
    rows = [line.split(",", 9) for line in path.read_text("utf-8").splitlines()
            if line.startswith("Dialogue:")]
    return [(row[1], row[2], row[9]) for row in rows]


def test_words_style_shows_each_word_highlighted_in_turn(tmp_path: Path) -> None:
    cue = Cue(start=1.0, end=5.0, text=LONG)
    words = _even_words(LONG, 1.0, 5.0)
    path = write_ass(caption_cues([cue]), tmp_path / "w.ass", 1080, 1920, style="words",
                     words=words)
    events = _dialogues(path)
    assert len(events) == len(words)
    red, green, blue = HIGHLIGHT_RGB
    for (start, _, text), word in zip(events, words, strict=True):
        [(colour, shown)] = _HIGHLIGHT.findall(text)
        assert colour == f"{blue:02X}{green:02X}{red:02X}"
        assert shown == word.text
        assert start == f"0:00:{max(word.start, 1.0):05.2f}"
    for before, after in itertools.pairwise(events):
        assert before[1] == after[0]
    assert events[0][0] == "0:00:01.00"
    assert events[-1][1] == "0:00:05.00"


def test_the_next_caption_of_a_sentence_appears_with_its_first_word(tmp_path: Path) -> None:
    cue = Cue(start=0.0, end=4.0, text=LONG)
    words = _even_words(LONG, 0.0, 4.0)
    captions = caption_cues([cue])
    assert len(captions) >= 2
    events = _dialogues(write_ass(captions, tmp_path / "w.ass", 1080, 1920, style="words",
                                  words=words))
    first = 0
    for caption in captions:
        event = events[first]
        assert event[0] == f"0:00:{words[first].start:05.2f}"
        assert _HIGHLIGHT.findall(event[2])[0][1] == words[first].text
        assert event[2].replace("{\\1c&H00DDFF&}", "").replace("{\\r}", "") == "\\N".join(
            caption.lines)
        first += sum(len(line.split()) for line in caption.lines)


def test_hostile_text_stays_escaped_when_highlighted(tmp_path: Path) -> None:
    text = "{\\b1}bold? \\N no"
    events = _dialogues(write_ass(caption_cues([Cue(start=0, end=2, text=text)]),
                                  tmp_path / "w.ass", 1080, 1920, style="words",
                                  words=_even_words(text, 0, 2)))
    assert len(events) == 3
    for _, _, body in events:
        unescaped = re.sub(r"\{\\1c&H[0-9A-F]{6}&\}|\{\\r\}", "", body)
        assert re.search(r"(?<!\\)\{", unescaped) is None
        assert "\\N" not in unescaped.replace("\\\u2060N", "")


def test_without_matching_word_cues_it_falls_back_to_sentences(tmp_path: Path) -> None:
    captions = caption_cues([Cue(start=0, end=2, text="Octopuses have three hearts.")])
    plain = _dialogues(write_ass(captions, tmp_path / "a.ass", 1080, 1920))
    empty = _dialogues(write_ass(captions, tmp_path / "b.ass", 1080, 1920, style="words"))
    wrong = _dialogues(write_ass(captions, tmp_path / "c.ass", 1080, 1920, style="words",
                                 words=_even_words("Squids have three hearts.", 0, 2)))
    assert plain == empty == wrong
    assert len(plain) == 1
    with pytest.raises(ValueError):
        write_ass(captions, tmp_path / "d.ass", 1080, 1920, style="karaoke")


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Narration:
    if not alignments_available():
        pytest.skip("Piper word timing needs the onnx package")
    return PiperTTS().speak(_script().narration, tmp_path_factory.mktemp("words") / "n.wav")


def test_piper_words_cover_each_sentence_in_order_inside_its_cue(spoken: Narration) -> None:
    assert [w.text for w in spoken.words] == " ".join(_script().narration).split()
    for before, after in itertools.pairwise(spoken.words):
        assert before.end <= after.start + 1e-9
    position = 0
    for cue in spoken.cues:
        inside = spoken.words[position : position + len(cue.text.split())]
        position += len(inside)
        assert all(cue.start <= w.start < w.end <= cue.end + 1e-9 for w in inside)
        assert inside[0].start - cue.start < 0.25
        assert cue.end - inside[-1].end < 0.25
    number = next(w for w in spoken.words if w.text == "1990,")
    assert number.end - number.start > 0.6


def test_a_silent_dash_joins_a_spoken_word_and_captions_still_match(tmp_path: Path) -> None:
    text = "— Octopuses — have three hearts."
    narration = PiperTTS().speak([text], tmp_path / "d.wav")
    if not narration.words:
        pytest.skip("Piper word timing needs the onnx package")
    assert [w.text for w in narration.words] == ["— Octopuses —", "have", "three", "hearts."]
    path = write_ass(caption_cues(narration.cues), tmp_path / "d.ass", 1080, 1920,
                     style="words", words=narration.words)
    events = _dialogues(path)
    assert len(events) == len(narration.words)
    assert [shown for _, shown in _HIGHLIGHT.findall(events[0][2])] == ["—", "Octopuses", "—"]


def test_piper_without_word_timing_leaves_words_empty(tmp_path: Path) -> None:
    narration = PiperTTS(word_timing=False).speak(SENTENCES[:1], tmp_path / "n.wav")
    assert narration.words == []


def test_piper_length_scale_slows_the_voice_and_names_it(tmp_path: Path) -> None:
    normal = PiperTTS().speak(SENTENCES[:1], tmp_path / "a.wav")
    slow = PiperTTS(length_scale=1.5).speak(SENTENCES[:1], tmp_path / "b.wav")
    [fast_cue], [slow_cue] = normal.cues, slow.cues
    assert slow_cue.end - slow_cue.start > 1.25 * (fast_cue.end - fast_cue.start)
    assert PiperTTS(length_scale=1.3).name != PiperTTS().name
    with pytest.raises(PermanentError):
        PiperTTS(length_scale=5)


def _script() -> Script:
    return Script(
        idea="octopus hearts", title="Three hearts", hook="Why three hearts?",
        sentences=SENTENCES, target_seconds=6, aspect=Aspect.VERTICAL, writer="test",
        scenes=[Scene(title="Hearts", sentences=[0, 1], colors=("#0f2027", "#2c5364"))],
    )


def _highlight_pixels(frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.intp]:
    """Positions (row, column) of highlight-coloured pixels in the lower part of the frame."""
    height = frame.shape[0]
    band = frame[int(height * 0.5) :].astype(int)
    red, green, blue = HIGHLIGHT_RGB
    close = (np.abs(band[..., 0] - red) < 40) & (np.abs(band[..., 1] - green) < 40)
    return np.argwhere(close & (band[..., 2] < blue + 90))


def test_a_words_render_colours_the_spoken_word(tmp_path: Path, spoken: Narration) -> None:
    out = render(_script(), spoken, tmp_path / "words.mp4", profile=Profile.PREVIEW,
                 caption_style="words")
    plain = render(_script(), spoken, tmp_path / "plain.mp4", profile=Profile.PREVIEW)
    assert probe(out).duration == pytest.approx(spoken.duration, abs=0.15)
    first, third = spoken.words[0], spoken.words[2]
    assert first.text == "Why"
    at_first = _highlight_pixels(frame_at(out, (first.start + first.end) / 2))
    at_third = _highlight_pixels(frame_at(out, (third.start + third.end) / 2))
    assert len(at_first) > 150
    assert len(at_third) > 150
    assert at_third[:, 1].mean() - at_first[:, 1].mean() > 40
    middle = (first.start + first.end) / 2
    assert len(_highlight_pixels(frame_at(plain, middle))) < 20
    pause = (spoken.cues[0].end + spoken.cues[1].start) / 2
    assert len(_highlight_pixels(frame_at(out, pause))) < 20


def test_an_unknown_caption_style_is_refused(tmp_path: Path, spoken: Narration) -> None:
    with pytest.raises(PermanentError, match="caption style"):
        render(_script(), spoken, tmp_path / "x.mp4", profile=Profile.PREVIEW,
               caption_style="karaoke")


@pytest.mark.parametrize(
    "instruction", ["highlight the words", "word captions", "use karaoke captions"]
)
def test_word_captions_are_asked_for_in_words(instruction: str) -> None:
    from pipeline.writers import OfflineWriter

    writer = OfflineWriter()
    script = writer.script("why bread rises", 20)
    revision = writer.revise(script, instruction)
    assert revision.changed
    assert revision.script.captions == "words"
    assert revision.script.sentences == script.sentences
    back = writer.revise(revision.script, "plain captions")
    assert back.script.captions == "sentence"
