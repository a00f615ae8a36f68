"""The video render: one ffmpeg run that turns a script and its narration into an MP4.

This module owns the composition. Each scene is an animated two-colour gradient (drawn small
by ffmpeg's `gradients` source and scaled up, which costs a fraction of drawing it full size)
with its title card (drawtext, Lato Black, fading in, top third). Scenes change at the cue of
their first sentence (the hook belongs to the first scene). Captions are burned in with libass
from an ASS file written next to the output, using font_lato's folder as the only font source.
The narration is the soundtrack; optional music is looped, set to a modest bed level and
ducked under the voice with a sidechain compressor. The result is H.264 (yuv420p) + AAC with
`+faststart`, trimmed to the narration's duration, written to a temporary file and renamed.

With pictures (`media` maps shots to local files) the same run composes the shots instead
(`shots_graph`; the shot chains live in pipeline.footage): clips and stills cross-fading on
their beats, a shade behind the captions, and the title card on the hook only, while a scene
that shows no picture keeps its gradient and its title card as above.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from pathlib import Path

import font_lato
from pydantic import BaseModel, ConfigDict

from pipeline.captions import CaptionStyle, caption_cues, chars_per_line, wrap, write_ass
from pipeline.errors import PermanentError
from pipeline.ffmpeg import filter_escape, run_ffmpeg
from pipeline.ffmpeg_check import FfmpegNeeds, FilterNeed
from pipeline.footage import (
    Beat,
    beats,
    clip_chain,
    join_segments,
    media_input,
    segment_frames,
    shade_source,
    shade_top,
    still_chain,
)
from pipeline.media.model import Shot
from pipeline.narration import Narration
from pipeline.probe import SILENCE_DB, integrated_lufs, read_audio
from pipeline.script import Aspect, Script

log = logging.getLogger(__name__)

TITLE_FONT = "Lato-Black.ttf"
TITLE_FADE_SECONDS = 0.6
MUSIC_BED_LUFS = -28.0
"""Music loudness before ducking: about 12 LU under the -16 LUFS narration."""
GRADIENT_SHRINK = 8
"""The gradient is drawn at 1/8 of each side and scaled up; it is smooth, so nothing is lost."""
_HEX_COLOUR = re.compile(r"#?([0-9a-fA-F]{6})")


class Profile(StrEnum):
    """Render quality: a fast small preview for the chat, or the full-quality video."""

    PREVIEW = "preview"
    FULL = "full"


class Encoding(BaseModel):
    """How a profile encodes: frame rate, x264 preset and quality, audio bitrate and rate.

    `threads` 1 runs the filter graph and x264 on one thread: for the small preview that took
    ~45 % less CPU and less time than ffmpeg's own threading, and two workers rendering at
    once no longer slow each other down (0: ffmpeg decides). `aac_coder` "fast" encodes the
    preview's audio ~3x cheaper; the full video keeps the better default coder."""

    model_config = ConfigDict(frozen=True)

    fps: int
    preset: str
    crf: int
    audio_bitrate: str
    sample_rate: int
    threads: int = 0
    aac_coder: str = "twoloop"


ENCODINGS = {
    Profile.FULL: Encoding(fps=30, preset="veryfast", crf=21, audio_bitrate="160k",
                           sample_rate=48000),
    Profile.PREVIEW: Encoding(fps=15, preset="ultrafast", crf=28, audio_bitrate="64k",
                              sample_rate=44100, threads=1, aac_coder="fast"),
}

_FULL_SIZES = {Aspect.VERTICAL: (1080, 1920), Aspect.LANDSCAPE: (1920, 1080),
               Aspect.SQUARE: (1080, 1080)}


def frame_size(aspect: Aspect, profile: Profile) -> tuple[int, int]:
    """Output width and height: 1080p-class for FULL, half of each side for PREVIEW."""
    width, height = _FULL_SIZES[Aspect(aspect)]
    if profile == Profile.PREVIEW:
        return width // 2, height // 2
    return width, height


