"""The audit trail: every API call that changes something (or tries to), per workspace, in a
Redis stream bounded by MAXLEN. An entry says who (user id, name, role, how they signed in),
what (method, route template and the ids in the path), when, and the outcome (status and a
short note). Never a request body: bodies may hold secrets (a model table's keys, a new key).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

import redis
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from adapters.web.access import ADAPTER, Principal

log = logging.getLogger(__name__)

MAXLEN = 10_000
"""Entries kept per workspace (approximately: Redis trims whole nodes)."""
_NOTE_CHARS = 200
_ID_CHARS = 64


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(description="the stream entry id (time-ordered)")
    who: str = Field(description="the user id the core sees: session:<user> or key:<key id>")
    name: str = ""
    role: str
    via: str = Field(description="session or key")
    what: str = Field(description="method and route template, e.g. POST /api/v1/projects")
    ids: dict[str, str] = Field(default_factory=dict, description="the ids in the path")
    when: datetime
    status: int
    outcome: str = Field(description="ok, or the refusal's sentence")


class AuditLog:
    """Appends and reads one stream per workspace (`<prefix>:audit:web:<workspace>`)."""

    def __init__(self, connection: redis.Redis, prefix: str = "novacast") -> None:
        self.connection = connection
        self.prefix = prefix

    def key(self, workspace: str) -> str:
        return f"{self.prefix}:audit:{ADAPTER}:{workspace}"

    def record(
        self,
        principal: Principal,
        what: str,
        request: web.Request,
        status: int,
        note: str,
    ) -> None:
        """Append one entry (`what`: method and route template); a Redis failure is logged,
        never turned into the call's failure."""
        fields = {
            "who": principal.user,
            "name": principal.name,
            "role": principal.role.value,
            "via": principal.via.value,
            "what": what,
            "ids": json.dumps(_ids(request.match_info)),
            "when": datetime.now(UTC).isoformat(),
            "status": str(status),
            "outcome": note[:_NOTE_CHARS],
        }
        try:
            self.connection.xadd(
                self.key(principal.workspace),
                fields,  # type: ignore[arg-type]
                maxlen=MAXLEN,
                approximate=True,
            )
        except redis.RedisError as error:
            log.warning("could not append to the audit stream: %s", type(error).__name__)

    def read(self, workspace: str, limit: int, before: str | None = None) -> list[AuditEntry]:
        """The newest `limit` entries, newest first, older than the entry id `before` (a
        ValueError when Redis takes it for no entry id, e.g. `0-0`, before which nothing is)."""
        top = f"({before}" if before else "+"
        raw: list[tuple[bytes, dict[bytes, bytes]]]
        try:
            raw = self.connection.xrevrange(self.key(workspace), top, "-", count=limit)  # type: ignore[assignment]
        except redis.ResponseError:
            raise ValueError(f"{before!r} is not an entry id to read before") from None
        return [_entry(entry_id, fields) for entry_id, fields in raw]


def _ids(match_info: Mapping[str, str]) -> dict[str, str]:
    return {name: value[:_ID_CHARS] for name, value in match_info.items()}


def _entry(entry_id: bytes | str, fields: Mapping[bytes, bytes]) -> AuditEntry:
    data = {k.decode(): v.decode() for k, v in fields.items()}
    return AuditEntry(
        id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        who=data.get("who", ""),
        name=data.get("name", ""),
        role=data.get("role", ""),
        via=data.get("via", ""),
        what=data.get("what", ""),
        ids=json.loads(data.get("ids", "{}")),
        when=datetime.fromisoformat(data["when"]),
        status=int(data.get("status", "0")),
        outcome=data.get("outcome", ""),
    )
