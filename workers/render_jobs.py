"""RQ job functions: importable, functions of ids, idempotent through cached artifacts.

Each render step loads the project, checks it is still rendering the same version, does one
production step (a no-op when its artifact exists) and reports progress to the reply target.
Its work folder is named by `workers.render_plan.render_fingerprint`: the script (every shot's
`Candidate.key` included) and the voice that speaks it, so changing a shot or the voice
preference renders again.

The preview and full steps resolve every shot to a file through the media cache right before
they render (the prefetch job has usually filled it: a hit costs nothing; a miss downloads); a
shot that cannot be had shows its scene's background, and the user is told once per version.
Once the full video is made, its pictures join the workspace's history, so the next videos
choose others.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from bot import replies
from bot.events import ReplyTarget
from bot.handlers import workspace_key
from bot.project import Project, ProjectState, ProjectStore
from pipeline import telemetry
from pipeline.errors import PermanentError
from pipeline.media.history import ShotHistory
from pipeline.media.shots import shot_keys
from pipeline.music import bed_path
from pipeline.narration import Narration, Voice
from pipeline.produce import Workdir, make_captions, make_video, make_voice, run_checks
from pipeline.proxies import with_proxies
from pipeline.render import Profile
from pipeline.script import Script
from workers import runtime
from workers.media_jobs import missing, tell_notes
from workers.render_plan import render_voice, voice_preference, workdir_for
from workers.reporting import ProgressSpan, Reporter

log = logging.getLogger(__name__)


@dataclass
class RenderStep:
    """What every render step needs, loaded fresh from Redis."""

    connection: redis.Redis
    project: Project
    version: int
    script: Script
    work: Workdir
    report: Reporter
    preference: str | None = None
    """The requester's voice preference, read once per step (it also chose `work`)."""

    def narration(self) -> Narration:
        return make_voice(self.script, self.work, self.voice())

    def voice(self) -> Voice:
        """The requester's voice preference ("calm voice"), else the script's voice plan,
        else the default Piper voice."""
        return render_voice(self.project, self.version, self.preference)

    def video(self, profile: Profile, on_progress: ProgressSpan) -> Path:
        """The video of `profile`, made unless it exists (the making timed for /metrics)."""
        if self.work.video(profile).exists():
            return self._video(profile, on_progress)
        with telemetry.rendering(profile.value):
            return self._video(profile, on_progress)

    def _video(self, profile: Profile, on_progress: ProgressSpan) -> Path:
        music = bed_path(self.script.music) if self.script.music else None
        return make_video(
            self.script,
            self.narration(),
            self.work,
            profile,
            music=music,
            on_progress=on_progress,
            media=self.media(profile),
        )

    def media(self, profile: Profile) -> dict[str, Path]:
        """Every shot's file by `Candidate.key`, through the media cache; nothing when this
        profile's video is made already. What cannot be had is said once per version."""
        if self.work.video(profile).exists():
            return {}
        pictures = runtime.current().pictures
        if missing(self.script, pictures.cache):  # the prefetch did not run or is not done
            self.report.progress("pictures", 23 if profile is Profile.PREVIEW else 40)
        director = pictures.directors(self.workspace)
        fetched = director.fetch(self.script, pictures.cache)
        tell_notes(self.connection, self.project.id, self.version, fetched.notes, self.report.say)
        if profile is Profile.PREVIEW:  # the prefetch made small copies of the clips
            return with_proxies(pictures.cache.proxies_dir, self.script, fetched.files)
        return fetched.files

    @property
    def workspace(self) -> str:
        """How the asset store and the shot history name the project's workspace."""
        return workspace_key(self.project.conversation)


PARTIAL_STALE_SECONDS = 10
"""A temporary video unwritten this long belongs to a dead render (ffmpeg writes steadily)."""
RESUMED_AT = {
    "voice": ("voice", 2),
    "captions": ("captions", 20),
    "preview": ("preview", 24),
    "full-quality video": ("full quality", 41),
    "checks": ("checks", 95),
}
"""Where the progress message stands when a step runs again after its worker stopped."""


