"""/api/v1/assets: the workspace's own photos and clips (the asset store the chat's uploads go
to, `pipeline.media.assets`): upload (multipart, size-capped while it streams, then probed and
vetted by the store), list, delete, and signed download links.

A download link is `/api/v1/files/<token>`: the token signs (HMAC-SHA256, the media links'
secret) the workspace, the asset id and an expiry, so it works without a key for as long as it
says (a browser's <img> or a curl), names one asset of one workspace and nothing else.
`adapters.media_links` serves rendered videos only, so uploads get this small signer of their own.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, ConfigDict, Field

from adapters.media_links import SignedTokens, link_secret
from adapters.web.access import ADAPTER
from adapters.web.api.table import PREFIX, ApiError, Call, Table, error_response
from adapters.web.deps import WebDeps
from pipeline.media.assets import Asset, AssetStore
from pipeline.media.model import MediaRefused
from pipeline.settings import load_settings

table = Table()
TAG = "assets"
ASSET_ID = r"[0-9a-f]{12}"
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
"""An upload larger than this is refused (413) while it streams, before the store sees it."""
LINK_SECONDS = 3600
_CHUNK = 256 * 1024
MALFORMED = (ValueError, LookupError, TypeError, AssertionError, HttpProcessingError)
"""What aiohttp's multipart reader raises on a malformed form (a bad part header is an
`InvalidHeader`, a bad boundary a ValueError...): the client's fault, a 422."""


class AssetOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    kind: str
    width: int
    height: int
    duration: float | None
    size_bytes: int
    added_by: str
    added_at: datetime


class AssetList(BaseModel):
    model_config = ConfigDict(frozen=True)

    assets: list[AssetOut]
    count: int
    total_bytes: int