class SceneSpan(BaseModel):
    """When one scene is on screen, in whole frames, and what it shows."""

    model_config = ConfigDict(frozen=True)

    first_frame: int
    frames: int
    title: str
    colours: tuple[str, str]
    shots: tuple[Shot, ...] = ()

    def seconds(self, fps: int) -> tuple[float, float]:
        return self.first_frame / fps, (self.first_frame + self.frames) / fps


def scene_spans(script: Script, narration: Narration, fps: int) -> list[SceneSpan]:
    """Scenes in screen order; each starts at its first sentence's cue, the first at zero."""
    if len(narration.cues) != len(script.narration):
        raise PermanentError("the narration does not match the script; make the voice again")
    starts = [_scene_start(script, narration, index) for index in range(len(script.scenes))]
    order = sorted(range(len(starts)), key=lambda index: starts[index])
    total = math.ceil(narration.duration * fps - 1e-6)
    bounds = [round(starts[index] * fps) for index in order] + [total]
    bounds[0] = 0
    return [
        SceneSpan(first_frame=bounds[rank], frames=bounds[rank + 1] - bounds[rank],
                  title=script.scenes[index].title, colours=_colours(script.scenes[index].colors),
                  shots=tuple(script.scenes[index].shots))
        for rank, index in enumerate(order)
        if bounds[rank + 1] > bounds[rank]
    ]


def _scene_start(script: Script, narration: Narration, index: int) -> float:
    sentences = script.scenes[index].sentences
    if any(not 0 <= s < len(script.sentences) for s in sentences):
        raise PermanentError(f"scene {index + 1} points at a sentence the script does not have")
    return 0.0 if index == 0 else min(narration.cues[s + 1].start for s in sentences)


def _colours(colours: tuple[str, str]) -> tuple[str, str]:
    matches = [_HEX_COLOUR.fullmatch(colour.strip()) for colour in colours]
    if not all(matches):
        raise PermanentError(f"scene colours must look like #1d2b64, got {', '.join(colours)}")
    return tuple(f"0x{match.group(1)}" for match in matches if match)  # type: ignore[return-value]


def render(
    script: Script,
    narration: Narration,
    out: Path,
    *,
    profile: Profile = Profile.FULL,
    music: Path | None = None,
    on_progress: Callable[[float], None] | None = None,
    caption_style: str = CaptionStyle.SENTENCE,
    media: Mapping[str, Path] | None = None,
) -> Path:
    """Render `script` with `narration` (and optional ducked `music`) into the MP4 `out`.

    `caption_style="words"` highlights each word as it is spoken when the narration has word
    timing (and shows plain sentence captions when it has none). `media` maps a shot's
    `Candidate.key` to its local, vetted file; a shot whose key it lacks, and a scene without
    shots, shows the built-in gradient for its time."""
    out = Path(out).resolve()
    encoding = ENCODINGS[Profile(profile)]
    width, height = frame_size(script.aspect, profile)
    spans = scene_spans(script, narration, encoding.fps)
    ass = _write_captions(narration, out, (width, height), caption_style)
    timeline = [beat for span in spans for beat in
                beats(span.first_frame, span.frames, span.colours, span.shots, media or {})]
    inputs = _inputs(narration.audio, music)
    if any(beat.pictured for beat in timeline):
        cards = title_cards(spans, timeline, narration, encoding.fps)
        media_args, graph = shots_graph(timeline, cards, ass.name, (width, height),
                                        encoding.fps, first_input=2 if music else 1)
        inputs += media_args
    else:
        graph = video_graph(spans, ass.name, width, height, encoding.fps)
    if music is not None:
        graph += ";" + music_graph(_music_gain_db(Path(music)), encoding.sample_rate)
    with _atomic(out) as temporary:
        args = [*_threads(encoding), *inputs, "-filter_complex", graph,
                *_outputs(encoding, music is not None),
                "-t", f"{narration.duration:.3f}", "-y", temporary.name]
        run_ffmpeg(args, duration=narration.duration, needs=RENDER_NEEDS,
                   on_progress=on_progress, cwd=out.parent)
    return out


