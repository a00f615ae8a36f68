"""The media cache: each candidate's file downloaded once, vetted, kept by content, capped in size.

Layout under `root` (plain files, shared safely by any number of worker processes on one
machine: the locks are flock(2), so keep `root` on a local file system, not NFS):

- `blobs/ab/<sha256>.<ext>`: the files, named by their content;
- `index/<sha256 of Candidate.key>.json`: which blob a candidate's key resolved to;
- `locks/<sha256 of Candidate.key>.lock`: held (fcntl) while a key is being downloaded, so two
  processes never download the same thing twice; `evict.lock` while evicting;
- `tmp/`: downloads in progress, renamed into `blobs/` when vetted (same file system, atomic).

Threads of one process may share one `MediaCache` (each lock is its own open file, so threads
exclude each other like processes do). A hit touches the blob's modification time; after each
store the least recently used blobs are removed until the total is under the cap, never the
one just stored. A path `get` or `fetch` returned can be evicted later by another store: use
it soon (the renderer fetches its shots right before it runs) or raise the cap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.file_lock import file_lock
from pipeline.media.model import Candidate, MediaRefused, MediaSource
from pipeline.media.vetting import DEFAULT_LIMITS, Limits, vet

log = logging.getLogger(__name__)

STALE_DOWNLOAD_SECONDS = 24 * 3600


@dataclass(frozen=True)
class CacheStats:
    """This process's hits and misses (downloads), and what the cache holds on disk now."""

    hits: int
    misses: int
    bytes: int
    files: int


class MediaCache:
    """Candidates' files by content, downloaded once through their source, LRU-capped."""

    def __init__(self, root: Path, cap_bytes: int, *, limits: Limits = DEFAULT_LIMITS) -> None:
        self.root = Path(root)
        self.cap_bytes = cap_bytes
        self.limits = limits
        self.hits = 0
        self.misses = 0
        self._counting = threading.Lock()
        for folder in ("blobs", "index", "locks", "tmp", "proxies"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        self._sweep_stale_downloads()

    @property
    def proxies_dir(self) -> Path:
        """Where preview proxies of cached clips live (pipeline.proxies); evicted with the
        blobs, least recently used first."""
        return self.root / "proxies"

    def get(self, candidate: Candidate) -> Path | None:
        """The cached file for `candidate`, touched as recently used; None when not cached."""
        blob = self._lookup(candidate.key)
        if blob is None:
            return None
        try:
            os.utime(blob)
        except FileNotFoundError:  # evicted between the lookup and the touch
            return None
        return blob

    def fetch(self, candidate: Candidate, source: MediaSource) -> Path:
        """The cached file for `candidate`, downloading (once, across processes) and vetting it.

        Raises `MediaRefused` (the download is deleted) or whatever `source.download` raises."""
        found = self.get(candidate)
        if found is not None:
            self._count(hit=True)
            return found
        with file_lock(self._lock_path(candidate.key)):
            found = self.get(candidate)
            if found is not None:
                self._count(hit=True)
                return found
            self._count(hit=False)
            blob = self._download(candidate, source)
        self._evict(keep=blob)
        return blob

    def _count(self, *, hit: bool) -> None:
        with self._counting:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def stats(self) -> CacheStats:
        blobs = list(self._blobs())
        return CacheStats(hits=self.hits, misses=self.misses,
                          bytes=sum(size for _, size, _ in blobs), files=len(blobs))

    def _download(self, candidate: Candidate, source: MediaSource) -> Path:
        work = Path(tempfile.mkdtemp(dir=self.root / "tmp"))
        try:
            got = source.download(candidate, work / "download")
            if not got.resolve().is_relative_to(work.resolve()):
                got = Path(shutil.copyfile(got, work / "copied"))
            info = vet(got, limits=self.limits)
            sha = _file_sha256(got)
            blob = self.root / "blobs" / sha[:2] / f"{sha}.{info.extension}"
            blob.parent.mkdir(parents=True, exist_ok=True)
            if not blob.exists():
                os.replace(got, blob)
            os.utime(blob)  # the newest: eviction takes it last
            self._write_index(candidate.key, blob)
            log.info("media cache: stored %s as %s (%d bytes)", candidate.key, blob.name,
                     info.size_bytes)
            return blob
        except MediaRefused:
            log.info("media cache: refused %s", candidate.key)
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _sweep_stale_downloads(self) -> None:
        """Remove downloads a process left behind when it died mid-way (older than a day)."""
        cutoff = time.time() - STALE_DOWNLOAD_SECONDS
        for work in (self.root / "tmp").iterdir():
            try:
                if work.stat().st_mtime < cutoff:
                    shutil.rmtree(work, ignore_errors=True)
            except FileNotFoundError:
                continue

    def _lookup(self, key: str) -> Path | None:
        index = self._index_path(key)
        try:
            entry = json.loads(index.read_text())
        except (FileNotFoundError, ValueError):
            return None
        blob = self.root / "blobs" / str(entry.get("blob", ""))
        if entry.get("key") != key or not blob.is_file():
            index.unlink(missing_ok=True)  # its blob was evicted
            return None
        return blob

    def _write_index(self, key: str, blob: Path) -> None:
        index = self._index_path(key)
        entry = {"key": key, "blob": str(blob.relative_to(self.root / "blobs"))}
        temporary = index.with_name(f"{index.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(entry))
        os.replace(temporary, index)

    def _evict(self, keep: Path) -> None:
        """Remove least recently used blobs until the total fits the cap (never `keep`)."""
        with file_lock(self.root / "locks" / "evict.lock"):
            blobs = sorted([*self._blobs(), *self._proxies()], key=lambda item: item[2])
            total = sum(size for _, size, _ in blobs)
            for blob, size, _ in blobs:
                if total <= self.cap_bytes:
                    break
                if blob == keep:
                    continue
                blob.unlink(missing_ok=True)
                total -= size
                log.info("media cache: evicted %s (%d bytes)", blob.name, size)

    def _blobs(self) -> Iterator[tuple[Path, int, float]]:
        """(path, size, last use) of every stored blob."""
        for blob in (self.root / "blobs").glob("*/*"):
            try:
                stat = blob.stat()
            except FileNotFoundError:
                continue
            yield blob, stat.st_size, stat.st_mtime

    def _proxies(self) -> Iterator[tuple[Path, int, float]]:
        for proxy in self.proxies_dir.glob("*.mp4"):
            try:
                stat = proxy.stat()
            except FileNotFoundError:
                continue
            yield proxy, stat.st_size, stat.st_mtime

    def _index_path(self, key: str) -> Path:
        return self.root / "index" / f"{_text_sha256(key)}.json"

    def _lock_path(self, key: str) -> Path:
        return self.root / "locks" / f"{_text_sha256(key)}.lock"


def _text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_sha256(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()
