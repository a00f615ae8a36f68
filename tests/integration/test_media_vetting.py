"""Vetting real media made by ffmpeg here, and hostile files made here: refused, nothing fetched."""

from __future__ import annotations

import http.server
import struct
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from pipeline.errors import PermanentError
from pipeline.ffmpeg import ffmpeg_exe, run_ffmpeg
from pipeline.media.model import MediaKind, MediaRefused
from pipeline.media.vetting import Limits, MediaInfo, input_args_for, safe_input, vet
from pipeline.probe import frame_at, probe

WIDTH, HEIGHT = 320, 568
RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 255, 0)


def make_clip(path: Path, colour: str = "red", seconds: float = 2.0, *, audio: bool = True,
              size: str = f"{WIDTH}x{HEIGHT}") -> Path:
    """A small H.264 (+AAC) clip of one colour."""
    inputs = ["-f", "lavfi", "-i", f"color=c={colour}:s={size}:d={seconds}:r=25"]
    if audio:
        inputs += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    codecs = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    codecs += ["-c:a", "aac", "-shortest"] if audio else []
    run_ffmpeg(["-y", *inputs, *codecs, str(path)], duration=seconds)
    return path


def make_still(path: Path, colour: str = "blue", size: str = f"{WIDTH}x{HEIGHT}") -> Path:
    """A one-frame picture; the format follows `path`'s ending (png, jpg, webp, gif)."""
    run_ffmpeg(["-y", "-f", "lavfi", "-i", f"color=c={colour}:s={size}", "-frames:v", "1",
                "-update", "1", str(path)], duration=0.04)
    return path


def make_gif(path: Path, seconds: float = 1.0) -> Path:
    """An animated GIF: a moving test pattern at 10 fps."""
    run_ffmpeg(["-y", "-f", "lavfi", "-i", f"testsrc2=s=160x120:d={seconds}:r=10", str(path)],
               duration=seconds)
    return path


class RequestLog(http.server.SimpleHTTPRequestHandler):
    """Serves a folder and records every request path on the server object."""

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("vetting")
    return {
        "clip": make_clip(folder / "clip.mp4", "red"),
        "mkv": make_clip(folder / "clip.mkv", "lime", audio=False),
        "png": make_still(folder / "still.png", "blue"),
        "jpg": make_still(folder / "still.jpg", "blue"),
        "webp": make_still(folder / "still.webp", "blue"),
        "gif": make_gif(folder / "anim.gif"),
        "gif1": make_still(folder / "one.gif", "blue"),
    }