def _render_step(
    project_id: str,
    version: int,
    target: dict[str, Any],
    stage: str,
    preference: str | None = None,
) -> RenderStep | None:
    """The step's context, or None when the project moved on (cancelled, revised) meanwhile.

    `preference` is the voice preference frozen when the render was queued ("" for none), so
    every step of one chain speaks and files with the same voice even if the user changes it
    meanwhile; None (a job queued before that) reads the current one."""
    runtime.mark_stage(stage)
    connection = runtime.connection()
    project = ProjectStore(connection).get(project_id)
    if project is None or project.state is not ProjectState.RENDERING or project.current != version:
        log.info("project %s no longer rendering v%s; skipping %s", project_id, version, stage)
        return None
    reply = ReplyTarget.model_validate(target)
    if preference is None:
        preference = voice_preference(connection, project)
    step = RenderStep(
        connection=connection,
        project=project,
        version=version,
        script=project.versions[version - 1],
        work=workdir_for(project, version, preference or None),
        report=Reporter(connection, reply, runtime.progress_key(project_id, version)),
        preference=preference or None,
    )
    if runtime.resuming():  # its worker was killed: the artifacts made so far are reused
        log.warning("resuming %s of %s v%s after its worker stopped", stage, project_id, version)
        _sweep_partial_videos(step.work)
        step.report.resume(*RESUMED_AT.get(stage, (stage, 0)))
    return step


def _sweep_partial_videos(work: Workdir) -> None:
    """A killed render leaves its temporary file (the finished name is only ever renamed into
    place, so it is never taken for a video); remove those nobody has written to lately."""
    stale = time.time() - PARTIAL_STALE_SECONDS
    for partial in (*work.root.glob(".video.*"), *work.root.glob(".preview.*")):
        with contextlib.suppress(OSError):
            if partial.stat().st_mtime < stale:
                partial.unlink()


def voice(
    project_id: str, version: int, target: dict[str, Any], *, preference: str | None = None
) -> None:
    step = _render_step(project_id, version, target, "voice", preference)
    if step is not None:
        step.report.progress("voice", 2)
        step.narration()
        step.report.progress("voice", 20)


def captions(
    project_id: str, version: int, target: dict[str, Any], *, preference: str | None = None
) -> None:
    step = _render_step(project_id, version, target, "captions", preference)
    if step is not None:
        make_captions(step.narration(), step.work)
        step.report.progress("captions", 22)


def preview(
    project_id: str, version: int, target: dict[str, Any], *, preference: str | None = None
) -> None:
    step = _render_step(project_id, version, target, "preview", preference)
    if step is None:
        return
    video = step.video(Profile.PREVIEW, step.report.span("preview", 24, 40))
    step.report.preview(str(video), replies.quick_preview(version))


def full(
    project_id: str, version: int, target: dict[str, Any], *, preference: str | None = None
) -> None:
    step = _render_step(project_id, version, target, "full-quality video", preference)
    if step is None:
        return
    made_before = step.work.video(Profile.FULL).exists()
    step.video(Profile.FULL, step.report.span("full quality", 41, 94))
    if not made_before:
        ShotHistory(step.connection).record(step.workspace, shot_keys(step.script))


def checks(
    project_id: str, version: int, target: dict[str, Any], *, preference: str | None = None
) -> None:
    step = _render_step(project_id, version, target, "checks", preference)
    if step is None:
        return
    step.report.progress("checks", 95)
    video = step.work.video(Profile.FULL)
    narration = step.narration()
    report = run_checks(narration, video, step.work)
    if not report.ok:
        raise PermanentError(replies.failed_checks(report.problems))
    ProjectStore(step.connection).transition(
        project_id,
        {ProjectState.RENDERING},
        ProjectState.PREVIEW,
        rendered_version=version,
        preview_path=str(step.work.video(Profile.PREVIEW)),
        video_path=str(video),
    )
    step.report.progress("ready", 100, done=True)
    step.report.preview(
        str(video), replies.full_quality(step.script.title, version, narration.duration)
    )
    if step.project.auto_publish_by:
        _publish_show(step, ReplyTarget.model_validate(target))
        return
    step.report.ask_approval(project_id, replies.ASK_APPROVAL, replies.preview_buttons(project_id))


def _publish_show(step: RenderStep, target: ReplyTarget) -> None:
    """A show allowed to publish by itself: approved in the name of whoever set it up; the
    publish job is enqueued through the core's JobQueue port."""
    jobs = runtime.current().jobs
    approver = step.project.auto_publish_by or step.project.requester
    ProjectStore(step.connection).transition(
        step.project.id,
        {ProjectState.PREVIEW},
        ProjectState.APPROVED,
        approved_by=approver,
        approved_at=datetime.now(UTC),
    )
    jobs.publish(step.project.id, step.version, approver, target)
