"""Vetting a media file before anything uses it: what it is, and whether it is safe and small.

`vet(path)` decides what a local file is from its first bytes (MP4/MOV, Matroska/WebM, GIF,
PNG, JPEG, WebP; nothing else), checks its size before reading it and an image's declared
dimensions before decoding it, then opens it with PyAV restricted to that one demuxer and the
`file` protocol, checks dimensions, duration and streams, and decodes the first frame. It
returns `MediaInfo` or raises `MediaRefused` with one sentence a user can read.

Nothing a user sends can make the reader fetch a URL or read another file: an HLS playlist, a
concat list or an SDP is never given to a demuxer that would follow it, because the demuxer is
chosen here from the file's magic bytes, never probed by FFmpeg. `safe_input_args(info)` gives
the same restriction to the ffmpeg command line (`-protocol_whitelist file -f <demuxer>`), and
`safe_input(info, path)` adds `-i file:<absolute path>` so the name can never read as a URL;
`input_args_for(path)` gives the same options from the file's first bytes alone.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from pydantic import BaseModel, ConfigDict

from pipeline.media.model import MediaKind, MediaRefused

if TYPE_CHECKING:
    import av

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What a file may be at most. Defaults suit a phone's clip or photo."""

    max_bytes: int = 200 * MB
    max_seconds: float = 600.0
    max_pixels: int = 40_000_000
    max_side: int = 8192
    open_timeout: float = 10.0


DEFAULT_LIMITS = Limits()


class MediaInfo(BaseModel):
    """What `vet` found: a usable picture or clip and the facts the renderer needs."""

    model_config = ConfigDict(frozen=True)

    kind: MediaKind
    """VIDEO for clips and animated GIFs, PHOTO for stills."""
    demuxer: str
    """The one FFmpeg demuxer that reads it: mov, matroska, gif, png_pipe, jpeg_pipe, webp_pipe."""
    codec: str
    """The video decoder (h264, hevc, vp9, gif, png, mjpeg, webp…)."""
    width: int
    height: int
    duration: float | None
    """Seconds for clips and animated GIFs; None for stills."""
    has_audio: bool
    size_bytes: int

    @property
    def extension(self) -> str:
        """The file name ending that matches the content (stores name files with it)."""
        if self.demuxer == "mov" and self.kind is MediaKind.PHOTO:
            return "avif"
        return _EXTENSIONS[self.demuxer]


_EXTENSIONS = {
    "mov": "mp4", "matroska": "mkv", "gif": "gif",
    "png_pipe": "png", "jpeg_pipe": "jpg", "webp_pipe": "webp",
}
_STILL_DEMUXERS = {"png_pipe", "jpeg_pipe", "webp_pipe"}
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png_pipe"), (b"\xff\xd8\xff", "jpeg_pipe"), (b"GIF87a", "gif"),
    (b"GIF89a", "gif"), (b"\x1a\x45\xdf\xa3", "matroska"),
)
_MOV_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"}
_HEAD_BYTES = 64
_JPEG_SCAN_BYTES = 4 * MB
"""How far into a JPEG to look for the frame header (EXIF and ICC blocks come first)."""
_LIST_SIGNS = (b"#extm3u", b"ffconcat", b"file ", b"file'", b"v=0", b"<?xml", b"<mpd",
               b"[playlist]", b"#extinf")

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
"""HEIF photos: FFmpeg reads their tiled grids as separate pictures, so they are not used."""
_HEIF = "HEIC photos are not supported yet; send it as a JPEG (phones can share it that way)."
_NOT_MEDIA = "That file is not a photo, GIF or video I can use."
_LIST = ("That file is a playlist or a list of other files, not a photo or a video; "
         "send the picture or the clip itself.")
_TEXT = "That file is text, not a photo or a video."
_DAMAGED = "That file looks like a video or photo but is incomplete or damaged."


def vet(path: Path, *, limits: Limits = DEFAULT_LIMITS) -> MediaInfo:
    """What `path` is, or `MediaRefused` with the reason in one sentence."""
    path = Path(path)
    size = _size(path, limits)
    with path.open("rb") as file:
        head = file.read(_HEAD_BYTES)
        demuxer = _sniff(head)
        if demuxer is None:
            raise MediaRefused(_unknown(head))
        if demuxer == "mov" and head[8:12] in _HEIF_BRANDS:
            raise MediaRefused(_HEIF)
        declared = _declared_size(demuxer, head, file)
    if declared is not None:
        _check_dimensions(*declared, limits)
    return _read(path, demuxer, size, limits)