@pytest.fixture
def server(tmp_path: Path) -> Iterator[http.server.ThreadingHTTPServer]:
    """A local HTTP server serving `tmp_path`; `server.requests` lists what it was asked for."""
    handler = lambda *args: RequestLog(*args, directory=str(tmp_path))  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _url(server: http.server.ThreadingHTTPServer, name: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/{name}"


def _refused(path: Path, limits: Limits | None = None) -> str:
    with pytest.raises(MediaRefused) as refused:
        vet(path) if limits is None else vet(path, limits=limits)
    sentence = str(refused.value)
    assert sentence.endswith(".")
    assert "\n" not in sentence
    assert sentence[0].isupper()
    return sentence


def _mean_colour(path: Path, seconds: float) -> np.ndarray:
    return np.asarray(frame_at(path, seconds).reshape(-1, 3).mean(axis=0))


# --- what is accepted, and the facts it reports

def test_a_clip_is_a_video_with_its_facts(media: dict[str, Path]) -> None:
    info = vet(media["clip"])
    assert (info.kind, info.demuxer, info.codec) == (MediaKind.VIDEO, "mov", "h264")
    assert (info.width, info.height, info.has_audio) == (WIDTH, HEIGHT, True)
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert info.size_bytes == media["clip"].stat().st_size
    assert info.extension == "mp4"


def test_matroska_without_sound(media: dict[str, Path]) -> None:
    info = vet(media["mkv"])
    assert (info.kind, info.demuxer, info.has_audio) == (MediaKind.VIDEO, "matroska", False)
    assert info.duration == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize(("name", "demuxer", "codec"), [
    ("png", "png_pipe", "png"), ("jpg", "jpeg_pipe", "mjpeg"), ("webp", "webp_pipe", "webp"),
])
def test_stills_are_photos(media: dict[str, Path], name: str, demuxer: str, codec: str) -> None:
    info = vet(media[name])
    assert (info.kind, info.demuxer, info.codec) == (MediaKind.PHOTO, demuxer, codec)
    assert (info.width, info.height, info.duration, info.has_audio) == (WIDTH, HEIGHT, None, False)


def test_an_animated_gif_is_a_video_and_a_one_frame_gif_a_photo(media: dict[str, Path]) -> None:
    animated = vet(media["gif"])
    assert (animated.kind, animated.demuxer, animated.width, animated.height) == (
        MediaKind.VIDEO, "gif", 160, 120)
    assert animated.duration == pytest.approx(1.0, abs=0.15)
    still = vet(media["gif1"])
    assert (still.kind, still.duration) == (MediaKind.PHOTO, None)


def test_an_avif_still_is_a_photo_read_by_the_mov_demuxer(tmp_path: Path) -> None:
    encoders = subprocess.run([ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True,
                              text=True, check=True).stdout
    if "libaom-av1" not in encoders:
        pytest.skip("this ffmpeg cannot write AVIF (no libaom-av1)")
    avif = tmp_path / "red.avif"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "color=c=red:s=320x240", "-frames:v", "1",
                "-c:v", "libaom-av1", "-still-picture", "1", str(avif)], duration=0.04)
    info = vet(avif)
    assert (info.kind, info.demuxer, info.duration) == (MediaKind.PHOTO, "mov", None)
    assert (info.width, info.height, info.extension) == (320, 240, "avif")
    out = tmp_path / "out.mp4"
    run_ffmpeg([*safe_input(info, avif), "-vf", "loop=loop=-1:size=1,fps=25", "-t", "1",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(out)],
               duration=1.0)
    assert np.abs(_mean_colour(out, 0.5) - np.array(RED)).max() < 30


def test_heic_is_refused_with_a_way_out(media: dict[str, Path], tmp_path: Path) -> None:
    heic = tmp_path / "IMG_0001.HEIC"
    data = bytearray(media["clip"].read_bytes())
    data[8:12] = b"heic"  # the major brand an iPhone photo carries
    heic.write_bytes(bytes(data))
    assert "send it as a JPEG" in _refused(heic)


