"""API keys: one workspace and one role each, shown once, kept only as a hash.

A key reads `nck_<id>_<secret>`: the id (12 hex digits) names the record, the secret (43
URL-safe characters, 256 random bits) proves it. Redis keeps the SHA-256 of the secret, never
the secret itself; a presented key is hashed and compared in constant time. Because the secret
is random and long, a fast hash is enough (no password stretching): nobody can guess one.

Records: `<prefix>:apikey:<id>` (a hash: workspace, role, name, secret hash, created, last
used, revoked) and `<prefix>:apikeys:<workspace>` (the ids, a set). A revoked key stays listed
as revoked (so the audit trail's `key:<id>` still names something) and never authenticates
again.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

import redis
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from adapters.web.access import Principal, Role, Via

TOKEN_PREFIX = "nck_"  # noqa: S105 (a prefix, not a secret)
_TOKEN = re.compile(r"^nck_(?P<id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")
_ID = re.compile(r"^[0-9a-f]{12}$")
LAST_USED_EVERY = 60.0
"""Seconds between two writes of a key's last-used time (a busy key is not a write per call)."""


class KeyInfo(BaseModel):
    """A key as listed: never its secret."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=r"^[0-9a-f]{12}$")
    workspace: str
    role: Role
    name: str = ""
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class NewKey(BaseModel):
    """A key just made: `token` is shown this once and kept nowhere."""

    model_config = ConfigDict(frozen=True)

    info: KeyInfo
    token: str


class ApiKeys:
    """Create, list, revoke and check API keys; `principal(request)` is the API's sign-in."""

    def __init__(self, connection: redis.Redis, prefix: str = "novacast") -> None:
        self.connection = connection
        self.prefix = prefix

    def _key(self, key_id: str) -> str:
        return f"{self.prefix}:apikey:{key_id}"

    def _workspace_key(self, workspace: str) -> str:
        return f"{self.prefix}:apikeys:{workspace}"

    @property
    def _workspaces_key(self) -> str:
        return f"{self.prefix}:apikey-workspaces"

    def create(self, workspace: str, role: Role, name: str = "") -> NewKey:
        """A new key for `workspace` with `role`; its token is in the answer only."""
        if not workspace.strip():
            raise ValueError("a key needs a workspace")
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        info = KeyInfo(
            id=key_id,
            workspace=workspace,
            role=role,
            name=name[:80],
            created_at=datetime.now(UTC),
        )
        with self.connection.pipeline() as pipe:
            pipe.hset(
                self._key(key_id),
                mapping={
                    "workspace": workspace,
                    "role": role.value,
                    "name": info.name,
                    "hash": _digest(secret),
                    "created_at": info.created_at.isoformat(),
                },
            )
            pipe.sadd(self._workspace_key(workspace), key_id)
            pipe.sadd(self._workspaces_key, workspace)
            pipe.execute()
        return NewKey(info=info, token=f"{TOKEN_PREFIX}{key_id}_{secret}")

    def get(self, key_id: str) -> KeyInfo | None:
        if not _ID.match(key_id):
            return None
        raw = self.connection.hgetall(self._key(key_id))
        return _info(key_id, raw) if raw else None

    def list(self, workspace: str | None = None) -> list[KeyInfo]:
        """Keys of `workspace` (or of every workspace), oldest first; no secrets."""
        if workspace is None:
            names = sorted(_text(w) for w in self.connection.smembers(self._workspaces_key))
            return [info for name in names for info in self.list(name)]
        ids = sorted(_text(i) for i in self.connection.smembers(self._workspace_key(workspace)))
        found = (self.get(key_id) for key_id in ids)
        return sorted((i for i in found if i is not None), key=lambda i: i.created_at)

    def revoke(self, key_id: str, workspace: str | None = None) -> KeyInfo | None:
        """Revoke a key (of `workspace`, when given); None when there is no such key."""
        info = self.get(key_id)
        if info is None or (workspace is not None and info.workspace != workspace):
            return None
        if info.revoked_at is None:
            now = datetime.now(UTC)
            self.connection.hset(self._key(key_id), "revoked_at", now.isoformat())
            info = info.model_copy(update={"revoked_at": now})
        return info

    def check(self, token: str) -> KeyInfo | None:
        """The live key `token` is, or None (malformed, unknown, wrong secret, revoked)."""
        match = _TOKEN.match(token)
        if match is None:
            return None
        raw = self.connection.hgetall(self._key(match["id"]))
        if not raw:
            return None
        fields = {_text(k): _text(v) for k, v in raw.items()}
        if not hmac.compare_digest(fields.get("hash", ""), _digest(match["secret"])):
            return None
        info = _info(match["id"], raw)
        if info.revoked_at is not None:
            return None
        self._touch(info)
        return info

    def _touch(self, info: KeyInfo) -> None:
        now = datetime.now(UTC)
        last = info.last_used_at
        if last is None or (now - last).total_seconds() >= LAST_USED_EVERY:
            self.connection.hset(self._key(info.id), "last_used_at", now.isoformat())

    def principal(self, request: web.Request) -> Principal | None:
        """Who a request's `Authorization: Bearer nck_...` names, or None (no key, or a key
        that is malformed, forged or revoked)."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX):
            return None
        info = self.check(token.strip())
        if info is None:
            return None
        return Principal(
            workspace=info.workspace, id=info.id, role=info.role, via=Via.KEY, name=info.name
        )


def presents_key(request: web.Request) -> bool:
    """True when the request carries an API key (valid or not): it must then not fall back to a
    session cookie."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _info(key_id: str, raw: dict[bytes | str, bytes | str]) -> KeyInfo:
    fields = {_text(k): _text(v) for k, v in raw.items()}
    return KeyInfo(
        id=key_id,
        workspace=fields["workspace"],
        role=Role(fields["role"]),
        name=fields.get("name", ""),
        created_at=datetime.fromisoformat(fields["created_at"]),
        last_used_at=_time(fields.get("last_used_at")),
        revoked_at=_time(fields.get("revoked_at")),
    )
