"""/api/v1/keys and /api/v1/audit, for admins of the workspace: list, create and revoke the
workspace's API keys (a new key's token is in the create answer only), and read the audit
trail (`adapters.web.api.audit`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from adapters.web.access import Role
from adapters.web.api.audit import AuditEntry, AuditLog
from adapters.web.api.keys import ApiKeys, KeyInfo
from adapters.web.api.table import ApiError, Call, Table

table = Table()
KEY_ID = r"[0-9a-f]{12}"


class KeyList(BaseModel):
    model_config = ConfigDict(frozen=True)

    keys: list[KeyInfo]


class CreateKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    name: str = Field(default="", max_length=80)


class CreatedKey(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: KeyInfo
    token: str = Field(description="shown this once: NOVACAST keeps only its hash")


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=1000)
    before: str | None = Field(
        default=None, pattern=r"^\d{1,20}-\d{1,20}$", description="an entry id: older ones"
    )


class AuditPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    entries: list[AuditEntry]
    next_before: str | None = Field(description="pass as ?before= for older entries")


def _keys(call: Call) -> ApiKeys:
    return ApiKeys(call.deps.connection)


@table.route(
    "GET",
    "/keys",
    summary="The workspace's API keys (never their secrets)",
    right="admin",
    response=KeyList,
    tag="admin",
)
async def list_keys(call: Call) -> KeyList:
    return KeyList(keys=_keys(call).list(call.workspace))


@table.route(
    "POST",
    "/keys",
    summary="A new API key for this workspace; its token is shown once",
    right="admin",
    response=CreatedKey,
    body=CreateKey,
    status=201,
    tag="admin",
)
async def create_key(call: Call) -> CreatedKey:
    body = call.body_as(CreateKey)
    made = _keys(call).create(call.workspace, body.role, body.name)
    return CreatedKey(key=made.info, token=made.token)


@table.route(
    "DELETE",
    "/keys/{key_id}",
    summary="Revoke an API key",
    right="admin",
    response=KeyInfo,
    errors=(404,),
    tag="admin",
    path_patterns={"key_id": KEY_ID},
)
async def revoke_key(call: Call) -> KeyInfo:
    revoked = _keys(call).revoke(call.path["key_id"], workspace=call.workspace)
    if revoked is None:
        raise ApiError(404, f"There is no key {call.path['key_id']} in this workspace.")
    return revoked


@table.route(
    "GET",
    "/audit",
    summary="Who changed what, newest first",
    right="admin",
    response=AuditPage,
    query=AuditQuery,
    tag="admin",
)
async def read_audit(call: Call) -> AuditPage:
    query = call.query_as(AuditQuery)
    try:
        entries = AuditLog(call.deps.connection).read(call.workspace, query.limit, query.before)
    except ValueError as error:
        raise ApiError(422, f"query.before: {error}") from None
    more = len(entries) == query.limit
    return AuditPage(entries=entries, next_before=entries[-1].id if more else None)
