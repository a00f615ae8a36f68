"""The asset store: each workspace's own photos, clips and GIFs, vetted, kept by content.

A workspace is `"<adapter>:<workspace id>"`. Files live under `root` by content
(`ab/<sha256>.<ext>`), so the same photo sent to two workspaces is stored once; the metadata
lives in Redis:

- `<prefix>:asset:<workspace>:<asset id>`: a hash of the `Asset` fields;
- `<prefix>:assets:<workspace>`: a sorted set of asset ids by when they were added (newest
  first when read);
- `<prefix>:asset-users:<sha256>`: the workspaces that keep that content, so deleting removes
  the file only when no workspace still refers to it.

An asset id is the first 12 hex digits of the content's sha256: adding the same content twice
to a workspace returns the asset it already has. Each workspace keeps at most `max_assets`
assets and `max_bytes` bytes; past that, `add` refuses with a sentence.
"""

from __future__ import annotations

import builtins
import hashlib
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from redis import Redis
from redis.typing import EncodableT, FieldT

from pipeline.media.model import Candidate, MediaKind, MediaRefused
from pipeline.media.vetting import DEFAULT_LIMITS, Limits, describe_size, vet

MB = 1024 * 1024
MAX_ASSETS = 200
MAX_BYTES = 2048 * MB
_NAME_LENGTH = 80
_ID_LENGTH = 12
_ID_PATTERN = re.compile(r"^[0-9a-f]{12}$")


class Asset(BaseModel):
    """One photo, clip or GIF a workspace keeps."""

    model_config = ConfigDict(frozen=True)

    id: str
    """The first 12 hex digits of `sha256`."""
    sha256: str
    name: str
    """What the user called it (the file name without folders), for lists and ranking."""
    kind: MediaKind
    width: int
    height: int
    duration: float | None
    size_bytes: int
    added_by: str
    added_at: datetime
    path: Path


