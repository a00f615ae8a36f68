"""Preview proxies: a draft's clips cut to the frame's shape and made small ahead of time.

The quick preview is decode-bound: stock clips come at 1080p or more with a high bit rate, and
decoding them costs the same whatever size the preview is. So when a draft's pictures are
fetched (the prefetch job, while the user is still reading the draft), each clip gets a proxy:
its first seconds (from 0 to the shot's in-point plus a few beats, so `Shot.start` still means
the same moment), cropped around `Shot.crop` to the frame's shape, scaled to the preview's
frame size and rate, without sound. The preview render then reads the proxy where one exists;
cropping it again is a no-op because it has the frame's shape already. The full-quality render
always reads the original. Stills need none: they are decoded once per render anyway.

Proxies live in one folder (the media cache's `proxies/`), named by a digest of the original
file's name (the cache names files by content), the crop, the span, the size and the rate.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from pipeline.ffmpeg import run_ffmpeg
from pipeline.footage import aspect_crop
from pipeline.media.model import MediaKind, Shot
from pipeline.media.vetting import input_args_for
from pipeline.render import ENCODINGS, Profile, frame_size
from pipeline.script import Script

log = logging.getLogger(__name__)

PROXY_VERSION = "1"
"""Bump when the way proxies are made changes, so old ones are not used."""
MIN_SECONDS = 10.0
"""A proxy holds at least this much of the clip after its in-point (beats loop beyond it)."""
BEATS = 3
"""...or this many times the shot's planned time on screen, when that is longer."""


def proxy_path(folder: Path, file: Path, shot: Shot, script: Script) -> Path:
    """Where the proxy of `file` for `shot` in `script`'s frame shape lives."""
    width, height = frame_size(script.aspect, Profile.PREVIEW)
    fps = ENCODINGS[Profile.PREVIEW].fps
    recipe = (f"{PROXY_VERSION}|{Path(file).name}|{shot.crop.x:.4f}|{shot.crop.y:.4f}|"
              f"{_length(shot):.3f}|{width}x{height}|{fps}")
    return Path(folder) / f"{hashlib.sha256(recipe.encode()).hexdigest()[:32]}.mp4"


def make_proxies(folder: Path, script: Script, files: Mapping[str, Path]) -> dict[str, Path]:
    """A proxy for every clip of `script` in `files` that lacks one; returns every proxy by
    key. A clip that fails to convert is logged and left to the original."""
    made: dict[str, Path] = {}
    for key, shot in _clips(script, files).items():
        target = proxy_path(folder, files[key], shot, script)
        try:
            made[key] = target if target.exists() else _make(files[key], shot, script, target)
        except Exception:
            log.warning("no preview proxy for %s; the preview reads the original", key,
                        exc_info=True)
    return made


def with_proxies(folder: Path, script: Script, files: Mapping[str, Path]) -> dict[str, Path]:
    """`files` with each clip replaced by its proxy where one was made already."""
    chosen = dict(files)
    for key, shot in _clips(script, files).items():
        proxy = proxy_path(folder, files[key], shot, script)
        if proxy.exists():
            chosen[key] = proxy
    return chosen


def _clips(script: Script, files: Mapping[str, Path]) -> dict[str, Shot]:
    """The clip shots that have a file, by key; a key shown twice with different crops or
    in-points gets no proxy (one file per key reaches the render)."""
    shots: dict[str, list[Shot]] = {}
    for scene in script.scenes:
        for shot in scene.shots:
            if shot.media.kind is MediaKind.VIDEO and shot.media.key in files:
                shots.setdefault(shot.media.key, []).append(shot)
    return {key: found[0] for key, found in shots.items()
            if len({(s.crop, s.start) for s in found}) == 1}


def _length(shot: Shot) -> float:
    return shot.start + max(MIN_SECONDS, BEATS * shot.seconds)


def _make(file: Path, shot: Shot, script: Script, target: Path) -> Path:
    width, height = frame_size(script.aspect, Profile.PREVIEW)
    fps = ENCODINGS[Profile.PREVIEW].fps
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.stem}.{os.getpid()}.mp4")
    picture = (f"{aspect_crop(width, height, shot.crop.x, shot.crop.y)},"
               f"scale={width}:{height}:flags=bilinear,setsar=1,fps={fps},format=yuv420p")
    args = [*input_args_for(file), "-t", f"{_length(shot):.3f}", "-an", "-sn", "-dn",
            "-i", f"file:{Path(file).resolve()}", "-vf", picture, "-c:v", "libx264",
            "-preset", "ultrafast", "-crf", "24", "-g", str(fps), "-movflags", "+faststart",
            "-y", str(temporary)]
    try:
        run_ffmpeg(args, duration=_length(shot))
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)
    return target
