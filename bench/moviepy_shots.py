"""The MoviePy reference for bench/shots_bench.py: the same shots composed the way
MoneyPrinterTurbo composes a video (MoviePy 2).

Each shot's clip is cut to its beat (looped when short), cropped to 9:16 around its crop point
and resized to the frame; stills pan across a frame-sized window; the clips are concatenated
with 0.33 s cross-fades; a prepared RGBA strip shades the caption area; TextClip captions (Lato
Bold, white with a black outline) and the hook's title are composited on top; the narration is
the soundtrack; `write_videofile` encodes with libx264 at the same preset and quality as ours.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import font_lato
import numpy as np
from moviepy import (
    AudioFileClip,
    CompositeVideoClip,
    ImageClip,
    TextClip,
    VideoFileClip,
    concatenate_videoclips,
    vfx,
)

from pipeline.captions import caption_cues
from pipeline.footage import KEN_BURNS_ZOOM, SHADE_ALPHA, SHADE_RAMP, SHADE_TOP, beats
from pipeline.media.model import MediaKind
from pipeline.narration import Narration
from pipeline.render import scene_spans
from pipeline.script import Script

WIDTH, HEIGHT, FPS = 1080, 1920, 30
FADE = 10 / FPS


def _fit(clip, x: float, y: float):  # type: ignore[no-untyped-def]
    """Crop to 9:16 around (x, y) as fractions, then resize to the frame."""
    width, height = clip.size
    crop_w, crop_h = min(width, height * WIDTH / HEIGHT), min(height, width * HEIGHT / WIDTH)
    centre_x = min(max(width * x, crop_w / 2), width - crop_w / 2)
    centre_y = min(max(height * y, crop_h / 2), height - crop_h / 2)
    return clip.cropped(x_center=centre_x, y_center=centre_y, width=crop_w,
                        height=crop_h).resized((WIDTH, HEIGHT))


def _still(path: Path, seconds: float, x: float, y: float, index: int):  # type: ignore[no-untyped-def]
    big_w, big_h = round(WIDTH * KEN_BURNS_ZOOM), round(HEIGHT * KEN_BURNS_ZOOM)
    picture = _fit(ImageClip(str(path)), x, y).resized((big_w, big_h)).with_duration(seconds)
    dx, dy = big_w - WIDTH, big_h - HEIGHT
    start, end = (0, 1) if index % 2 == 0 else (1, 0)

    def position(t: float) -> tuple[float, float]:
        share = start + (end - start) * min(1.0, t / seconds)
        return -dx * share, -dy * share

    return CompositeVideoClip([picture.with_position(position)], size=(WIDTH, HEIGHT))


def _shade(seconds: float):  # type: ignore[no-untyped-def]
    strip = HEIGHT - round(HEIGHT * SHADE_TOP)
    rows = np.minimum(1.0, np.arange(strip) / (HEIGHT * SHADE_RAMP)) * SHADE_ALPHA
    mask = ImageClip(np.repeat(rows[:, None], WIDTH, axis=1), is_mask=True)
    black = ImageClip(np.zeros((strip, WIDTH, 3), dtype=np.uint8))
    return (black.with_mask(mask).with_duration(seconds)
            .with_position((0, round(HEIGHT * SHADE_TOP))))


def compose(script: Script, narration: Narration, media: Mapping[str, Path], out: Path) -> None:
    fonts = Path(font_lato.font_directory)
    timeline = [beat for span in scene_spans(script, narration, FPS)
                for beat in beats(span.first_frame, span.frames, span.colours, span.shots, media)]
    pieces = []
    for index, beat in enumerate(timeline):
        assert beat.shot is not None
        assert beat.file is not None
        seconds = (beat.frames + (10 if index < len(timeline) - 1 else 0)) / FPS
        crop = beat.shot.crop
        if beat.shot.media.kind == MediaKind.PHOTO:
            piece = _still(beat.file, seconds, crop.x, crop.y, index)
        else:
            clip = VideoFileClip(str(beat.file), audio=False)
            start = min(beat.shot.start, max(0.0, clip.duration - 0.1))
            clip = clip.subclipped(start)
            if clip.duration < seconds:
                clip = clip.with_effects([vfx.Loop(duration=seconds)])
            piece = _fit(clip.subclipped(0, seconds), crop.x, crop.y)
        if index:
            piece = piece.with_effects([vfx.CrossFadeIn(FADE)])
        pieces.append(piece)
    video = concatenate_videoclips(pieces, method="compose", padding=-FADE)
    layers = [video, _shade(narration.duration)]
    title = TextClip(font=str(fonts / "Lato-Black.ttf"), text=script.scenes[0].title,
                     font_size=96, color="white", stroke_color="black", stroke_width=6,
                     method="caption", size=(int(WIDTH * 0.86), None), text_align="center",
                     margin=(10, 20))
    layers.append(title.with_start(0).with_duration(narration.cues[1].start)
                  .with_position(("center", 250)).with_effects([vfx.CrossFadeIn(0.6)]))
    for caption in caption_cues(narration.cues, 24):
        text = TextClip(font=str(fonts / "Lato-Bold.ttf"), text=caption.text, font_size=72,
                        color="white", stroke_color="black", stroke_width=5, method="caption",
                        size=(int(WIDTH * 0.9), None), text_align="center", margin=(10, 20))
        layers.append(text.with_start(caption.start).with_duration(caption.end - caption.start)
                      .with_position(("center", round(HEIGHT * 0.8) - text.h)))
    final = CompositeVideoClip(layers, size=(WIDTH, HEIGHT)).with_duration(narration.duration)
    final = final.with_audio(AudioFileClip(str(narration.audio)))
    final.write_videofile(str(out), fps=FPS, codec="libx264", preset="veryfast",
                          audio_codec="aac", audio_bitrate="160k", threads=os.cpu_count(),
                          ffmpeg_params=["-crf", "21", "-pix_fmt", "yuv420p"], logger=None,
                          temp_audiofile=str(Path(out).with_suffix(".temp-audio.m4a")))