def safe_input_args(info: MediaInfo) -> list[str]:
    """ffmpeg options to put before `-i` for a vetted file: the file protocol and its demuxer.

    For stills (a one-frame GIF too) the demuxer is image2 without patterns, so `-loop 1`
    works, and the decoder is named, so the file name's ending does not matter. An AVIF still
    keeps `-f mov` (repeat it with the `loop` filter)."""
    args = ["-protocol_whitelist", "file"]
    if info.kind is MediaKind.PHOTO and info.demuxer != "mov":
        return [*args, "-f", "image2", "-pattern_type", "none", "-c:v", info.codec]
    if info.demuxer == "mov":
        return [*args, "-f", "mov", "-enable_drefs", "0"]
    return [*args, "-f", info.demuxer]


def input_args_for(path: Path) -> list[str]:
    """`-protocol_whitelist file -f <demuxer>` for a file vetted earlier, from its first bytes
    only (no decoding): for a renderer that has the path but not the `MediaInfo`.

    Stills get their pipe demuxer (png_pipe, jpeg_pipe, webp_pipe: one picture, repeat it with
    the `loop` filter); a GIF gets the gif demuxer. `MediaRefused` if the file is none of the
    allowed kinds (it was changed, or never vetted)."""
    with Path(path).open("rb") as file:
        demuxer = _sniff(file.read(_HEAD_BYTES))
    if demuxer is None:
        raise MediaRefused(_NOT_MEDIA)
    extra = ["-enable_drefs", "0"] if demuxer == "mov" else []
    return ["-protocol_whitelist", "file", "-f", demuxer, *extra]


def safe_input(info: MediaInfo, path: Path) -> list[str]:
    """`safe_input_args(info)` followed by `-i file:<absolute path>`."""
    return [*safe_input_args(info), "-i", f"file:{Path(path).resolve()}"]


def _size(path: Path, limits: Limits) -> int:
    try:
        stat = path.stat()
    except OSError as exc:
        raise MediaRefused("That file could not be read.") from exc
    if not path.is_file():
        raise MediaRefused("That is not a file.")
    if stat.st_size == 0:
        raise MediaRefused("That file is empty.")
    if stat.st_size > limits.max_bytes:
        raise MediaRefused(f"That file is {describe_size(stat.st_size)}; the most I take is "
                           f"{describe_size(limits.max_bytes)}.")
    return stat.st_size


def describe_size(size: int) -> str:
    """A size in words a user reads: "2.0 GB", "200 MB", "1.5 MB"."""
    if size >= 1024 * MB:
        return f"{size / (1024 * MB):.1f} GB"
    return f"{max(size / MB, 0.1):.1f} MB" if size % MB else f"{size // MB} MB"


def _sniff(head: bytes) -> str | None:
    """The demuxer for these first bytes, or None when they are none of the allowed kinds."""
    for magic, demuxer in _MAGIC:
        if head.startswith(magic):
            return demuxer
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp_pipe"
    if len(head) >= 8 and head[4:8] in _MOV_BOXES:
        return "mov"
    return None


def _unknown(head: bytes) -> str:
    """The sentence for a file that is none of the allowed kinds."""
    lowered = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if any(lowered.startswith(sign) for sign in _LIST_SIGNS):
        return _LIST
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            return _NOT_MEDIA
        return _TEXT
    return _NOT_MEDIA


