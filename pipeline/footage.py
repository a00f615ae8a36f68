"""The shot half of the render graph: which picture is on screen when, each shot's ffmpeg input,
and the chain that fits it to the frame.

A scene's span is shared among its shots in list order, in proportion to `Shot.seconds`, in
whole frames (`beats`). A beat whose shot has no usable local file (the key is missing from the
media mapping, or the file is gone or no longer the media vetting saw) keeps its time and shows
the scene's built-in gradient instead; a built-in background shot shows its own two colours.
Files are read with vetting's `input_args_for` (a named demuxer, the file protocol only, a
`file:` path), never probed by ffmpeg. Each beat's segment is
made `TRANSITION_SECONDS` longer than the beat (except the last) so the next one can cross-fade
in from its cue (`xfade`, on those frames only: `join_segments`), which keeps every cut
exactly on its beat.

Clips are read from `Shot.start` for no longer than their segment needs (`-ss`/`-t` before
`-i`), looped when shorter (`-stream_loop -1`), brought to the output rate, cropped to the
frame's shape around `Shot.crop` and only then scaled (so a landscape 4K clip is cut down to
the portrait slice before any pixel is scaled). A still is decoded once, cropped and scaled
once to `KEN_BURNS_ZOOM` times the frame, repeated by the `loop` filter, and a frame-sized
window slides across it (a crop with a time expression: no per-frame scaling, so it costs next
to nothing). The caption shade is one small RGBA ramp drawn once and overlaid on the lower
part of the frame, which darkens the footage without greying its colours.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from pipeline.ffmpeg import filter_escape
from pipeline.media import backgrounds
from pipeline.media.model import MediaKind, MediaRefused, Shot
from pipeline.media.vetting import input_args_for

log = logging.getLogger(__name__)

TRANSITION_SECONDS = 0.35
"""How long one shot cross-fades into the next."""
KEN_BURNS_ZOOM = 1.12
"""A still is scaled to this many times the frame; the window pans across the excess."""
PAN_SPEED = 0.02
"""How fast the window moves over a still, in frame widths (and heights) per second."""
SHADE_TOP = 0.5
"""Where the caption shade starts, as a fraction of the frame height (captions sit at 60-80 %)."""
SHADE_RAMP = 0.16
"""Over how much of the frame height the shade fades in from nothing to `SHADE_ALPHA`."""
SHADE_ALPHA = 0.6
"""How dark the shade is behind the captions (0 = none, 1 = black)."""


class Beat(BaseModel):
    """One stretch of the timeline, in whole frames, and what it shows."""

    model_config = ConfigDict(frozen=True)

    first_frame: int
    frames: int
    colours: tuple[str, str]
    shot: Shot | None = None
    file: Path | None = None
    """The shot's local file; None shows the gradient in `colours`."""
    input_args: tuple[str, ...] = ()
    """ffmpeg input options that read `file` as what vetting found it to be, local only."""

    @property
    def pictured(self) -> bool:
        return self.shot is not None and self.file is not None

    @property
    def still(self) -> bool:
        return self.shot is not None and self.shot.media.kind == MediaKind.PHOTO


def beats(
    first_frame: int, frames: int, colours: tuple[str, str], shots: Sequence[Shot],
    media: Mapping[str, Path],
) -> list[Beat]:
    """One scene's span shared among its shots (see the module docstring); one gradient beat
    when it has none. A built-in background shot shows its own colours; a shot whose file is
    missing, or is no longer the media it was vetted as, shows the scene's."""
    if not shots:
        return [Beat(first_frame=first_frame, frames=frames, colours=colours)]
    total = sum(shot.seconds for shot in shots)
    bounds, elapsed = [0], 0.0
    for shot in shots:
        elapsed += shot.seconds
        bounds.append(round(frames * elapsed / total))
    bounds[-1] = frames
    return [
        _beat(first_frame + bounds[index], bounds[index + 1] - bounds[index], colours, shot,
              media)
        for index, shot in enumerate(shots)
        if bounds[index + 1] > bounds[index]
    ]


