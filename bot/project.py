"""A video project and its state machine, stored in Redis with atomic updates and transitions.

Draft → rendering → preview → approved → published, with rejected and cancelled as ends.
A failed render goes back to draft with `last_error`. Versions are append-only and never
renumbered: a rendered or published version number always means the same script.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from redis import Redis, WatchError

from bot.events import Conversation
from pipeline.script import Script


class ProjectState(StrEnum):
    DRAFT = "draft"
    RENDERING = "rendering"
    PREVIEW = "preview"
    APPROVED = "approved"
    PUBLISHED = "published"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


FINISHED = frozenset({ProjectState.PUBLISHED, ProjectState.REJECTED, ProjectState.CANCELLED})
"""States nothing leaves."""


def new_project_id() -> str:
    return secrets.token_hex(4)


def _now() -> datetime:
    return datetime.now(UTC)


class Project(BaseModel):
    """One video in the making. Version N is `versions[N - 1]`; `current` is the one shown."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=new_project_id, pattern=r"^[0-9a-f]{6,32}$")
    conversation: Conversation
    workspace: str = Field(min_length=1)
    requester: str = Field(min_length=1)
    state: ProjectState = ProjectState.DRAFT
    versions: list[Script] = Field(min_length=1)
    current: int = Field(default=1, ge=1)
    rendered_version: int | None = Field(default=None, ge=1)
    """The version whose full video passed checks (set by the render worker)."""
    preview_path: str = ""
    video_path: str = ""
    approved_by: str | None = None
    approved_at: datetime | None = None
    published_to: list[str] = Field(default_factory=list)
    last_error: str = ""
    auto_publish_by: str | None = None
    """Set on a show's video where policy lets it publish without asking: the approver who set
    the show up. The render's last step approves in their name and publishes."""
    experiments: dict[str, str] = Field(default_factory=dict)
    """A/B experiments this project is in: experiment name -> the variant it got (sticky)."""
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)
    rendering_since: datetime | None = None
    """When the render under way was asked for (set on entering rendering, cleared on leaving)."""
    render_seconds: float = Field(default=0.0, ge=0)
    """Wall-clock seconds this project spent rendering, every render counted (from Render
    pressed to ready or failed, queue wait included): what the usage report shows."""

    @model_validator(mode="after")
    def _consistent(self) -> Project:
        if self.current > len(self.versions):
            raise ValueError(f"current version {self.current} does not exist")
        if self.rendered_version is not None and self.rendered_version > len(self.versions):
            raise ValueError(f"rendered version {self.rendered_version} does not exist")
        if self.workspace != self.conversation.workspace:
            raise ValueError("workspace must be the conversation's workspace")
        return self

    @classmethod
    def start(
        cls,
        conversation: Conversation,
        script: Script,
        *,
        project_id: str | None = None,
        experiments: dict[str, str] | None = None,
    ) -> Project:
        """A new draft (v1) requested by the conversation's user."""
        return cls(
            id=project_id or new_project_id(),
            conversation=conversation,
            workspace=conversation.workspace,
            requester=conversation.user,
            versions=[script],
            experiments=experiments or {},
        )

    @property
    def script(self) -> Script:
        """The current version's script."""
        return self.versions[self.current - 1]

    @property
    def latest(self) -> int:
        return len(self.versions)

    @property
    def current_is_rendered(self) -> bool:
        return self.rendered_version == self.current and bool(self.video_path or self.preview_path)

    def evolve(self, **changes: Any) -> Project:
        """A validated copy with `changes` applied and `updated_at` refreshed (and the render
        clock run: entering rendering starts it, leaving adds to `render_seconds`)."""
        now = _now()
        data = {**self.model_dump(), **changes, "updated_at": now}
        data.update(self._render_clock(ProjectState(data["state"]), now))
        return Project.model_validate(data)

    def _render_clock(self, state: ProjectState, now: datetime) -> dict[str, Any]:
        rendering = ProjectState.RENDERING
        if state is rendering and self.state is not rendering:
            return {"rendering_since": now}
        if state is not rendering and self.state is rendering and self.rendering_since:
            spent = max(0.0, (now - self.rendering_since).total_seconds())
            return {"rendering_since": None, "render_seconds": self.render_seconds + spent}
        return {}

    def with_version(self, script: Script) -> Project:
        """A copy with `script` appended as the new current version, back in draft."""
        versions = [*self.versions, script]
        return self.evolve(versions=versions, current=len(versions), state=ProjectState.DRAFT)


class ProjectNotFound(LookupError):
    """No project with that id (expired, mistyped, or never created)."""

    def __init__(self, project_id: str) -> None:
        super().__init__(f"There is no project {project_id!r}.")
        self.project_id = project_id


