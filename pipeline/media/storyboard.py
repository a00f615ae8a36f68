"""The storyboard as people see it: a line per shot, the licence credits, and a contact sheet.

`storyboard_lines` is what the draft's text and the console show (scene number, source, what
the shot shows, its credit). `credits` is what the licences ask for, once each, for the
published sidecar and the post's description. `contact_sheet` draws one small image with a
tile per shot, in screen order, numbered by scene: each tile is a frame of the shot's file or
thumbnail (read through `pipeline.media.vetting`, the file protocol only), a drawn gradient
for a built-in background, a dark tile where no picture could be had. `thumbnails` gets the
pictures for it: the cached or uploaded file when there is one, else the provider's thumbnail
(size-bounded, vetted), fetched concurrently. How sources and scenes are named in sentences
(`display_name`, `what_it_is`, `scenes_phrase`) lives here too, for the shot chooser's notes.
"""

from __future__ import annotations

import hashlib
import logging
import math
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import font_lato

from pipeline.errors import PipelineError
from pipeline.ffmpeg import filter_escape, run_ffmpeg
from pipeline.ffmpeg_check import FfmpegNeeds, FilterNeed
from pipeline.media import web
from pipeline.media.backgrounds import DEFAULT_TEXT, background, colours, is_background, still
from pipeline.media.model import Candidate, MediaKind, Shot
from pipeline.media.vetting import MediaInfo, safe_input, vet
from pipeline.script import Aspect, Script
from pipeline.writers.topic import clip

log = logging.getLogger(__name__)

SHEET_WIDTH = 1280
TILE_WIDTHS = {Aspect.VERTICAL: 160, Aspect.LANDSCAPE: 256, Aspect.SQUARE: 200}
THUMBNAIL_BYTES = 5_000_000
THUMBNAIL_THREADS = 6
MISSING = ("#2b2b2b", "#2b2b2b")
"""A tile whose picture could not be had."""
LABEL_FONT = "Lato-Black.ttf"
SHEET_NEEDS = FfmpegNeeds(filters=(
    FilterNeed("trim", ("end_frame",)),
    FilterNeed("scale", ("force_original_aspect_ratio",), positional=2),
    FilterNeed("crop", positional=2),
    FilterNeed("setsar", positional=1),
    FilterNeed("format", positional=1),
    FilterNeed("drawtext", ("fontfile", "text", "fontsize", "fontcolor", "borderw",
                            "bordercolor", "x", "y")),
    FilterNeed("xstack", ("inputs", "layout")),
))


SOURCE_NAMES = {"pexels": "Pexels", "pixabay": "Pixabay", "generated": "The image generator",
                "upload": "Your uploads", "background": "The built-in backgrounds"}


def display_name(source: str) -> str:
    return SOURCE_NAMES.get(source, source.capitalize())


def what_it_is(candidate: Candidate) -> str:
    """How a note names a picture's kind and origin: "Pixabay footage", "your photos"."""
    if candidate.kind == MediaKind.BACKGROUND:
        return "a coloured background"
    if candidate.source == "upload":
        return "your own media"
    if candidate.source == "generated":
        return "a generated image"
    noun = "footage" if candidate.kind == MediaKind.VIDEO else "photos"
    return f"{display_name(candidate.source)} {noun}"


def scenes_phrase(scenes: Sequence[int]) -> str:
    """1-based scene numbers in words: "scene 2", "scenes 2 and 3", "scenes 1, 2 and 4"."""
    numbers = [str(s + 1) for s in sorted(set(scenes))]
    if len(numbers) == 1:
        return f"scene {numbers[0]}"
    return f"scenes {', '.join(numbers[:-1])} and {numbers[-1]}"


def storyboard_lines(script: Script) -> list[str]:
    """One line per shot: "Scene 2 · Pexels footage · octopus swimming · Video by Jane Doe"."""
    lines: list[str] = []
    for number, scene in enumerate(script.scenes, start=1):
        shots = scene.shots or []
        if not shots:
            lines.append(f"Scene {number} · coloured background")
        for shot in shots:
            parts = [f"Scene {number}", _origin(shot.media), _shows(shot)]
            if shot.media.credit:
                parts.append(shot.media.credit)
            lines.append(" · ".join(part for part in parts if part))
    return lines


def credits(script: Script) -> list[str]:
    """The attribution each picture's licence asks for, once each, in screen order."""
    found: dict[str, None] = {}
    for scene in script.scenes:
        for shot in scene.shots:
            if shot.media.credit and not is_background(shot.media):
                found.setdefault(shot.media.credit.strip(), None)
    return list(found)


def thumbnails(script: Script, into: Path, files: Mapping[str, Path] | None = None,
               *, timeout: float = 2.5) -> dict[str, Path]:
    """A picture per shot's key: its file from `files` (cache, uploads) when given, else its
    provider thumbnail downloaded into `into`. Shots with neither are left out."""
    known = dict(files or {})
    wanted = {shot.media.key: shot.media for shot in _shots(script)
              if not is_background(shot.media) and shot.media.key not in known
              and shot.media.thumbnail_url}
    if wanted:
        into.mkdir(parents=True, exist_ok=True)
        pool = ThreadPoolExecutor(max_workers=min(THUMBNAIL_THREADS, len(wanted)))
        try:
            futures = {key: pool.submit(_thumbnail, media, into) for key, media in wanted.items()}
            for key, future in futures.items():
                try:
                    known[key] = future.result(timeout=timeout)
                except (PipelineError, TimeoutError) as error:
                    log.info("no thumbnail for %s: %s", key, error)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    return known