@pytest.mark.parametrize(("name", "colour", "loop"), [
    ("clip", RED, ["-stream_loop", "-1"]), ("mkv", GREEN, []),
    ("png", BLUE, ["-loop", "1", "-framerate", "25"]),
    ("jpg", BLUE, ["-loop", "1", "-framerate", "25"]),
    ("webp", BLUE, ["-loop", "1", "-framerate", "25"]),
    ("gif1", BLUE, ["-loop", "1", "-framerate", "25"]),
])
def test_ffmpeg_reads_each_kind_through_the_safe_input_arguments(
    media: dict[str, Path], tmp_path: Path, name: str, colour: tuple[int, int, int],
    loop: list[str],
) -> None:
    """What the renderer does: its own input options, then safe_input(info, path)."""
    info = vet(media[name])
    out = tmp_path / "out.mp4"
    run_ffmpeg([*loop, *safe_input(info, media[name]), "-t", "1.5", "-an", "-c:v", "libx264",
                "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(out)], duration=1.5)
    facts = probe(out)
    assert (facts.video_codec, facts.width, facts.height) == ("h264", info.width, info.height)
    assert facts.duration == pytest.approx(1.5, abs=0.1)
    assert np.abs(_mean_colour(out, 1.0) - np.array(colour)).max() < 30


@pytest.mark.parametrize(("name", "colour"), [
    ("clip", RED), ("mkv", GREEN), ("png", BLUE), ("jpg", BLUE), ("webp", BLUE), ("gif1", BLUE),
])
def test_ffmpeg_reads_each_kind_through_input_args_for_the_path(
    media: dict[str, Path], tmp_path: Path, name: str, colour: tuple[int, int, int]
) -> None:
    """The renderer's way with only a path: stills decoded once and repeated by `loop`."""
    info = vet(media[name])
    still = info.kind is MediaKind.PHOTO
    loop = [] if still else ["-stream_loop", "-1"]
    repeat = ["-vf", "loop=loop=-1:size=1,fps=25"] if still else []
    out = tmp_path / "out.mp4"
    run_ffmpeg([*loop, *input_args_for(media[name]), "-i", f"file:{media[name]}", *repeat,
                "-t", "1.5", "-an", "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p", str(out)], duration=1.5)
    facts = probe(out)
    assert (facts.width, facts.height) == (info.width, info.height)
    assert facts.duration == pytest.approx(1.5, abs=0.1)
    assert np.abs(_mean_colour(out, 1.0) - np.array(colour)).max() < 30


def test_input_args_for_refuses_what_is_not_allowed(tmp_path: Path) -> None:
    listing = tmp_path / "list.mp4"
    listing.write_text("ffconcat version 1.0\nfile '/etc/passwd'\n")
    with pytest.raises(MediaRefused):
        input_args_for(listing)


def test_the_animated_gif_through_the_safe_input_arguments(
    media: dict[str, Path], tmp_path: Path
) -> None:
    info = vet(media["gif"])
    out = tmp_path / "gif.mp4"
    run_ffmpeg([*safe_input(info, media["gif"]), "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p", str(out)], duration=1.0)
    facts = probe(out)
    assert (facts.width, facts.height) == (160, 120)
    assert facts.duration == pytest.approx(1.0, abs=0.15)


# --- limits

def test_too_long_and_too_big_by_the_limits(media: dict[str, Path]) -> None:
    assert "long" in _refused(media["clip"], Limits(max_seconds=1.0))
    assert "the most I take is" in _refused(media["clip"], Limits(max_bytes=1000))


def test_a_2_gb_file_is_refused_by_its_size_at_once(tmp_path: Path) -> None:
    big = tmp_path / "big.mp4"
    with big.open("wb") as file:
        file.truncate(2 * 1024**3)  # sparse: nothing is written
    started = time.perf_counter()
    sentence = _refused(big)
    assert time.perf_counter() - started < 0.1
    assert "2.0 GB" in sentence
    assert "200 MB" in sentence


def _png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 4096)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


@pytest.mark.parametrize(("width", "height"), [(30000, 30000), (9000, 100), (7000, 7000)])
def test_an_image_bomb_is_refused_from_its_header(
    tmp_path: Path, width: int, height: int
) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_declaring(width, height))
    started = time.perf_counter()
    sentence = _refused(bomb)
    assert time.perf_counter() - started < 0.1
    assert f"{width}×{height}" in sentence


def test_a_jpeg_and_a_gif_declaring_huge_sizes_are_refused(
    media: dict[str, Path], tmp_path: Path
) -> None:
    jpeg = bytearray(media["jpg"].read_bytes())
    sof = next(i for i in range(2, len(jpeg) - 1) if jpeg[i] == 0xFF and jpeg[i + 1] == 0xC0)
    jpeg[sof + 5:sof + 9] = struct.pack(">HH", 30000, 30000)
    (tmp_path / "bomb.jpg").write_bytes(bytes(jpeg))
    assert "30000×30000" in _refused(tmp_path / "bomb.jpg")
    gif = bytearray(media["gif"].read_bytes())
    gif[6:10] = struct.pack("<HH", 65535, 65535)
    (tmp_path / "bomb.gif").write_bytes(bytes(gif))
    assert "65535×65535" in _refused(tmp_path / "bomb.gif")


# --- hostile and broken files