class StateRefusal(Exception):
    """A transition that does not fit the project's state; `str()` is plain words."""

    def __init__(self, project: Project, wanted: ProjectState) -> None:
        super().__init__(
            f"Project {project.id} is {project.state.value}, so it can't become {wanted.value}."
        )
        self.project = project
        self.wanted = wanted


INDEX_MARKER_VERSION = "1"
"""Bumped when the index's shape changes: `backfill_index` runs again once."""


class ProjectPage(BaseModel):
    """One page of a workspace's projects, newest first; `next_cursor` fetches the next."""

    model_config = ConfigDict(frozen=True)

    projects: list[Project]
    next_cursor: str | None = None
    hashes: list[dict[str, str]] = Field(default_factory=list)
    """With `page(..., hashes=prefix)`: each project's hash `<prefix><id>`, in the same order."""


class ProjectStore:
    """Projects as JSON in Redis, plus which project each conversation is working on, plus a
    per-workspace index for listing.

    The index is one sorted set per adapter and workspace (`<prefix>:projects:<adapter>:
    <workspace>`), every member scored 0 and named `<created, microseconds, 16 digits>:<id>`, so
    members sort by creation time and a page is one ZREVRANGEBYLEX from an exclusive cursor (the
    last member seen): exact under concurrent inserts, O(log n + page) at any depth. It is
    written with the project on `create` and `save` (a project's adapter, workspace and creation
    time never change, so `update` needs no write).
    """

    def __init__(self, redis: Redis, prefix: str = "novacast", retries: int = 50) -> None:
        self.redis = redis
        self.prefix = prefix
        self.retries = retries
        self._page_lua: Any = None

    def _key(self, project_id: str) -> str:
        return f"{self.prefix}:project:{project_id}"

    def _active_key(self, conversation: Conversation) -> str:
        return f"{self.prefix}:active:{conversation.key}"

    def _index_key(self, adapter: str, workspace: str) -> str:
        return f"{self.prefix}:projects:{adapter}:{workspace}"

    def _index(self, project: Project) -> tuple[str, str]:
        """(the index this project is listed in, its member there)."""
        key = self._index_key(project.conversation.adapter, project.workspace)
        return key, index_member(project)

    def create(self, project: Project) -> Project:
        """Store a new project; refuses to overwrite an existing id."""
        if not self.redis.set(self._key(project.id), project.model_dump_json(), nx=True):
            raise ValueError(f"project {project.id} already exists")
        self.redis.zadd(*self._index_entry(project))
        return project

    def _index_entry(self, project: Project) -> tuple[str, dict[str, float]]:
        key, member = self._index(project)
        return key, {member: 0.0}

    def page(
        self,
        adapter: str,
        workspace: str,
        *,
        limit: int = 50,
        cursor: str | None = None,
        hashes: str = "",
    ) -> ProjectPage:
        """Up to `limit` projects of the workspace, newest first, after `cursor` (a page's
        `next_cursor`; None starts at the newest). A cursor that is not one of ours is a
        ValueError. Index entries whose project is gone are skipped (and dropped). With
        `hashes` (a key prefix), each project's hash `<hashes><id>` comes along in the same
        round trip (e.g. its LLM usage, which another module keeps)."""
        if cursor is not None and not _CURSOR.match(cursor):
            raise ValueError("not a cursor of this list")
        key = self._index_key(adapter, workspace)
        top = f"({cursor}" if cursor else "+"
        args = [top, limit, self._key(""), hashes]
        listed, found, extra = self._page_script(keys=[key], args=args)
        members = [_text(m) for m in listed]
        kept = [i for i, raw in enumerate(found) if raw is not None]
        gone = [m for m, raw in zip(members, found, strict=True) if raw is None]
        if gone:
            self.redis.zrem(key, *gone)
        return ProjectPage(
            projects=[Project.model_validate_json(found[i]) for i in kept],
            next_cursor=members[-1] if len(members) == limit else None,
            hashes=[_pairs(extra[i]) for i in kept] if hashes else [],
        )

    @property
    def _page_script(self) -> Any:
        """One round trip for a page: the index range and each project's JSON (a Lua script,
        registered once per store; EVALSHA after the first call)."""
        if self._page_lua is None:
            self._page_lua = self.redis.register_script(_PAGE_LUA)
        return self._page_lua

    def count(self, adapter: str, workspace: str) -> int:
        """How many projects the workspace's index lists."""
        return int(self.redis.zcard(self._index_key(adapter, workspace)))

    def backfill_index(self, batch: int = 500) -> int:
        """List every stored project in its workspace's index (projects stored before the index
        existed); once per index version, marked in Redis. Returns how many it added."""
        marker = f"{self.prefix}:projects-indexed"
        if _text(self.redis.get(marker) or b"") == INDEX_MARKER_VERSION:
            return 0
        added = 0
        keys: list[bytes] = []
        for key in self.redis.scan_iter(match=f"{self.prefix}:project:*", count=batch):
            keys.append(key)
            if len(keys) >= batch:
                added += self._index_stored(keys)
                keys = []
        added += self._index_stored(keys)
        self.redis.set(marker, INDEX_MARKER_VERSION)
        return added

    def _index_stored(self, keys: list[bytes]) -> int:
        if not keys:
            return 0
        with self.redis.pipeline(transaction=False) as pipe:
            for raw in self.redis.mget(keys):
                if raw is not None:
                    pipe.zadd(*self._index_entry(Project.model_validate_json(raw)))
            return sum(int(n) for n in pipe.execute())

    def get(self, project_id: str) -> Project | None:
        raw = self.redis.get(self._key(project_id))
        return None if raw is None else Project.model_validate_json(raw)

    def get_for(
        self, workspace: str, project_id: str, adapter: str | None = None
    ) -> Project | None:
        """The project only if it belongs to `workspace` (and `adapter`, when given)."""
        project = self.get(project_id) if _plausible_id(project_id) else None
        if project is None or project.workspace != workspace:
            return None
        if adapter is not None and project.conversation.adapter != adapter:
            return None
        return project

    def save(self, project: Project) -> Project:
        """Overwrite unconditionally; prefer `update` or `transition` for changes."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self._key(project.id), project.model_dump_json())
            pipe.zadd(*self._index_entry(project))
            pipe.execute()
        return project

    def update(self, project_id: str, fn: Callable[[Project], Project]) -> Project:
        """Apply `fn` to the stored project atomically (WATCH/MULTI, retried on conflict).

        `fn` may raise (e.g. `StateRefusal`) to abort without writing; it may run more than once.
        """
        key = self._key(project_id)
        for _ in range(self.retries):
            with self.redis.pipeline() as pipe:
                try:
                    return self._update_once(pipe, key, project_id, fn)
                except WatchError:
                    continue
        raise RuntimeError(f"project {project_id}: too many concurrent updates")

    def _update_once(
        self, pipe: Any, key: str, project_id: str, fn: Callable[[Project], Project]
    ) -> Project:
        pipe.watch(key)
        raw = pipe.get(key)
        if raw is None:
            raise ProjectNotFound(project_id)
        updated = fn(Project.model_validate_json(raw))
        if updated.id != project_id:
            raise ValueError("an update must not change the project id")
        pipe.multi()
        pipe.set(key, updated.model_dump_json())
        pipe.execute()
        return updated

    def transition(
        self,
        project_id: str,
        allowed_from: AbstractSet[ProjectState],
        to: ProjectState,
        **changes: Any,
    ) -> Project:
        """Move to `to` only from `allowed_from`, applying `changes`; raises `StateRefusal`."""

        def apply(project: Project) -> Project:
            if project.state not in allowed_from:
                raise StateRefusal(project, to)
            return project.evolve(**changes, state=to)

        return self.update(project_id, apply)

    def active(self, conversation: Conversation) -> Project | None:
        """The project this conversation is working on, if it still exists."""
        project_id = self.redis.get(self._active_key(conversation))
        return None if project_id is None else self.get(_text(project_id))

    def set_active(self, conversation: Conversation, project_id: str) -> None:
        self.redis.set(self._active_key(conversation), project_id)


_PAGE_LUA = """
local members = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[1], '-', 'LIMIT', 0, tonumber(ARGV[2]))
local found, hashes = {}, {}
for i, member in ipairs(members) do
  local id = string.match(member, ':(.*)$')
  found[i] = redis.call('GET', ARGV[3] .. id)
  hashes[i] = ARGV[4] ~= '' and redis.call('HGETALL', ARGV[4] .. id) or {}
end
return {members, found, hashes}
"""
"""A page of the index, the projects it names (a missing project comes back as nil) and, when
ARGV[4] is a key prefix, each one's hash under it."""
_CURSOR = re.compile(r"^\d{16}:[0-9a-f]{6,32}$")


def index_member(project: Project) -> str:
    """A project's member in its workspace's index: sorts by creation time, then id."""
    micros = int(project.created_at.timestamp() * 1_000_000)
    return f"{micros:016d}:{project.id}"


def _pairs(flat: list[bytes]) -> dict[str, str]:
    """HGETALL's flat reply from a script ([k1, v1, k2, v2...]) as a dict."""
    return {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _plausible_id(project_id: str) -> bool:
    return 6 <= len(project_id) <= 32 and all(c in "0123456789abcdef" for c in project_id)