class AssetStore:
    """Per-workspace user media: files by content under `root`, metadata in Redis."""

    def __init__(
        self,
        redis: Redis,
        root: Path,
        prefix: str = "novacast",
        *,
        max_assets: int = MAX_ASSETS,
        max_bytes: int = MAX_BYTES,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.redis = redis
        self.root = Path(root)
        self.prefix = prefix
        self.max_assets = max_assets
        self.max_bytes = max_bytes
        self.limits = limits

    def add(
        self, workspace: str, path: Path, *, name: str, added_by: str, move: bool = False
    ) -> Asset:
        """Vet `path` and keep it for `workspace` (`MediaRefused` passes through).

        The file is copied, so the caller may delete its download; with `move` the store takes
        it (it is gone after a success, the same content already kept included; a refused file
        stays where it was)."""
        info = vet(Path(path), limits=self.limits)
        sha = _file_sha256(Path(path))
        existing = self.get(workspace, sha[:_ID_LENGTH])
        if existing is not None:
            if not existing.path.is_file():  # lost from disk: this copy restores it
                self._store_file(Path(path), sha, info.extension, move=False)
            if move:
                Path(path).unlink(missing_ok=True)
            return existing
        self._check_room(workspace, info.size_bytes)
        self.redis.sadd(self._users_key(sha), workspace)  # before the file: see delete
        stored = self._store_file(Path(path), sha, info.extension, move=move)
        asset = Asset(id=sha[:_ID_LENGTH], sha256=sha, name=clean_name(name), kind=info.kind,
                      width=info.width, height=info.height, duration=info.duration,
                      size_bytes=info.size_bytes, added_by=added_by,
                      added_at=datetime.now(UTC), path=stored)
        with self.redis.pipeline() as pipe:
            pipe.hset(self._key(workspace, asset.id), mapping=_fields(asset, self.root))
            pipe.zadd(self._list_key(workspace), {asset.id: asset.added_at.timestamp()})
            pipe.execute()
        return asset

    def list(self, workspace: str) -> builtins.list[Asset]:
        """The workspace's assets, newest first."""
        ids: builtins.list[bytes] = self.redis.zrevrange(  # type: ignore[assignment]
            self._list_key(workspace), 0, -1)
        with self.redis.pipeline(transaction=False) as pipe:
            for asset_id in ids:
                pipe.hgetall(self._key(workspace, _text(asset_id)))
            rows = pipe.execute()
        return [self._asset(row) for row in rows if row]

    def get(self, workspace: str, asset_id: str) -> Asset | None:
        if not _ID_PATTERN.match(asset_id):
            return None
        raw = self.redis.hgetall(self._key(workspace, asset_id))
        return self._asset(raw) if raw else None

    def latest(self, workspace: str) -> Asset | None:
        """The asset added last, e.g. the photo just sent ("use this for the intro")."""
        newest: builtins.list[bytes] = self.redis.zrevrange(  # type: ignore[assignment]
            self._list_key(workspace), 0, 0)
        return self.get(workspace, _text(newest[0])) if newest else None

    def delete(self, workspace: str, asset_id: str) -> bool:
        """Forget the asset; remove its file once no workspace keeps it. False when absent."""
        asset = self.get(workspace, asset_id)
        if asset is None:
            return False
        with self.redis.pipeline() as pipe:
            pipe.delete(self._key(workspace, asset_id))
            pipe.zrem(self._list_key(workspace), asset_id)
            pipe.srem(self._users_key(asset.sha256), workspace)
            pipe.scard(self._users_key(asset.sha256))
            *_, users = pipe.execute()
        if int(users) == 0:
            asset.path.unlink(missing_ok=True)
        return True

    def usage(self, workspace: str) -> tuple[int, int]:
        """(how many assets, how many bytes) the workspace keeps."""
        assets = self.list(workspace)
        return len(assets), sum(asset.size_bytes for asset in assets)

    def _asset(self, raw: Mapping[bytes | str, bytes | str]) -> Asset:
        fields = {_text(key): _text(value) for key, value in raw.items()}
        return Asset.model_validate({**fields, "duration": fields.get("duration") or None,
                                     "path": self.root / fields["path"]})

    def _check_room(self, workspace: str, size: int) -> None:
        count, used = self.usage(workspace)
        if count >= self.max_assets:
            raise MediaRefused(f"You already keep {count} photos and clips here, the most I "
                               "hold; delete some with /assets first.")
        if used + size > self.max_bytes:
            raise MediaRefused(f"That would take your photos and clips past "
                               f"{describe_size(self.max_bytes)}; delete some with /assets "
                               "first.")

    def _store_file(self, path: Path, sha: str, extension: str, *, move: bool) -> Path:
        target = self.root / sha[:2] / f"{sha}.{extension}"
        if target.exists():
            if move:
                path.unlink(missing_ok=True)
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
        os.close(handle)
        if move:
            shutil.move(path, temporary)
        else:
            shutil.copyfile(path, temporary)
        os.replace(temporary, target)
        return target

    def _key(self, workspace: str, asset_id: str) -> str:
        return f"{self.prefix}:asset:{workspace}:{asset_id}"

    def _list_key(self, workspace: str) -> str:
        return f"{self.prefix}:assets:{workspace}"

    def _users_key(self, sha: str) -> str:
        return f"{self.prefix}:asset-users:{sha}"


def as_candidate(asset: Asset) -> Candidate:
    """The asset as a picture the shot chooser can place (source "upload", id = asset id)."""
    return Candidate(source="upload", id=asset.id, kind=asset.kind, width=asset.width,
                     height=asset.height, duration=asset.duration, size_bytes=asset.size_bytes,
                     text=_words(asset.name), licence="your own", credit="")


def clean_name(name: str) -> str:
    """A file name fit to show and store: no folders, no control characters, not too long."""
    base = re.split(r"[\\/]", name)[-1]
    printable = "".join(char for char in base if unicodedata.category(char)[0] != "C")
    cleaned = " ".join(printable.split()).strip(". ")
    return cleaned[:_NAME_LENGTH] or "upload"


def _words(name: str) -> str:
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return " ".join(re.findall(r"[^\W_]+", stem))


def _fields(asset: Asset, root: Path) -> dict[FieldT, EncodableT]:
    return {
        "id": asset.id, "sha256": asset.sha256, "name": asset.name, "kind": asset.kind.value,
        "width": str(asset.width), "height": str(asset.height),
        "duration": "" if asset.duration is None else repr(asset.duration),
        "size_bytes": str(asset.size_bytes), "added_by": asset.added_by,
        "added_at": asset.added_at.isoformat(),
        "path": str(asset.path.relative_to(root)),
    }


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _file_sha256(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()