def _declared_size(demuxer: str, head: bytes, file: BinaryIO) -> tuple[int, int] | None:
    """Width and height an image's header declares, read before any decoding."""
    if demuxer == "png_pipe" and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return int(width), int(height)
    if demuxer == "gif":
        width, height = struct.unpack("<HH", head[6:10])
        return int(width), int(height)
    if demuxer == "webp_pipe":
        return _webp_size(head)
    if demuxer == "jpeg_pipe":
        file.seek(0)
        return _jpeg_size(file.read(_JPEG_SCAN_BYTES))
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8 " and len(head) >= 30:
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(head) >= 25:
        (bits,) = struct.unpack("<I", head[21:25])
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8X" and len(head) >= 30:
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return width, height
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """The frame header's size: walk the marker segments up to the first SOFn."""
    offset = 2
    while offset + 9 <= len(data):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        if marker == 0xFF:
            offset += 1
            continue
        (length,) = struct.unpack(">H", data[offset + 2:offset + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[offset + 5:offset + 9])
            return int(width), int(height)
        offset += 2 + length
    return None


def _check_dimensions(width: int, height: int, limits: Limits) -> None:
    if width <= 0 or height <= 0:
        raise MediaRefused(_DAMAGED)
    if max(width, height) > limits.max_side or width * height > limits.max_pixels:
        raise MediaRefused(
            f"That picture is {width}×{height}; the most I take is {limits.max_side} pixels a "
            f"side and {limits.max_pixels // 1_000_000} megapixels."
        )


def _read(path: Path, demuxer: str, size: int, limits: Limits) -> MediaInfo:
    """Open with only `demuxer` and the file protocol; check streams, length, first frame."""
    import av  # noqa: PLC0415 (PyAV, ~16 MB: imported when a file is read, not at start)
    options = {"protocol_whitelist": "file", "max_pixels": str(limits.max_pixels)}
    if demuxer == "mov":
        options["enable_drefs"] = "0"
    try:
        container = av.open(f"file:{path.resolve()}", format=demuxer, options=options,
                            timeout=limits.open_timeout)
    except (OSError, av.FFmpegError) as exc:
        raise MediaRefused(_DAMAGED) from exc
    with container:
        stream = _picture_stream(container)
        context = stream.codec_context
        _check_dimensions(context.width, context.height, limits)
        kind, duration = _kind_and_duration(container, stream, demuxer)
        if duration is not None and duration > limits.max_seconds:
            raise MediaRefused(
                f"That clip is {_minutes(duration)} long; the most I take is "
                f"{_minutes(limits.max_seconds)}."
            )
        context.options = {"max_pixels": str(limits.max_pixels)}  # the decoder's own bound
        width, height = _first_frame(container, stream)
        return MediaInfo(kind=kind, demuxer=demuxer, codec=context.name, width=width,
                         height=height, duration=duration,
                         has_audio=bool(container.streams.audio), size_bytes=size)


def _picture_stream(container: av.container.InputContainer) -> av.VideoStream:
    """The first moving-picture stream: cover art on a song (an attached picture) is not one."""
    import av  # noqa: PLC0415
    for stream in container.streams.video:
        if not int(stream.disposition) & int(av.stream.Disposition.attached_pic):
            return stream
    raise MediaRefused("That file has no picture in it (sound only, or nothing).")


def _kind_and_duration(
    container: av.container.InputContainer, stream: av.VideoStream, demuxer: str
) -> tuple[MediaKind, float | None]:
    if demuxer in _STILL_DEMUXERS:
        return MediaKind.PHOTO, None
    if demuxer == "gif" and _gif_frames(container, stream) < 2:
        return MediaKind.PHOTO, None
    duration = _duration(container, stream)
    if demuxer == "mov" and duration is None and stream.frames <= 1:
        return MediaKind.PHOTO, None  # an AVIF still
    if duration is None:
        raise MediaRefused("I can't tell how long that clip is, so I can't use it.")
    return MediaKind.VIDEO, duration


def _gif_frames(container: av.container.InputContainer, stream: av.VideoStream) -> int:
    """How many frames a GIF has, counting at most two (demuxing only, no decoding)."""
    import av  # noqa: PLC0415
    count = 0
    try:
        for packet in container.demux(stream):
            if packet.size:
                count += 1
            if count >= 2:
                break
    except av.FFmpegError as exc:
        raise MediaRefused(_DAMAGED) from exc
    container.seek(0)
    return count


def _duration(container: av.container.InputContainer, stream: av.VideoStream) -> float | None:
    import av  # noqa: PLC0415
    if container.duration and container.duration > 0:
        return float(container.duration / av.time_base)
    if stream.duration and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None


def _first_frame(container: av.container.InputContainer, stream: av.VideoStream) -> tuple[int, int]:
    """Decode the first frame, proving the file is whole enough to use; its size."""
    import av  # noqa: PLC0415
    try:
        for frame in container.decode(stream):
            return frame.width, frame.height
    except (av.FFmpegError, MemoryError) as exc:
        raise MediaRefused(_DAMAGED) from exc
    raise MediaRefused(_DAMAGED)


def _minutes(seconds: float) -> str:
    if seconds < 60:
        return f"{math.ceil(seconds)} seconds"
    minutes = seconds / 60
    return f"{minutes:.0f} minutes" if minutes >= 2 else f"{minutes:.1f} minutes"