def test_an_hls_playlist_named_mp4_is_refused_and_fetches_nothing(
    media: dict[str, Path], tmp_path: Path, server: http.server.ThreadingHTTPServer
) -> None:
    run_ffmpeg(["-y", "-i", str(media["clip"]), "-c", "copy", "-f", "mpegts",
                str(tmp_path / "segment.ts")], duration=2.0)
    playlist = tmp_path / "holiday.mp4"
    playlist.write_text("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
                        f"#EXTINF:2.0,\n{_url(server, 'segment.ts')}\n#EXT-X-ENDLIST\n")
    assert "playlist" in _refused(playlist)
    assert server.requests == []  # type: ignore[attr-defined]

    # The ffmpeg command the renderer builds for a file it thinks is an MP4 fetches nothing.
    claimed = MediaInfo(kind=MediaKind.VIDEO, demuxer="mov", codec="h264", width=WIDTH,
                        height=HEIGHT, duration=2.0, has_audio=False, size_bytes=100)
    with pytest.raises(PermanentError):
        run_ffmpeg([*safe_input(claimed, playlist), "-f", "null", "-"], duration=2.0)
    assert server.requests == []  # type: ignore[attr-defined]

    # The server does see a reader that is allowed to follow the playlist (the check works).
    with av.open(str(playlist), format="hls",
                 options={"protocol_whitelist": "file,http,tcp"}) as followed:
        assert followed.streams.video
    assert server.requests == ["/segment.ts"]  # type: ignore[attr-defined]


def test_a_concat_list_naming_another_file_is_refused(tmp_path: Path) -> None:
    for text in ("ffconcat version 1.0\nfile '/etc/passwd'\n", "file '/etc/passwd'\n"):
        listing = tmp_path / "list.mp4"
        listing.write_text(text)
        assert "list of other files" in _refused(listing)


def test_an_sdp_is_refused(tmp_path: Path) -> None:
    sdp = tmp_path / "stream.mp4"
    sdp.write_text("v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\n"
                   "m=video 5004 RTP/AVP 96\na=rtpmap:96 H264/90000\n")
    assert "playlist or a list" in _refused(sdp)


def test_truncated_mp4s_are_refused(media: dict[str, Path], tmp_path: Path) -> None:
    data = media["clip"].read_bytes()
    no_moov = tmp_path / "no_moov.mp4"  # ffmpeg writes moov at the end: cut, it is gone
    no_moov.write_bytes(data[: len(data) // 2])
    assert "incomplete or damaged" in _refused(no_moov)

    faststart = tmp_path / "faststart.mp4"
    run_ffmpeg(["-y", "-i", str(media["clip"]), "-c", "copy", "-movflags", "+faststart",
                str(faststart)], duration=2.0)
    whole = faststart.read_bytes()
    cut = tmp_path / "cut.mp4"  # moov intact, the pictures gone: no first frame
    cut.write_bytes(whole[: whole.find(b"mdat") + 200])
    assert "incomplete or damaged" in _refused(cut)


def test_random_bytes_text_empty_and_sound_only_are_refused(tmp_path: Path) -> None:
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(np.random.default_rng(7).bytes(50_000))
    assert "not a photo, GIF or video" in _refused(noise)
    text = tmp_path / "notes.jpg"
    text.write_text("Remember to buy milk.\nAnd bread.\n")
    assert "text" in _refused(text)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert "empty" in _refused(empty)
    sound = tmp_path / "sound.m4a"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(sound)],
               duration=1.0)
    assert "no picture" in _refused(sound)
    song = tmp_path / "song.m4a"  # sound with cover art: a still stream marked attached_pic
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "sine=duration=1", "-f", "lavfi", "-i",
                "color=c=red:s=64x64:d=1", "-frames:v", "1", "-map", "0", "-map", "1",
                "-c:a", "aac", "-c:v", "png", "-disposition:v", "attached_pic", "-t", "1",
                str(song)], duration=1.0)
    assert "no picture" in _refused(song)
    assert "could not be read" in _refused(tmp_path / "missing.mp4")
