"""/api/v1/projects: list (by cursor), get, versions, and the changes the chat makes (create from
an idea, revise, render, approve, reject), which go through the core (`adapters.web.api.core`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from adapters.media_links import MediaLinks
from adapters.web.access import ADAPTER
from adapters.web.api import core
from adapters.web.api.table import ApiError, Call, Table
from adapters.web.api.usage import UsageOut, page_usages, usage_prefix, usages
from bot.actions import ButtonAction, JobsStarted, Preview
from bot.project import Project, ProjectState, ProjectStore
from pipeline.script import Script

table = Table()
SHOW_IDEA = (
    "body.idea: it starts with a recurring time, which the chat reads as a show; "
    "make shows with POST /api/v1/schedules (when, idea)."
)
PROJECT_ID = r"[0-9a-f]{6,32}"
_PATH = {"project_id": PROJECT_ID}
TAG = "projects"


class ProjectOut(BaseModel):
    """A project as the API shows it: its state, its current version's headline, its videos."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    idea: str
    state: ProjectState
    current_version: int
    latest_version: int
    rendered_version: int | None
    target_seconds: int
    aspect: str
    requester: str
    approved_by: str | None
    approved_at: datetime | None
    published_to: list[str]
    last_error: str
    experiments: dict[str, str]
    usage: UsageOut = Field(description="tokens, cost and render seconds so far")
    preview_url: str | None = Field(description="a signed, expiring link to the quick preview")
    video_url: str | None = Field(description="a signed, expiring link to the full video")
    created_at: datetime
    updated_at: datetime


class ProjectPageOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    projects: list[ProjectOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null: end")


class VersionOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    current: bool
    rendered: bool
    title: str
    hook: str
    sentences: list[str]
    scenes: list[str] = Field(description="the scenes' titles, in order")
    target_seconds: int
    aspect: str
    writer: str


class VersionsOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    project_id: str
    versions: list[VersionOut]


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(
        default=None,
        pattern=r"^\d{16}:[0-9a-f]{6,32}$",
        description="a page's next_cursor (the last project's place in the list)",
    )


class CreateProject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idea: str = Field(min_length=1, max_length=2000, description="as typed after /make")


class Revise(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instruction: str = Field(min_length=1, max_length=2000, examples=["shorter, and a joke"])


def _link(links: MediaLinks, path: str) -> str | None:
    if not path:
        return None
    try:
        return links.url_for(Path(path))
    except (ValueError, OSError):
        return None


def project_out(project: Project, links: MediaLinks, usage: UsageOut) -> ProjectOut:
    script = project.script
    return ProjectOut(
        id=project.id,
        title=script.title,
        idea=script.idea,
        state=project.state,
        current_version=project.current,
        latest_version=project.latest,
        rendered_version=project.rendered_version,
        target_seconds=script.target_seconds,
        aspect=script.aspect.value,
        requester=project.requester,
        approved_by=project.approved_by,
        approved_at=project.approved_at,
        published_to=project.published_to,
        last_error=project.last_error,
        experiments=project.experiments,
        usage=usage,
        preview_url=_link(links, project.preview_path),
        video_url=_link(links, project.video_path),
        created_at=project.created_at,
        updated_at=project.updated_at,
    )


def _version(project: Project, number: int, script: Script) -> VersionOut:
    return VersionOut(
        number=number,
        current=number == project.current,
        rendered=number == project.rendered_version,
        title=script.title,
        hook=script.hook,
        sentences=script.sentences,
        scenes=[scene.title for scene in script.scenes],
        target_seconds=script.target_seconds,
        aspect=script.aspect.value,
        writer=script.writer,
    )


def shown(call: Call, project: Project) -> ProjectOut:
    """`project` as answered, with its usage."""
    return project_out(project, call.deps.links, usages(call.deps.connection, [project])[0])


def store(call: Call) -> ProjectStore:
    return ProjectStore(call.deps.connection)


def found(call: Call, project_id: str | None = None) -> Project:
    """The workspace's web project named in the path (404 for any other)."""
    wanted = project_id or call.path["project_id"]
    project = store(call).get_for(call.workspace, wanted, adapter=ADAPTER)
    if project is None:
        raise ApiError(404, f"There is no project {wanted} in this workspace.")
    return project


@table.route(
    "GET",
    "/projects",
    summary="The workspace's projects, newest first, a page at a time",
    right="view",
    response=ProjectPageOut,
    query=PageQuery,
    tag=TAG,
)
async def list_projects(call: Call) -> ProjectPageOut:
    query = call.query_as(PageQuery)
    page = store(call).page(
        ADAPTER,
        call.workspace,
        limit=query.limit,
        cursor=query.cursor,  # its shape checked by PageQuery: the store's ValueError can't come
        hashes=usage_prefix(call.deps.connection),
    )
    links, used = call.deps.links, page_usages(page)
    listed = [project_out(p, links, u) for p, u in zip(page.projects, used, strict=True)]
    return ProjectPageOut(projects=listed, next_cursor=page.next_cursor)


@table.route(
    "GET",
    "/projects/{project_id}",
    summary="One project",
    right="view",
    response=ProjectOut,
    errors=(404,),
    tag=TAG,
    path_patterns=_PATH,
)
async def get_project(call: Call) -> ProjectOut:
    return shown(call, found(call))


@table.route(
    "GET",
    "/projects/{project_id}/versions",
    summary="Every version of a project's script",
    right="view",
    response=VersionsOut,
    errors=(404,),
    tag=TAG,
    path_patterns=_PATH,
)
async def project_versions(call: Call) -> VersionsOut:
    project = found(call)
    versions = [_version(project, n, s) for n, s in enumerate(project.versions, start=1)]
    return VersionsOut(project_id=project.id, versions=versions)


@table.route(
    "GET",
    "/projects/{project_id}/usage",
    summary="A project's tokens, cost and render seconds",
    right="view",
    response=UsageOut,
    errors=(404,),
    tag=TAG,
    path_patterns=_PATH,
)
async def project_usage(call: Call) -> UsageOut:
    return usages(call.deps.connection, [found(call)])[0]


@table.route(
    "POST",
    "/projects",
    summary="A new draft from an idea (what /make does in the chat)",
    right="edit",
    response=ProjectOut,
    body=CreateProject,
    status=201,
    errors=(409, 429),
    tag=TAG,
)
async def create_project(call: Call) -> ProjectOut:
    idea = call.body_as(CreateProject).idea
    if core.reads_as_show(idea):
        raise ApiError(422, SHOW_IDEA)
    answer = await core.ask(call, core.command(call.principal, "make", idea))
    made = answer.button_ids(ButtonAction.RENDER)
    if not made:
        raise answer.refusal(call)
    return shown(call, found(call, made[0]))


@table.route(
    "POST",
    "/projects/{project_id}/revise",
    summary="A new version from an instruction (what a reply to a draft does in the chat)",
    right="edit",
    response=ProjectOut,
    body=Revise,
    errors=(404, 409, 429),
    tag=TAG,
    path_patterns=_PATH,
)
async def revise_project(call: Call) -> ProjectOut:
    before = found(call)
    core.activate(store(call), call.principal, before.id)
    instruction = call.body_as(Revise).instruction
    event = core.command(call.principal, "revise", instruction, project_id=before.id)
    answer = await core.ask(call, event)
    after = found(call)
    if after.latest <= before.latest:
        raise answer.refusal(call)
    return shown(call, after)


async def _press(call: Call, action: ButtonAction) -> tuple[Project, core.Answer, Project]:
    before = found(call)
    answer = await core.ask(call, core.button(call.principal, action, before.id))
    return before, answer, found(call)


@table.route(
    "POST",
    "/projects/{project_id}/render",
    summary="Render the current version (the Render button); progress goes to the API channel",
    right="edit",
    response=ProjectOut,
    status=202,
    errors=(404, 409, 429),
    tag=TAG,
    path_patterns=_PATH,
)
async def render_project(call: Call) -> ProjectOut:
    _, answer, after = await _press(call, ButtonAction.RENDER)
    if not answer.started(JobsStarted, Preview):
        raise answer.refusal(call)
    return shown(call, after)


@table.route(
    "POST",
    "/projects/{project_id}/approve",
    summary="Approve the rendered version and publish it (the Approve & publish button)",
    right="approve",
    response=ProjectOut,
    status=202,
    errors=(404, 409, 429),
    tag=TAG,
    path_patterns=_PATH,
)
async def approve_project(call: Call) -> ProjectOut:
    _, answer, after = await _press(call, ButtonAction.APPROVE)
    if not answer.started(JobsStarted):
        raise answer.refusal(call)
    return shown(call, after)


@table.route(
    "POST",
    "/projects/{project_id}/reject",
    summary="Reject the rendered version",
    right="approve",
    response=ProjectOut,
    errors=(404, 409, 429),
    tag=TAG,
    path_patterns=_PATH,
)
async def reject_project(call: Call) -> ProjectOut:
    before, answer, after = await _press(call, ButtonAction.REJECT)
    if after.state is not ProjectState.REJECTED or before.state is ProjectState.REJECTED:
        raise answer.refusal(call)
    return shown(call, after)