def _beat(
    first_frame: int, frames: int, colours: tuple[str, str], shot: Shot,
    media: Mapping[str, Path],
) -> Beat:
    if backgrounds.is_background(shot.media):
        try:
            first, second = backgrounds.colours(shot.media)
            colours = (f"0x{first.lstrip('#')}", f"0x{second.lstrip('#')}")
        except ValueError:
            log.warning("%s is not a background this renderer knows", shot.media.key)
        return Beat(first_frame=first_frame, frames=frames, colours=colours, shot=shot)
    file = media.get(shot.media.key)
    if file is None:
        return Beat(first_frame=first_frame, frames=frames, colours=colours, shot=shot)
    try:
        args = input_args_for(Path(file))
    except (OSError, MediaRefused) as error:
        log.warning("shot %s shows the background instead: %s", shot.media.key, error)
        return Beat(first_frame=first_frame, frames=frames, colours=colours, shot=shot)
    return Beat(first_frame=first_frame, frames=frames, colours=colours, shot=shot,
                file=Path(file).resolve(), input_args=tuple(args))


def transition_frames(fps: int) -> int:
    return max(1, round(TRANSITION_SECONDS * fps))


def fades(timeline: Sequence[Beat], fps: int) -> list[int]:
    """Frames of each cross-fade, from beat k into k + 1: `TRANSITION_SECONDS`, shorter when
    the next beat is (it keeps at least one frame of its own), none into a one-frame beat."""
    full = transition_frames(fps)
    return [max(0, min(full, beat.frames - 1)) for beat in timeline[1:]]


def segment_frames(timeline: Sequence[Beat], index: int, fps: int) -> int:
    """Frames beat `index` must supply: its own, plus the cross-fade into the next one."""
    last = index == len(timeline) - 1
    return timeline[index].frames + (0 if last else fades(timeline, fps)[index])


def join_segments(timeline: Sequence[Beat], fps: int) -> tuple[list[str], str]:
    """Graph lines that join the segments [s0], [s1]... into one stream, and its label.

    Only the frames of each cross-fade go through `xfade` (the tail of one segment and the head
    of the next, cut off with `split` and `trim`); everything else is concatenated untouched, so
    a transition costs its own frames and nothing more."""
    if len(timeline) == 1:
        return [], "s0"
    overlaps = fades(timeline, fps)
    lines, order = [], []
    for index, beat in enumerate(timeline):
        fade_in = overlaps[index - 1] if index else 0
        fade_out = overlaps[index] if index < len(overlaps) else 0
        parts = [name for name, used in (("h", fade_in), ("b", True), ("t", fade_out)) if used]
        if len(parts) > 1:
            lines.append(f"[s{index}]split={len(parts)}"
                         + "".join(f"[s{index}{part}]" for part in parts))
        if fade_in:
            lines.append(f"[s{index}h]trim=end_frame={fade_in}[h{index}]")
            lines.append(f"[t{index - 1}][h{index}]xfade=transition=fade"
                         f":duration={fade_in / fps:.4f}:offset=0[f{index}]")
            order.append(f"f{index}")
        body = f"s{index}b" if len(parts) > 1 else f"s{index}"
        lines.append(f"[{body}]trim=start_frame={fade_in}:end_frame={beat.frames},"
                     f"setpts=PTS-STARTPTS[b{index}]")
        order.append(f"b{index}")
        if fade_out:
            lines.append(f"[s{index}t]trim=start_frame={beat.frames},setpts=PTS-STARTPTS"
                         f"[t{index}]")
    lines.append("".join(f"[{label}]" for label in order)
                 + f"concat=n={len(order)}:v=1:a=0[joined]")
    return lines, "joined"


