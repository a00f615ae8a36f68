"""The embedded publisher: a copy of the video plus a JSON sidecar in the workspace's folder.

`<root>/<workspace>/<title-slug>-<project>-v<version>.mp4` and `.json` beside it. Both are
written to a hidden temporary file first and renamed into place, the sidecar last, so a
sidecar means a complete publication and a failure leaves nothing behind. A second publish of
the same project version finds the sidecar and returns the first location.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pipeline.errors import PermanentError, TransientError
from pipeline.publish import PublishRequest, PublishResult
from pipeline.settings import load_settings

MAX_SLUG_CHARS = 60
_CHUNK = 1 << 20
_UNSAFE_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")


def slugify(text: str) -> str:
    """A lowercase ASCII file-name part: "Why Cats Purr!" → "why-cats-purr"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_SLUG_CHARS].rstrip("-") or "video"


def safe_name(value: str, what: str) -> str:
    """`value` if it is one plain path component; PermanentError if it could leave its folder."""
    unsafe = not value or len(value) > 200 or value.startswith(".") or _UNSAFE_NAME.search(value)
    if unsafe or Path(value).is_absolute() or Path(value).name != value:
        shown = _UNSAFE_NAME.sub("?", value[:40])
        raise PermanentError(f"the {what} “{shown}” cannot be used as a folder or file name")
    return value


class FolderPublisher:
    """Publishes into `root` (default `$NOVACAST_DATA_DIR/published`), one folder per workspace."""

    name = "folder"

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else load_settings().data_dir / "published"

    def publish(self, request: PublishRequest) -> PublishResult:
        """Copy the video and write its sidecar; a repeat returns the existing location."""
        folder = self._folder(request.workspace)
        safe_name(request.project_id, "project id")
        existing = self._existing(folder, request)
        if existing is not None:
            return existing
        if not request.video.is_file():
            raise PermanentError("the rendered video is missing; press Render to make it again")
        stem = f"{slugify(request.title)}-{request.project_id}-v{request.version}"
        try:
            return self._write(folder, stem, request)
        except OSError as error:
            raise TransientError(
                f"could not write to the publish folder: {error.strerror}"
            ) from error

    def _folder(self, workspace: str) -> Path:
        root = self.root.resolve()
        folder = (root / safe_name(workspace, "workspace id")).resolve()
        if folder.parent != root:
            raise PermanentError(f"the workspace id “{workspace[:40]}” leaves the publish folder")
        return folder

    def _existing(self, folder: Path, request: PublishRequest) -> PublishResult | None:
        """The earlier result for this project version, if its sidecar and video are both there."""
        if not folder.is_dir():
            return None
        for sidecar in folder.glob(f"*-{glob_escape(request.project_id)}-v{request.version}.json"):
            record, video = _read_json(sidecar), sidecar.with_suffix(".mp4")
            ours = (record.get("project_id"), record.get("version")) == (
                request.project_id,
                request.version,
            )
            if ours and video.is_file():
                return PublishResult(
                    target=self.name,
                    location=str(video),
                    published_at=_published_at(record, sidecar),
                    reused=True,
                )
        return None

    def _write(self, folder: Path, stem: str, request: PublishRequest) -> PublishResult:
        folder.mkdir(parents=True, exist_ok=True)
        video, sidecar = folder / f"{stem}.mp4", folder / f"{stem}.json"
        published_at = datetime.now(UTC)
        with request.video.open("rb") as source, _staged(video) as out:
            digest, size = _copy(source, out)
        try:
            record = _record(request, video, digest, size, published_at)
            with _staged(sidecar) as out:
                out.write(json.dumps(record, indent=2, ensure_ascii=False, default=str).encode())
        except BaseException:
            video.unlink(missing_ok=True)
            raise
        return PublishResult(target=self.name, location=str(video), published_at=published_at)


def glob_escape(text: str) -> str:
    """`text` with glob wildcards made literal."""
    return re.sub(r"([*?\[])", r"[\1]", text)


@contextmanager
def _staged(final: Path) -> Iterator[IO[bytes]]:
    """A hidden temporary file beside `final`, renamed onto it only if the block succeeds."""
    handle, temp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, final)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _copy(source: IO[bytes], out: IO[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        out.write(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _record(
    request: PublishRequest, video: Path, digest: str, size: int, published_at: datetime
) -> dict[str, Any]:
    return {
        "title": request.title,
        "script": request.script_text,
        "sentences": request.sentences,
        "project_id": request.project_id,
        "version": request.version,
        "workspace": request.workspace,
        "approved_by": request.approved_by,
        "approved_at": request.approved_at.isoformat(),
        "published_at": published_at.isoformat(),
        "video": video.name,
        "bytes": size,
        "sha256": digest,
        "duration": request.metadata.get("duration"),
        "metadata": request.metadata,
    }


def _published_at(record: dict[str, Any], sidecar: Path) -> datetime:
    try:
        return datetime.fromisoformat(str(record["published_at"]))
    except (KeyError, ValueError):
        return datetime.fromtimestamp(sidecar.stat().st_mtime, UTC)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}
