"""The media cache with real downloads from a local HTTP server that counts requests."""

from __future__ import annotations

import http.server
import multiprocessing
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.synchronize import Barrier
from pathlib import Path

import httpx
import numpy as np
import pytest

from pipeline.media.cache import CacheStats, MediaCache
from pipeline.media.model import Candidate, MediaKind, MediaRefused
from pipeline.media.vetting import vet
from pipeline.probe import frame_at, probe
from tests.integration.test_media_vetting import RequestLog, make_clip, make_still

MB = 1024 * 1024


class SlowRequestLog(RequestLog):
    """Like RequestLog, but answers after `server.delay` seconds, so concurrent fetches overlap."""

    def do_GET(self) -> None:
        time.sleep(self.server.delay)  # type: ignore[attr-defined]
        super().do_GET()


class HttpSource:
    """A MediaSource downloading `candidate.download_url` with httpx (as stock sources do)."""

    name = "web"

    def search(self, query: object) -> list[Candidate]:
        return []

    def download(self, candidate: Candidate, into: Path) -> Path:
        with httpx.stream("GET", candidate.download_url, timeout=10) as response:
            response.raise_for_status()
            with into.open("wb") as file:
                for chunk in response.iter_bytes():
                    file.write(chunk)
        return into


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("served")
    make_clip(folder / "red.mp4", "red", audio=False)
    make_clip(folder / "blue.mp4", "blue", audio=False)
    make_clip(folder / "lime.mp4", "lime", audio=False)
    make_still(folder / "yellow.png", "yellow")
    (folder / "notes.mp4").write_text("not a video at all\n")
    return folder


@pytest.fixture(scope="module")
def server(files: Path) -> Iterator[http.server.ThreadingHTTPServer]:
    handler = lambda *args: SlowRequestLog(*args, directory=str(files))  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.requests = []  # type: ignore[attr-defined]
    httpd.delay = 0.0  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def requests(server: http.server.ThreadingHTTPServer) -> list[str]:
    log: list[str] = server.requests  # type: ignore[attr-defined]
    log.clear()
    server.delay = 0.0  # type: ignore[attr-defined]
    return log


def _candidate(server: http.server.ThreadingHTTPServer, name: str, *, key: str = "") -> Candidate:
    kind = MediaKind.PHOTO if name.endswith(".png") else MediaKind.VIDEO
    return Candidate(source="web", id=key or name, kind=kind, width=320, height=568,
                     download_url=f"http://127.0.0.1:{server.server_address[1]}/{name}")


def _colour(path: Path) -> list[int]:
    return [round(c) for c in frame_at(path, 0.5).reshape(-1, 3).mean(axis=0)]


def test_second_fetch_is_a_hit_without_a_second_download(
    server: http.server.ThreadingHTTPServer, requests: list[str], tmp_path: Path
) -> None:
    cache = MediaCache(tmp_path / "cache", 100 * MB)
    red = _candidate(server, "red.mp4")
    assert cache.get(red) is None
    first = cache.fetch(red, HttpSource())
    second = cache.fetch(red, HttpSource())
    assert first == second
    assert requests == ["/red.mp4"]
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.files) == (1, 1, 1)
    assert stats.bytes == first.stat().st_size
    assert first.suffix == ".mp4"
    assert first.parent.name == first.stem[:2]
    facts = probe(first)
    assert (facts.video_codec, facts.width, facts.height) == ("h264", 320, 568)
    assert np.allclose(_colour(first), [254, 0, 0], atol=20)

    # Another worker process on the same folder: a hit from disk, still one download.
    other = MediaCache(tmp_path / "cache", 100 * MB)
    assert other.get(red) == first
    assert other.fetch(red, HttpSource()) == first
    assert requests == ["/red.mp4"]
    assert (other.stats().hits, other.stats().misses) == (1, 0)


def test_the_same_content_under_two_keys_is_stored_once(
    server: http.server.ThreadingHTTPServer, requests: list[str], tmp_path: Path
) -> None:
    cache = MediaCache(tmp_path / "cache", 100 * MB)
    one = cache.fetch(_candidate(server, "red.mp4", key="one"), HttpSource())
    two = cache.fetch(_candidate(server, "red.mp4", key="two"), HttpSource())
    assert one == two
    assert len(requests) == 2
    assert cache.stats().files == 1