def media_input(beat: Beat, frames: int, fps: int) -> list[str]:
    """The ffmpeg input options and `-i` for one pictured beat that supplies `frames` frames."""
    assert beat.shot is not None
    assert beat.file is not None
    path = f"file:{Path(beat.file).resolve()}"
    if beat.still:
        return [*beat.input_args, "-i", path]
    seconds = frames / fps + 0.2
    return [*beat.input_args, "-stream_loop", "-1", "-ss", f"{beat.shot.start:.3f}",
            "-t", f"{seconds:.3f}", "-an", "-sn", "-dn", "-i", path]


def aspect_crop(width: int, height: int, x: float, y: float) -> str:
    """crop= the largest region of the picture with the frame's shape, centred near (x, y)."""
    options = {
        "w": f"min(iw,ih*{width}/{height})", "h": f"min(ih,iw*{height}/{width})",
        "x": f"max(0,min(iw-ow,iw*{x:.4f}-ow/2))", "y": f"max(0,min(ih-oh,ih*{y:.4f}-oh/2))",
    }
    return "crop=" + ":".join(f"{key}={filter_escape(value)}" for key, value in options.items())


def clip_chain(beat: Beat, stream: str, frames: int, size: tuple[int, int], fps: int) -> str:
    """A clip trimmed to `frames`, at the output rate, cropped around its crop point, scaled."""
    assert beat.shot is not None
    width, height = size
    crop = beat.shot.crop
    return (f"[{stream}]fps={fps},{aspect_crop(width, height, crop.x, crop.y)},"
            f"scale={width}:{height}:flags=bilinear,setsar=1,format=yuv420p,"
            f"trim=end_frame={frames},setpts=PTS-STARTPTS")


def still_chain(
    beat: Beat, stream: str, frames: int, size: tuple[int, int], fps: int, *, index: int
) -> str:
    """A still scaled once a little larger than the frame, with a window sliding across it at
    `PAN_SPEED`, centred on the middle of the beat. Beats alternate direction (down and to the
    right, then up and to the left)."""
    assert beat.shot is not None
    width, height = size
    big_w = _even(round(width * KEN_BURNS_ZOOM))
    big_h = _even(round(height * KEN_BURNS_ZOOM))
    crop = beat.shot.crop
    middle = frames / fps / 2
    sign = 1 if index % 2 == 0 else -1
    pan = {"w": str(width), "h": str(height)}
    for axis, slack, side in (("x", big_w - width, width), ("y", big_h - height, height)):
        speed = sign * PAN_SPEED * side
        pan[axis] = f"max(0,min({slack},{slack / 2:.1f}+{speed:.2f}*(t-{middle:.3f})))"
    window = "crop=" + ":".join(f"{key}={filter_escape(value)}" for key, value in pan.items())
    return (f"[{stream}]trim=end_frame=1,{aspect_crop(width, height, crop.x, crop.y)},"
            f"scale={big_w}:{big_h}:flags=bicubic,setsar=1,format=yuv420p,"
            f"loop=loop={frames}:size=1:start=0,settb=1/{fps},setpts=N,fps={fps},"
            f"trim=end_frame={frames},{window}")


def shade_source(width: int, height: int) -> str:
    """One RGBA frame: transparent at `SHADE_TOP`, darkening to `SHADE_ALPHA` and staying."""
    top = round(height * SHADE_TOP)
    strip = height - top
    ramp = SHADE_RAMP / (1 - SHADE_TOP)
    alpha = f"{255 * SHADE_ALPHA:.0f}*min(1,Y/(H*{ramp:.4f}))"
    return (f"color=c=black:s=2x{max(2, strip // 4)}:r=1:d=1,format=rgba,"
            f"geq=r=0:g=0:b=0:a={filter_escape(alpha)},scale={width}:{strip}:flags=bilinear")


def shade_top(height: int) -> int:
    return round(height * SHADE_TOP)


def _even(value: int) -> int:
    return max(2, value - value % 2)
