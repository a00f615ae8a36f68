"""Who is signed in to the studio: one-time sign-in links, users, and cookie sessions.

Nothing secret is stored as it is: a sign-in token and a session cookie are kept in Redis only
as their SHA-256, so a copy of the database (or its AOF) signs nobody in.

- A sign-in link (`sign_in_link`, printed by `novacast up` and `novacast invite`) names a
  workspace, a role and a display name; it lives 24 h and is consumed atomically (`GETDEL`),
  so two tabs racing on one link make one session.
- A user is (id, name, workspace, role). A named invite reuses the id of the same name in the
  same workspace (the operator's link at every `novacast up` is the same person, with the same
  conversation); an unnamed one makes a new user.
- A session is a random cookie token -> (user id, CSRF token), idle-expiring (sliding: every
  use pushes the expiry out). Its role is read from the user record at every request, so a
  changed or removed user takes effect at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

import redis
from pydantic import BaseModel, ConfigDict, Field

from adapters.web.access import Principal, Role, Via

PREFIX = "novacast:web"
SIGN_IN_SECONDS = 24 * 3600
SESSION_IDLE_SECONDS = 14 * 24 * 3600
"""A session unused this long is gone (each use pushes it out again)."""
COOKIE = "novacast_session"
TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 128
"""Anything longer that claims to be a token or cookie is not looked up at all."""


def digest(token: str) -> str:
    """What Redis keeps of a secret token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def plausible(token: str | None) -> bool:
    """Worth a lookup: a short URL-safe string (what `secrets.token_urlsafe` makes)."""
    return bool(token) and len(token or "") <= MAX_TOKEN_CHARS and (token or "").isascii()


class User(BaseModel):
    """A person who may sign in to one workspace's studio."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=64)
    workspace: str = Field(min_length=1, max_length=200)
    role: Role
    name: str = Field(default="", max_length=200)


@dataclass(frozen=True)
class Session:
    """A signed-in browser: who, and the token its state-changing requests must carry."""

    user: User
    csrf: str

    @property
    def principal(self) -> Principal:
        user = self.user
        return Principal(
            workspace=user.workspace, id=user.id, role=user.role, via=Via.SESSION, name=user.name
        )


def user_id_for(workspace: str, name: str) -> str:
    """The same id for the same name in the same workspace; a random one without a name."""
    if not name.strip():
        return secrets.token_hex(8)
    seed = f"{workspace}\x00{' '.join(name.split()).casefold()}".encode()
    return hashlib.sha256(seed).hexdigest()[:16]


class Sessions:
    """Sign-in links, users and sessions in Redis (all keys under `novacast:web:`)."""

    def __init__(
        self, connection: redis.Redis, *, idle_seconds: int = SESSION_IDLE_SECONDS
    ) -> None:
        self._redis = connection
        self._idle = idle_seconds

    # --- keys ---------------------------------------------------------------------------------

    @staticmethod
    def _invite_key(token: str) -> str:
        return f"{PREFIX}:signin:{digest(token)}"

    @staticmethod
    def session_key(token: str) -> str:
        return f"{PREFIX}:session:{digest(token)}"

    @staticmethod
    def user_key(workspace: str, user_id: str) -> str:
        return f"{PREFIX}:user:{workspace}:{user_id}"

    # --- sign-in links ------------------------------------------------------------------------

    def invite(self, *, workspace: str, role: Role | str, name: str = "") -> str:
        """A new one-time sign-in token for (workspace, role, name), valid 24 h."""
        user = User(
            id=user_id_for(workspace, name), workspace=workspace, role=Role(role), name=name
        )
        token = secrets.token_urlsafe(TOKEN_BYTES)
        self._redis.set(self._invite_key(token), user.model_dump_json(), ex=SIGN_IN_SECONDS)
        return token

    def invited(self, token: str) -> bool:
        """Whether `token` is a live, unused sign-in token (nothing consumed)."""
        return plausible(token) and bool(self._redis.exists(self._invite_key(token)))

    def sign_in(self, token: str) -> tuple[str, Session] | None:
        """Consume a sign-in token: (the new session's cookie token, the session), or None for
        a token that is unknown, used or expired."""
        if not plausible(token):
            return None
        stored = self._redis.getdel(self._invite_key(token))
        if not isinstance(stored, bytes):
            return None
        user = User.model_validate_json(stored)
        self._save_user(user)
        return self.open(user)

    # --- users and sessions -------------------------------------------------------------------

    def _save_user(self, user: User) -> None:
        fields: dict[str, str] = {
            "id": user.id,
            "workspace": user.workspace,
            "role": user.role.value,
            "name": user.name,
            "updated": str(int(time.time())),
        }
        self._redis.hset(self.user_key(user.workspace, user.id), mapping=fields)  # type: ignore[arg-type]

    def user(self, workspace: str, user_id: str) -> User | None:
        raw: dict[bytes, bytes] = self._redis.hgetall(self.user_key(workspace, user_id))  # type: ignore[assignment]
        if not raw:
            return None
        fields = {key.decode(): value.decode() for key, value in raw.items()}
        wanted = ("id", "workspace", "role", "name")
        return User.model_validate({key: fields.get(key, "") for key in wanted})

    def remove_user(self, workspace: str, user_id: str) -> None:
        """The user can no longer sign in; their open sessions stop working at once."""
        self._redis.delete(self.user_key(workspace, user_id))

    def open(self, user: User) -> tuple[str, Session]:
        """A new session for `user`: (cookie token, session)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        csrf = secrets.token_urlsafe(TOKEN_BYTES)
        record = json.dumps({"workspace": user.workspace, "user": user.id, "csrf": csrf})
        self._redis.set(self.session_key(token), record, ex=self._idle)
        return token, Session(user, csrf)

    def session(self, token: str | None) -> Session | None:
        """The live session a cookie token names (its idle expiry pushed out), else None."""
        if token is None or not plausible(token):
            return None
        key = self.session_key(token)
        stored = self._redis.getex(key, ex=self._idle)
        if not isinstance(stored, bytes):
            return None
        record = json.loads(stored)
        user = self.user(record["workspace"], record["user"])
        if user is None:
            self._redis.delete(key)
            return None
        return Session(user, record["csrf"])

    def sign_out(self, token: str | None) -> None:
        if token is not None and plausible(token):
            self._redis.delete(self.session_key(token))


def csrf_matches(session: Session, offered: str | None) -> bool:
    """The request carries the session's CSRF token (compared in constant time)."""
    return bool(offered) and hmac.compare_digest(session.csrf.encode(), (offered or "").encode())


def sign_in_link(
    connection: redis.Redis, public_url: str, *, workspace: str, role: Role | str, name: str = ""
) -> str:
    """A one-time link (24 h) that signs a browser in to `workspace`'s studio as `role`: what
    `novacast up` prints for the operator and `novacast invite` for anyone else."""
    token = Sessions(connection).invite(workspace=workspace, role=role, name=name)
    return f"{public_url.rstrip('/')}/signin/{token}"
