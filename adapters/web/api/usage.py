"""What projects cost: language-model tokens and dollars (`pipeline.llm.usage.UsageLedger`, kept
per project by the writer) and seconds of rendering (`Project.render_seconds`, kept by the
project store as a render starts and ends). Per project, for a page of projects at once (one
round trip), and per workspace (every project in the workspace's index)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import redis
from pydantic import BaseModel, ConfigDict, Field

from adapters.web.access import ADAPTER
from adapters.web.api.table import Call, Table
from bot.project import Project, ProjectPage, ProjectStore
from pipeline.llm.usage import Usage, UsageLedger

table = Table()
_PAGE = 500


class UsageOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = Field(default=0, description="language-model calls")
    cost_usd: float = Field(default=0.0, description="by models.yaml's price table")
    render_seconds: float = Field(
        default=0.0, description="wall-clock seconds from Render to ready (queue included)"
    )


class WorkspaceUsage(BaseModel):
    model_config = ConfigDict(frozen=True)

    workspace: str
    projects: int
    total: UsageOut


def _ledger(connection: redis.Redis) -> UsageLedger:
    return UsageLedger(connection, prices={})  # reading totals needs no prices


def usages(connection: redis.Redis, projects: Sequence[Project]) -> list[UsageOut]:
    """Each project's usage, in one round trip."""
    ledger = _ledger(connection)
    with connection.pipeline(transaction=False) as pipe:
        for project in projects:
            pipe.hgetall(ledger.key(project.id))
        raws = pipe.execute()
    return [_usage(raw, p.render_seconds) for p, raw in zip(projects, raws, strict=True)]


def usage_prefix(connection: redis.Redis) -> str:
    """The key prefix of the projects' usage hashes (for `ProjectStore.page(hashes=...)`)."""
    return _ledger(connection).key("")


def page_usages(page: ProjectPage) -> list[UsageOut]:
    """The usage of each project of a page fetched with `hashes=usage_prefix(...)`."""
    return [
        _usage(raw, p.render_seconds) for p, raw in zip(page.projects, page.hashes, strict=True)
    ]


def _usage(raw: Mapping[bytes, bytes] | Mapping[str, str], render_seconds: float) -> UsageOut:
    tokens = Usage.of_hash(raw)
    return UsageOut(**tokens.model_dump(), render_seconds=round(render_seconds, 3))


def _sum(items: Sequence[UsageOut]) -> UsageOut:
    return UsageOut(
        input_tokens=sum(u.input_tokens for u in items),
        output_tokens=sum(u.output_tokens for u in items),
        calls=sum(u.calls for u in items),
        cost_usd=round(sum(u.cost_usd for u in items), 6),
        render_seconds=round(sum(u.render_seconds for u in items), 3),
    )


def workspace_usage(connection: redis.Redis, workspace: str) -> WorkspaceUsage:
    store = ProjectStore(connection)
    totals: list[UsageOut] = []
    count, cursor = 0, None
    prefix = usage_prefix(connection)
    while True:
        page = store.page(ADAPTER, workspace, limit=_PAGE, cursor=cursor, hashes=prefix)
        count += len(page.projects)
        totals.append(_sum(page_usages(page)))
        cursor = page.next_cursor
        if cursor is None:
            return WorkspaceUsage(workspace=workspace, projects=count, total=_sum(totals))


@table.route(
    "GET",
    "/usage",
    summary="Tokens, cost and render seconds of every project in the workspace",
    right="view",
    response=WorkspaceUsage,
    tag="usage",
)
async def get_usage(call: Call) -> WorkspaceUsage:
    return await asyncio.to_thread(workspace_usage, call.deps.connection, call.workspace)