def test_a_refused_download_is_deleted_and_not_remembered(
    server: http.server.ThreadingHTTPServer, requests: list[str], tmp_path: Path
) -> None:
    cache = MediaCache(tmp_path / "cache", 100 * MB)
    notes = _candidate(server, "notes.mp4")
    with pytest.raises(MediaRefused, match="text, not a photo"):
        cache.fetch(notes, HttpSource())
    assert cache.get(notes) is None
    assert cache.stats().files == 0
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []
    assert requests == ["/notes.mp4"]


def test_least_recently_used_files_go_first_past_the_cap(
    server: http.server.ThreadingHTTPServer, requests: list[str], files: Path, tmp_path: Path
) -> None:
    sizes = {name: (files / name).stat().st_size for name in ("red.mp4", "blue.mp4", "lime.mp4")}
    cap = sizes["red.mp4"] + sizes["lime.mp4"] + 100  # room for two of them, not three
    assert cap < sum(sizes.values())
    cache = MediaCache(tmp_path / "cache", cap)
    red, blue, lime = (_candidate(server, name) for name in sizes)
    cache.fetch(red, HttpSource())
    cache.fetch(blue, HttpSource())
    assert cache.get(red) is not None  # red is now more recently used than blue
    cache.fetch(lime, HttpSource())
    assert cache.get(blue) is None
    assert cache.get(red) is not None
    assert cache.get(lime) is not None
    assert cache.stats().bytes <= cap
    assert len(list((tmp_path / "cache" / "index").iterdir())) == 2  # blue's entry went too
    # blue comes back by downloading again
    cache.fetch(blue, HttpSource())
    assert requests.count("/blue.mp4") == 2


def test_the_file_just_stored_stays_even_over_the_cap(
    server: http.server.ThreadingHTTPServer, requests: list[str], tmp_path: Path
) -> None:
    cache = MediaCache(tmp_path / "cache", 1000)
    yellow = cache.fetch(_candidate(server, "yellow.png"), HttpSource())
    assert vet(yellow).kind is MediaKind.PHOTO
    red = cache.fetch(_candidate(server, "red.mp4"), HttpSource())
    assert red.is_file()
    assert not yellow.exists()
    assert cache.stats().files == 1


def test_threads_sharing_one_cache_download_once(
    server: http.server.ThreadingHTTPServer, requests: list[str], tmp_path: Path
) -> None:
    server.delay = 0.3  # type: ignore[attr-defined]
    cache = MediaCache(tmp_path / "cache", 100 * MB)
    blue = _candidate(server, "blue.mp4")
    with ThreadPoolExecutor(max_workers=4) as pool:
        paths = set(pool.map(lambda _: cache.fetch(blue, HttpSource()), range(4)))
    assert len(paths) == 1
    assert requests == ["/blue.mp4"]
    assert (cache.stats().hits, cache.stats().misses) == (3, 1)


def _fetch_in_a_process(
    root: str, url: str, barrier: Barrier, results: multiprocessing.Queue[tuple[str, CacheStats]]
) -> None:
    cache = MediaCache(Path(root), 100 * MB)
    candidate = Candidate(source="web", id="shared", kind=MediaKind.VIDEO, width=320,
                          height=568, download_url=url)
    barrier.wait(timeout=30)
    path = cache.fetch(candidate, HttpSource())
    results.put((str(path), cache.stats()))


@pytest.mark.slow  # two spawned interpreters: ~2 s idle, more on a loaded machine
def test_two_processes_fetching_the_same_key_download_once(
    server: http.server.ThreadingHTTPServer, requests: list[str], tmp_path: Path
) -> None:
    server.delay = 0.4  # type: ignore[attr-defined]  # the first download holds the lock a while
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results: multiprocessing.Queue[tuple[str, CacheStats]] = context.Queue()
    url = _candidate(server, "lime.mp4").download_url
    workers = [context.Process(target=_fetch_in_a_process,
                               args=(str(tmp_path / "cache"), url, barrier, results))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert requests == ["/lime.mp4"]
    paths = {path for path, _ in outcomes}
    assert len(paths) == 1
    assert sorted((stats.hits, stats.misses) for _, stats in outcomes) == [(0, 1), (1, 0)]
    assert np.allclose(_colour(Path(paths.pop())), [0, 255, 0], atol=20)