def contact_sheet(script: Script, files_or_thumbnails: Mapping[str, Path], out: Path,
                  *, width: int = SHEET_WIDTH) -> Path:
    """One image (JPEG or PNG by `out`'s ending) with a numbered tile per shot, in order."""
    tiles = _tiles(script)
    tile_w = min(TILE_WIDTHS[Aspect(script.aspect)], width)
    tile_h = _even(tile_w * _ratio(script.aspect))
    columns = max(1, min(len(tiles), width // tile_w))
    rows = math.ceil(len(tiles) / columns)
    with tempfile.TemporaryDirectory(prefix="sheet-") as scratch:
        inputs = [_tile_input(media, files_or_thumbnails, Path(scratch), index)
                  for index, (_, media) in enumerate(tiles)]
        filler = still(("#000000", "#000000"), Path(scratch) / "filler.png", tile_w, tile_h)
        inputs += [_safe(filler)] * (columns * rows - len(tiles))
        labels = [str(scene + 1) for scene, _ in tiles]
        graph = _graph(labels, len(inputs), columns, tile_w, tile_h)
        out.parent.mkdir(parents=True, exist_ok=True)
        encoder = ["-c:v", "png"] if out.suffix.lower() == ".png" else ["-q:v", "4"]
        run_ffmpeg([*[arg for args in inputs for arg in args], "-filter_complex", graph,
                    "-map", "[sheet]", "-frames:v", "1", *encoder, "-update", "1", "-y",
                    str(out)], duration=0.04, needs=SHEET_NEEDS)
    return out


def _graph(labels: Sequence[str], count: int, columns: int, tile_w: int, tile_h: int) -> str:
    size = max(14, tile_h // 9)
    font = filter_escape(str(Path(font_lato.font_directory) / LABEL_FONT))
    chains = []
    for index in range(count):
        chain = (f"[{index}:v]trim=end_frame=1,scale={tile_w}:{tile_h}:"
                 f"force_original_aspect_ratio=increase,crop={tile_w}:{tile_h},setsar=1,"
                 "format=yuv420p")
        if index < len(labels):
            chain += (f",drawtext=fontfile={font}:text={filter_escape(labels[index])}:"
                      f"fontsize={size}:fontcolor=white:borderw={max(2, size // 8)}:"
                      f"bordercolor=black:x={size // 2}:y={size // 3}")
        chains.append(f"{chain}[t{index}]")
    if count == 1:
        return ";".join(chains).replace("[t0]", "[sheet]")
    layout = "|".join(f"{(i % columns) * tile_w}_{(i // columns) * tile_h}"
                      for i in range(count))
    pads = "".join(f"[t{i}]" for i in range(count))
    return ";".join([*chains, f"{pads}xstack=inputs={count}:layout={layout}[sheet]"])


def _tiles(script: Script) -> list[tuple[int, Candidate]]:
    """(scene index, picture) per tile in screen order; a scene without shots shows its
    background."""
    return [(index, media) for index, scene in enumerate(script.scenes)
            for media in ([shot.media for shot in scene.shots] or [background(scene.colors)])]


def _tile_input(media: Candidate, pictures: Mapping[str, Path], scratch: Path,
                index: int) -> list[str]:
    """ffmpeg input arguments for one tile's picture (vetted; a drawn still otherwise)."""
    if is_background(media):
        return _safe(still(colours(media), scratch / f"bg{index}.png"))
    path = pictures.get(media.key)
    if path is not None:
        try:
            info = vet(path)
        except PipelineError as error:
            log.info("tile %d: %s", index, error)
        else:
            return [*_seek(info), *safe_input(info, path)]
    return _safe(still(MISSING, scratch / f"missing{index}.png"))


def _seek(info: MediaInfo) -> list[str]:
    """Half a second into a clip (its first frame is often a fade from black)."""
    if info.kind == MediaKind.VIDEO and (info.duration or 0) > 1.5 and info.demuxer != "gif":
        return ["-ss", "0.5"]
    return []


def _safe(path: Path) -> list[str]:
    return safe_input(vet(path), path)


def _thumbnail(media: Candidate, into: Path) -> Path:
    data = web.fetch_bytes(media.thumbnail_url, THUMBNAIL_BYTES, label=display_name(media.source))
    path = into / f"thumb-{hashlib.sha256(media.key.encode()).hexdigest()[:20]}"
    path.write_bytes(data)
    vet(path)
    return path


def _shots(script: Script) -> list[Shot]:
    return [shot for scene in script.scenes for shot in scene.shots]


def _origin(media: Candidate) -> str:
    if is_background(media):
        return "coloured background"
    if media.source == "upload":
        return "your " + ("clip" if media.kind == MediaKind.VIDEO else "photo")
    if media.source == "generated":
        return "generated image"
    kind = "video" if media.kind == MediaKind.VIDEO else "photo"
    return f"{display_name(media.source)} {kind}"


def _shows(shot: Shot) -> str:
    if is_background(shot.media) and shot.media.text == DEFAULT_TEXT:
        return ""
    text = " ".join((shot.media.text or shot.query).split())
    return clip(text, 60) if text else ""


def _ratio(aspect: Aspect) -> float:
    return {Aspect.VERTICAL: 16 / 9, Aspect.LANDSCAPE: 9 / 16, Aspect.SQUARE: 1.0}[Aspect(aspect)]


def _even(value: float) -> int:
    whole = round(value)
    return max(2, whole - whole % 2)