def _write_captions(
    narration: Narration, out: Path, size: tuple[int, int], style: str
) -> Path:
    width, height = size
    if style not in [known.value for known in CaptionStyle]:
        raise PermanentError(f"there is no caption style {style!r}; use sentence or words")
    captions = caption_cues(narration.cues, chars_per_line(width, height))
    return write_ass(captions, out.with_suffix(".ass"), width, height, style=style,
                     words=narration.words)


def _inputs(voice: Path, music: Path | None) -> list[str]:
    inputs = ["-i", str(Path(voice).resolve())]
    if music is not None:
        inputs += ["-stream_loop", "-1", "-i", str(Path(music).resolve())]
    return inputs


def _threads(encoding: Encoding) -> list[str]:
    return ["-filter_complex_threads", str(encoding.threads)] if encoding.threads else []


def _outputs(encoding: Encoding, with_music: bool) -> list[str]:
    threads = ["-threads", str(encoding.threads)] if encoding.threads else []
    return [
        "-map", "[v]", "-map", "[a]" if with_music else "0:a",
        "-c:v", "libx264", "-preset", encoding.preset, "-crf", str(encoding.crf), *threads,
        "-pix_fmt", "yuv420p", "-r", str(encoding.fps),
        "-c:a", "aac", "-aac_coder", encoding.aac_coder, "-b:a", encoding.audio_bitrate,
        "-ar", str(encoding.sample_rate), "-ac", "2", "-movflags", "+faststart",
    ]


