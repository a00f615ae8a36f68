"""The publish job: send an approved version to the workspace's targets, once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.events import ReplyTarget
from bot.project import Project, ProjectState, ProjectStore
from pipeline.errors import PermanentError
from pipeline.probe import probe
from pipeline.publish import Publisher, PublishRequest, PublishResult
from pipeline.publish.folder import FolderPublisher
from pipeline.settings import load_settings
from policy import load_policy
from workers.jobs import _connection, _mark_stage, progress_key
from workers.reporting import Reporter

PUBLISHERS: dict[str, Callable[[], Publisher]] = {
    "folder": lambda: FolderPublisher(load_settings().data_dir / "published"),
}
"""Publish targets by the name policy.yaml uses for them."""


def publishers_for(project: Project) -> list[Publisher]:
    """The targets policy names for the project's workspace; an unknown name fails plainly."""
    names = load_policy().publish_targets(project.conversation.adapter, project.workspace)
    unknown = [name for name in names if name not in PUBLISHERS]
    if unknown:
        raise PermanentError(f"the policy names publish targets that do not exist: {unknown}")
    return [PUBLISHERS[name]() for name in names]


def _request(project: Project, version: int, approver: str) -> PublishRequest:
    script = project.versions[version - 1]
    if not project.video_path or not Path(project.video_path).exists():
        raise PermanentError("the rendered video is missing; press Render to make it again")
    return PublishRequest(
        video=Path(project.video_path),
        workspace=project.workspace,
        project_id=project.id,
        version=version,
        title=script.title,
        sentences=script.narration,
        approved_by=approver,
        approved_at=project.approved_at or datetime.now(UTC),
        metadata={"duration": round(probe(Path(project.video_path)).duration, 2)},
    )


def publish(project_id: str, version: int, approver: str, target: dict[str, Any]) -> list[str]:
    """Publish to every target; returns where the video went. Safe to run again."""
    _mark_stage("publish")
    connection = _connection()
    store = ProjectStore(connection)
    project = store.get(project_id)
    if project is None or project.state is not ProjectState.APPROVED:
        return project.published_to if project is not None else []
    request = _request(project, version, approver)
    results: list[PublishResult] = [p.publish(request) for p in publishers_for(project)]
    locations = [f"{r.target}: {r.location}" for r in results]
    store.transition(
        project_id, {ProjectState.APPROVED}, ProjectState.PUBLISHED, published_to=locations
    )
    reporter = Reporter(
        connection, ReplyTarget.model_validate(target), progress_key(project_id, version)
    )
    where = "\n".join(f"• {line}" for line in locations)
    reporter.say(f"Published “{request.title}” (v{version}), approved by {approver}:\n{where}")
    return locations
