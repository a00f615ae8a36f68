"""RQ job functions: importable, functions of ids, idempotent through cached artifacts.

Each render step loads the project, checks it is still rendering the same version, does one
production step (a no-op when its artifact exists) and reports progress to the reply target.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from rq import get_current_job

from bot import replies
from bot.events import ReplyTarget
from bot.preferences import PreferenceStore
from bot.project import Project, ProjectState, ProjectStore
from pipeline.errors import PermanentError
from pipeline.music import bed_path
from pipeline.narration import Narration, Voice
from pipeline.produce import Workdir, fingerprint, make_captions, make_video, make_voice, run_checks
from pipeline.render import Profile
from pipeline.script import Script
from pipeline.settings import load_settings
from pipeline.voice.select import VoiceChoice, voice_for
from workers.reporting import ProgressSpan, Reporter

log = logging.getLogger(__name__)


def progress_key(project_id: str, version: int) -> str:
    return f"{project_id}:v{version}"


def workdir_for(project: Project, version: int) -> Workdir:
    script = project.versions[version - 1]
    root = load_settings().media_dir(project.workspace, project.id)
    return Workdir(root / f"v{version}-{fingerprint(script)}")


@dataclass
class RenderStep:
    """What every render step needs, loaded fresh from Redis."""

    connection: redis.Redis
    project: Project
    version: int
    script: Script
    work: Workdir
    report: Reporter

    def narration(self) -> Narration:
        return make_voice(self.script, self.work, self.voice())

    def voice(self) -> Voice:
        """The requester's voice preference ("calm voice"), else the default Piper voice."""
        preferred = PreferenceStore(self.connection).get(self.project.conversation).voice
        return voice_for(VoiceChoice(preference=preferred) if preferred else None)

    def video(self, profile: Profile, on_progress: ProgressSpan) -> Path:
        music = bed_path(self.script.music) if self.script.music else None
        return make_video(
            self.script, self.narration(), self.work, profile, music=music, on_progress=on_progress
        )


def _connection() -> redis.Redis:
    job = get_current_job()
    if job is None:
        raise RuntimeError("job functions run inside an RQ worker")
    conn: redis.Redis = job.connection
    return conn


def _mark_stage(stage: str) -> None:
    job = get_current_job()
    if job is not None:
        job.meta["stage"] = stage
        job.save_meta()  # type: ignore[no-untyped-call]


def _render_step(
    project_id: str, version: int, target: dict[str, Any], stage: str
) -> RenderStep | None:
    """The step's context, or None when the project moved on (cancelled, revised) meanwhile."""
    _mark_stage(stage)
    connection = _connection()
    project = ProjectStore(connection).get(project_id)
    if project is None or project.state is not ProjectState.RENDERING or project.current != version:
        log.info("project %s no longer rendering v%s; skipping %s", project_id, version, stage)
        return None
    reply = ReplyTarget.model_validate(target)
    return RenderStep(
        connection=connection,
        project=project,
        version=version,
        script=project.versions[version - 1],
        work=workdir_for(project, version),
        report=Reporter(connection, reply, progress_key(project_id, version)),
    )


def voice(project_id: str, version: int, target: dict[str, Any]) -> None:
    step = _render_step(project_id, version, target, "voice")
    if step is not None:
        step.report.progress("voice", 2)
        step.narration()
        step.report.progress("voice", 20)


def captions(project_id: str, version: int, target: dict[str, Any]) -> None:
    step = _render_step(project_id, version, target, "captions")
    if step is not None:
        make_captions(step.narration(), step.work)
        step.report.progress("captions", 22)


def preview(project_id: str, version: int, target: dict[str, Any]) -> None:
    step = _render_step(project_id, version, target, "preview")
    if step is None:
        return
    video = step.video(Profile.PREVIEW, step.report.span("preview", 24, 40))
    step.report.preview(
        str(video), f"Quick preview of v{version} (low resolution). Full quality is on its way."
    )


def full(project_id: str, version: int, target: dict[str, Any]) -> None:
    step = _render_step(project_id, version, target, "full-quality video")
    if step is None:
        return
    step.video(Profile.FULL, step.report.span("full quality", 41, 94))


def checks(project_id: str, version: int, target: dict[str, Any]) -> None:
    step = _render_step(project_id, version, target, "checks")
    if step is None:
        return
    step.report.progress("checks", 95)
    video = step.work.video(Profile.FULL)
    narration = step.narration()
    report = run_checks(narration, video, step.work)
    if not report.ok:
        raise PermanentError("the finished video failed its checks: " + "; ".join(report.problems))
    ProjectStore(step.connection).transition(
        project_id,
        {ProjectState.RENDERING},
        ProjectState.PREVIEW,
        rendered_version=version,
        preview_path=str(step.work.video(Profile.PREVIEW)),
        video_path=str(video),
    )
    step.report.progress("ready", 100, done=True)
    caption = f"“{step.script.title}” — v{version}, {narration.duration:.0f}s, full quality."
    step.report.preview(str(video), caption)
    if step.project.auto_publish_by:
        _publish_show(step, ReplyTarget.model_validate(target))
        return
    step.report.ask_approval(project_id, replies.ASK_APPROVAL, replies.preview_buttons(project_id))


def _publish_show(step: RenderStep, target: ReplyTarget) -> None:
    """A show allowed to publish by itself: approved in the name of whoever set it up."""
    from workers.queues import RQJobQueue  # queues imports this module

    approver = step.project.auto_publish_by or step.project.requester
    ProjectStore(step.connection).transition(
        step.project.id,
        {ProjectState.PREVIEW},
        ProjectState.APPROVED,
        approved_by=approver,
        approved_at=datetime.now(UTC),
    )
    RQJobQueue(step.connection).publish(step.project.id, step.version, approver, target)