class Deleted(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    deleted: bool


class Link(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str = Field(description="works without a key until expires_at")
    expires_at: datetime


def asset_out(asset: Asset) -> AssetOut:
    return AssetOut(
        id=asset.id,
        name=asset.name,
        kind=asset.kind.value,
        width=asset.width,
        height=asset.height,
        duration=asset.duration,
        size_bytes=asset.size_bytes,
        added_by=asset.added_by,
        added_at=asset.added_at,
    )


def _store(call: Call) -> AssetStore:
    return AssetStore(call.deps.connection, load_settings().assets_dir)


def _workspace(call: Call) -> str:
    """How the asset store names a workspace: `<adapter>:<workspace id>`."""
    return f"{ADAPTER}:{call.workspace}"


@table.route(
    "GET",
    "/assets",
    summary="The workspace's photos and clips, newest first",
    right="view",
    response=AssetList,
    tag=TAG,
)
async def list_assets(call: Call) -> AssetList:
    store = _store(call)
    listed = await asyncio.to_thread(store.list, _workspace(call))
    count, total = await asyncio.to_thread(store.usage, _workspace(call))
    return AssetList(assets=[asset_out(a) for a in listed], count=count, total_bytes=total)


async def _receive(request: web.Request, into: Path) -> str:
    """Stream the form's `file` part into `into` (capped); the name the client gave it."""
    if not request.content_type.startswith("multipart/"):
        raise ApiError(422, "Send the file as multipart/form-data, in a part named 'file'.")
    try:
        reader = await request.multipart()
        part = await reader.next()
        while part is not None and (not isinstance(part, BodyPartReader) or part.name != "file"):
            part = await reader.next()
        if part is None:
            raise ApiError(422, "There is no part named 'file' in the form.")
        await _write_capped(part, into)
    except MALFORMED as error:  # a malformed multipart body
        raise ApiError(422, f"The form could not be read ({type(error).__name__}).") from None
    return part.filename or "upload"


async def _write_capped(part: BodyPartReader, into: Path) -> None:
    size = 0
    with into.open("wb") as out:
        while chunk := await part.read_chunk(_CHUNK):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise ApiError(413, f"The file is larger than {MAX_UPLOAD_BYTES // 2**20} MB.")
            out.write(chunk)
    if size == 0:
        raise ApiError(422, "The file is empty.")


@table.route(
    "POST",
    "/assets",
    summary="Upload a photo, clip or GIF (multipart, part 'file')",
    right="edit",
    response=AssetOut,
    status=201,
    multipart=True,
    errors=(413,),
    tag=TAG,
)
async def upload_asset(call: Call) -> AssetOut:
    incoming = load_settings().incoming_dir
    incoming.mkdir(parents=True, exist_ok=True)
    path = incoming / f"api-{secrets.token_hex(8)}"
    try:
        name = await _receive(call.request, path)
        add = _store(call).add
        asset = await asyncio.to_thread(
            add, _workspace(call), path, name=name, added_by=call.principal.user, move=True
        )
    except MediaRefused as refused:
        raise ApiError(422, str(refused)) from None
    finally:
        path.unlink(missing_ok=True)
    return asset_out(asset)


def _found(call: Call) -> Asset:
    asset_id = call.path["asset_id"]
    asset = _store(call).get(_workspace(call), asset_id)
    if asset is None:
        raise ApiError(404, f"There is no asset {asset_id} in this workspace.")
    return asset


@table.route(
    "DELETE",
    "/assets/{asset_id}",
    summary="Delete an asset",
    right="edit",
    response=Deleted,
    errors=(404,),
    tag=TAG,
    path_patterns={"asset_id": ASSET_ID},
)
async def delete_asset(call: Call) -> Deleted:
    asset = _found(call)
    deleted = await asyncio.to_thread(_store(call).delete, _workspace(call), asset.id)
    return Deleted(id=asset.id, deleted=deleted)


@table.route(
    "GET",
    "/assets/{asset_id}/link",
    summary="A signed, expiring download link to an asset",
    right="view",
    response=Link,
    errors=(404,),
    tag=TAG,
    path_patterns={"asset_id": ASSET_ID},
)
async def asset_link(call: Call) -> Link:
    asset = _found(call)
    signer = AssetLinks.for_deps(call.deps)
    expires = int(time.time()) + LINK_SECONDS
    token = signer.sign(call.workspace, asset.id, expires)
    base = load_settings().base_url
    return Link(
        url=f"{base}{PREFIX}/files/{token}", expires_at=datetime.fromtimestamp(expires, UTC)
    )


class AssetLinks:
    """Signed tokens (`adapters.media_links.SignedTokens`) naming one asset of one workspace,
    under a key of their own derived from the link secret."""

    def __init__(self, secret: bytes) -> None:
        self._tokens = SignedTokens(hashlib.sha256(b"novacast asset links\x00" + secret).digest())

    @classmethod
    def for_deps(cls, deps: WebDeps) -> AssetLinks:
        return cls(link_secret(deps.connection, load_settings().data_dir))

    def sign(self, workspace: str, asset_id: str, expires: int) -> str:
        return self._tokens.seal(f"{workspace}\x00{asset_id}", expires)

    def check(self, token: str) -> tuple[str, str] | None:
        """(workspace, asset id) of a token that is ours and not expired; else None."""
        try:
            expires, body = self._tokens.open(token)
            workspace, asset_id = body.split("\x00")
        except (ValueError, UnicodeError, binascii.Error):
            return None
        return (workspace, asset_id) if expires >= time.time() else None


def file_route(deps: WebDeps) -> web.RouteDef:
    """`GET /api/v1/files/{token}`: the asset a signed link names (404 for any bad token)."""
    links = AssetLinks.for_deps(deps)

    async def asset_file(request: web.Request) -> web.StreamResponse:
        named = links.check(request.match_info["token"])
        asset = None
        if named is not None:
            store = AssetStore(deps.connection, load_settings().assets_dir)
            asset = store.get(f"{ADAPTER}:{named[0]}", named[1])
        if asset is None or not asset.path.is_file():
            return error_response(404, "This link is invalid or has expired.")
        return web.FileResponse(asset.path)

    return web.get(PREFIX + "/files/{token}", asset_file)