class _atomic:
    """A temporary path beside `out`, renamed onto `out` on success and removed on failure."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def __enter__(self) -> Path:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=self.out.parent, prefix=f".{self.out.stem}.",
                                        suffix=self.out.suffix or ".mp4")
        os.close(handle)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(name, 0o666 & ~umask)
        self.temporary = Path(name)
        return self.temporary

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if kind is None:
            self.temporary.replace(self.out)
        else:
            self.temporary.unlink(missing_ok=True)


RENDER_NEEDS = FfmpegNeeds(
    filters=(
        FilterNeed("gradients", ("s", "r", "c0", "c1", "n", "x0", "y0", "x1", "y1", "speed",
                                 "seed")),
        FilterNeed("trim", ("start_frame", "end_frame")),
        FilterNeed("setpts", positional=1),
        FilterNeed("format", positional=1),
        FilterNeed("setsar", positional=1),
        FilterNeed("concat", ("n", "v", "a")),
        FilterNeed("split", positional=1),
        FilterNeed("scale", ("flags",), positional=2),
        FilterNeed("fps", positional=1),
        FilterNeed("crop", ("w", "h", "x", "y")),
        FilterNeed("loop", ("loop", "size", "start")),
        FilterNeed("settb", positional=1),
        FilterNeed("xfade", ("transition", "duration", "offset")),
        FilterNeed("color", ("c", "s", "r", "d")),
        FilterNeed("geq", ("r", "g", "b", "a")),
        FilterNeed("overlay", ("x", "y", "enable")),
        FilterNeed("drawtext", ("fontfile", "text", "expansion", "fontsize", "fontcolor",
                                "borderw", "bordercolor", "shadowx", "shadowy", "shadowcolor",
                                "line_spacing", "text_align", "x", "y", "alpha", "enable"),
                   check_options=True),  # text_align: ffmpeg 6.1
        FilterNeed("ass", ("filename", "fontsdir")),  # only in builds with libass
        FilterNeed("aformat", ("sample_fmts", "sample_rates", "channel_layouts")),
        FilterNeed("asplit", positional=1),
        FilterNeed("volume", positional=1),
        FilterNeed("sidechaincompress", ("threshold", "ratio", "attack", "release")),
        FilterNeed("amix", ("inputs", "duration", "dropout_transition", "normalize"),
                   check_options=True),  # normalize: ffmpeg 4.4
    ),
    encoders=("libx264", "aac"),
)
"""What the graphs below (`video_graph`, `shots_graph`, `music_graph`) and `_outputs` use from
ffmpeg; the binary is chosen by it (pipeline.ffmpeg). tests/integration/test_ffmpeg_choice.py
reads every filter and option out of real graphs and fails when one is missing here: add it in
the same change, with `check_options=True` when an option it uses is newer than ffmpeg 4.3
(Debian 11's)."""


def video_graph(spans: list[SceneSpan], ass_name: str, width: int, height: int, fps: int) -> str:
    """The video half of the filter graph, ending in the pad [v]."""
    small = f"{_even(width // GRADIENT_SHRINK)}x{_even(height // GRADIENT_SHRINK)}"
    backgrounds = [_background(span, small, fps, index) for index, span in enumerate(spans)]
    pads = "".join(f"[g{index}]" for index in range(len(spans)))
    # the gradients are drawn small and scaled up; square pixels, or players squeeze the frame
    upscale = f"scale={width}:{height}:flags=bilinear,setsar=1"
    chain = [f"{pads}concat=n={len(spans)}:v=1:a=0", upscale]
    chain += [_title(span, width, height, fps) for span in spans]
    chain += [_captions_filter(ass_name), "format=yuv420p"]
    return ";".join([*backgrounds, ",".join(chain) + "[v]"])


def _even(value: int) -> int:
    return max(2, value - value % 2)


def _background(span: SceneSpan, size: str, fps: int, index: int) -> str:
    return f"{_gradient(span.colours, span.frames, size, fps)}[g{index}]"


def _gradient(colours: tuple[str, str], frames: int, size: str, fps: int) -> str:
    first, second = colours
    width, height = (int(side) for side in size.split("x"))
    return (
        f"gradients=s={size}:r={fps}:c0={first}:c1={second}:n=2:x0=0:y0=0:x1={width}:y1={height}"
        f":speed=0.008:seed=1,trim=end_frame={frames},setpts=PTS-STARTPTS,"
        f"format=yuv420p,setsar=1"
    )


class TitleCard(BaseModel):
    """A title on screen from `start` to `end` seconds."""

    model_config = ConfigDict(frozen=True)

    title: str
    start: float
    end: float


def title_cards(
    spans: Sequence[SceneSpan], timeline: Sequence[Beat], narration: Narration, fps: int
) -> list[TitleCard]:
    """With pictures, the title card shows during the hook only (on the first scene, until the
    next line starts); a scene that shows no picture keeps its title for its whole span."""
    cards = []
    for rank, span in enumerate(spans):
        start, end = span.seconds(fps)
        pictured = any(beat.pictured for beat in timeline
                       if span.first_frame <= beat.first_frame < span.first_frame + span.frames)
        if not pictured:
            cards.append(TitleCard(title=span.title, start=start, end=end))
        elif rank == 0:
            hook_end = narration.cues[1].start if len(narration.cues) > 1 else end
            cards.append(TitleCard(title=span.title, start=start, end=min(end, hook_end)))
    return cards


def _title(span: SceneSpan, width: int, height: int, fps: int) -> str:
    start, end = span.seconds(fps)
    return _title_card(TitleCard(title=span.title, start=start, end=end), width, height)


def _title_card(card: TitleCard, width: int, height: int) -> str:
    """drawtext for one title: centred lines in the top third, fading in."""
    lines, size = title_layout(card.title, width, height)
    start, end = card.start, card.end
    fade = f"min(1,max(0,(t-{start:.3f})/{TITLE_FADE_SECONDS}))"
    options = {
        "fontfile": str(_font_dir() / TITLE_FONT), "text": "\n".join(lines), "expansion": "none",
        "fontsize": str(size), "fontcolor": "white", "borderw": str(max(2, size // 14)),
        "bordercolor": "black@0.75", "shadowx": "3", "shadowy": "3", "shadowcolor": "black@0.4",
        "line_spacing": str(size // 6), "text_align": "C", "x": "(w-text_w)/2",
        "y": f"{round(height * 0.13)}", "alpha": fade,
        "enable": f"between(t,{start:.3f},{end - 0.001:.3f})",
    }
    return "drawtext=" + ":".join(f"{key}={filter_escape(value)}" for key, value in options.items())


def shots_graph(
    timeline: Sequence[Beat], cards: Sequence[TitleCard], ass_name: str, size: tuple[int, int],
    fps: int, *, first_input: int,
) -> tuple[list[str], str]:
    """The media inputs and the video graph (ending in [v]) for a timeline with pictures.

    Each beat becomes a segment [sN] (a clip, a still or a gradient), cross-faded into the next
    at its cue; the caption shade lies over every pictured beat; then titles and captions."""
    width, height = size
    small = f"{_even(width // GRADIENT_SHRINK)}x{_even(height // GRADIENT_SHRINK)}"
    inputs: list[str] = []
    chains = []
    for index, beat in enumerate(timeline):
        frames = segment_frames(timeline, index, fps)
        if beat.pictured:
            stream = f"{first_input + inputs.count('-i')}:v"
            inputs += media_input(beat, frames, fps)
            chain = (still_chain(beat, stream, frames, size, fps, index=index) if beat.still
                     else clip_chain(beat, stream, frames, size, fps))
        else:
            chain = (f"{_gradient(beat.colours, frames, small, fps)},"
                     f"scale={width}:{height}:flags=bilinear,setsar=1")
        chains.append(f"{chain}[s{index}]")
    joins, joined = join_segments(timeline, fps)
    chains += joins
    chains.append(f"{shade_source(width, height)}[shade]")
    spans = [(beat.first_frame / fps, (beat.first_frame + beat.frames) / fps)
             for beat in timeline if beat.pictured]
    enable = "" if all(beat.pictured for beat in timeline) else ":enable=" + filter_escape(
        "+".join(f"between(t,{start:.3f},{end:.3f})" for start, end in spans))
    final = [f"[{joined}][shade]overlay=x=0:y={shade_top(height)}{enable}"]
    final += [_title_card(card, width, height) for card in cards]
    final += [_captions_filter(ass_name), "format=yuv420p"]
    return inputs, ";".join([*chains, ",".join(final) + "[v]"])


def title_layout(title: str, width: int, height: int) -> tuple[list[str], int]:
    """Title lines (at most three, wrapped) and the font size at which they fit the width."""
    columns = max(12, chars_per_line(width, height) * 2 // 3)
    words = title.split()
    while len(wrap(words, columns)) > 3:
        columns += 2
    size = min(0.86 * width / (columns * 0.6), 0.075 * height)
    return wrap(words, columns), int(size)


def _captions_filter(ass_name: str) -> str:
    return f"ass=filename={filter_escape(ass_name)}:fontsdir={filter_escape(str(_font_dir()))}"


def _font_dir() -> Path:
    return Path(font_lato.font_directory)


def music_graph(gain_db: float, sample_rate: int) -> str:
    """The audio half with music: voice 0:a over music 1:a looped, ducked, ending in [a]."""
    audio_format = f"aformat=sample_fmts=fltp:sample_rates={sample_rate}:channel_layouts=stereo"
    return (
        f"[0:a]{audio_format},asplit=2[voice][key];"
        f"[1:a]{audio_format},volume={gain_db:.2f}dB[bed];"
        "[bed][key]sidechaincompress=threshold=0.015:ratio=8:attack=15:release=350[ducked];"
        "[voice][ducked]amix=inputs=2:duration=first:dropout_transition=0:normalize=0[a]"
    )


def _music_gain_db(music: Path) -> float:
    """Gain that brings the music to `MUSIC_BED_LUFS`, measured on its first 30 seconds."""
    if not music.is_file():
        raise PermanentError(f"the background music file {music.name} is missing")
    samples, rate = read_audio(music, max_seconds=30.0)
    loudness = integrated_lufs(samples, rate)
    if loudness <= SILENCE_DB:
        return 0.0
    return max(min(MUSIC_BED_LUFS - loudness, 20.0), -40.0)
