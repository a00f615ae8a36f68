"""One handler per thing a user can ask for; each answers with outbound actions.

Handlers change projects only through the store's atomic `update`/`transition`, so a double
click or two replicas handling the same conversation never produce two transitions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime

from bot import replies
from bot.actions import (
    Action,
    AskApproval,
    Button,
    ButtonAction,
    JobsStarted,
    Preview,
    Progress,
    Say,
)
from bot.events import ButtonEvent, CommandEvent, Conversation, MessageEvent, ReplyTarget
from bot.intents import is_like_last
from bot.job_queue import JobQueue
from bot.later import QUIET_SECONDS, Later
from bot.moderation import Moderator, render_limited_reply
from bot.preferences import Preferences, PreferenceStore, Verb, apply, read_statement
from bot.project import Project, ProjectState, ProjectStore, StateRefusal, new_project_id
from bot.recall import Recall
from pipeline.brief import Brief, parse_brief
from pipeline.errors import PipelineError
from pipeline.media.assets import AssetStore
from pipeline.media.director import Director, Storyboarded
from pipeline.script import Aspect, Revision, Script, Writer, for_project, variants_of
from policy import Approval, Policy, approval_permission, edit_permission

log = logging.getLogger(__name__)

Event = MessageEvent | CommandEvent | ButtonEvent
EDITABLE = frozenset({ProjectState.DRAFT, ProjectState.PREVIEW})
CANCELLABLE = {ProjectState.DRAFT, ProjectState.RENDERING, ProjectState.PREVIEW}
Directors = Callable[[str], Director]
"""The picture director for a workspace (`"<adapter>:<workspace id>"`): its sources include
the workspace's own uploads, so each workspace gets its own."""
STORYBOARD_SECONDS = 30.0
"""How long a draft or an edit waits for its pictures; then it goes out with the backgrounds.
Choosing takes a second or two (each source has its own 2 s search deadline); the bound is for
a hang, and leaves room for the embedding model's first load in a fresh process (~7-20 s)."""
_PICTURE_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="storyboard")


@dataclass(frozen=True)
class Context:
    """The event being handled and where its replies go."""

    event: Event

    @property
    def conversation(self) -> Conversation:
        return self.event.conversation

    @property
    def target(self) -> ReplyTarget:
        return ReplyTarget.of(self.event.conversation)

    @property
    def who(self) -> str:
        return self.conversation.user_name or self.conversation.user

    def say(self, text: str, buttons: Sequence[Button] = ()) -> list[Action]:
        return [Say(target=self.target, text=text, buttons=list(buttons))]

    def tell(self, text: str) -> list[Action]:
        """A reply only the person who acted sees, where the platform can do that."""
        return [Say(target=self.target, text=text, ephemeral=True)]


def approval_by(ctx: Context, requester: str) -> Approval:
    """The person acting, as the approval policy reads them: roles from the event's speaker."""
    where, speaker = ctx.conversation, ctx.event.speaker
    return Approval(
        adapter=where.adapter,
        workspace=where.workspace,
        user=speaker.id,
        requester=requester,
        is_admin=speaker.is_admin,
        groups=speaker.groups,
    )


class DraftChanged(Exception):
    """The project moved on while a writer was revising an older version."""


class Handlers:
    def __init__(
        self,
        store: ProjectStore,
        writer: Writer,
        jobs: JobQueue,
        policy: Policy,
        moderator: Moderator,
        *,
        preferences: PreferenceStore | None = None,
        recall: Recall | None = None,
        pictures: Directors | None = None,
        assets: AssetStore | None = None,
    ) -> None:
        """`pictures` gives the director that chooses each draft's shots (without it drafts
        show the backgrounds); `assets` keeps the workspaces' uploads."""
        self.store = store
        self.writer = writer
        self.jobs = jobs
        self.policy = policy
        self.moderator = moderator
        self.preferences = preferences
        self.recall = recall
        self.pictures = pictures
        self.assets = assets
        self._drafting = 0  # drafts being made right now, by any thread
        self._drafting_lock = threading.Lock()
        self._burst_at = -QUIET_SECONDS  # when a draft was last found to be in a burst
        self._later = Later("prefetch-later")  # by project id

    # --- a new project ------------------------------------------------------------------------

    def make(self, ctx: Context, idea: str) -> list[Action]:
        with self._drafting_lock:
            self._drafting += 1
            # a draft that starts moments after one made in a burst is still in that burst
            # (two core threads do not always overlap in `_draft`, even with events queued)
            carried = self.bursting()
        try:
            return self._make(ctx, idea, in_burst=carried)
        finally:
            with self._drafting_lock:
                self._drafting -= 1

    def bursting(self) -> bool:
        """A draft was made in a burst moments ago (within `QUIET_SECONDS`): what an event
        does that nobody reads on the way to its answer can wait (`bot.later`)."""
        return time.monotonic() - self._burst_at < QUIET_SECONDS

    def _make(self, ctx: Context, idea: str, *, in_burst: bool = False) -> list[Action]:
        idea, lead = self._resolve(ctx, idea.strip())
        if not idea:
            return ctx.say(lead or replies.ASK_IDEA)
        refusal = self.moderator.check_idea(idea)
        if refusal is not None:
            return ctx.say(refusal.reason)
        brief, used = self._brief(ctx, idea)
        if not brief.topic:
            return ctx.say(replies.ASK_IDEA)
        lead = lead or self._heads_up(ctx, brief.topic)
        lead = replies.joined(lead, replies.using_preferences(used))
        return self._draft(ctx, idea, brief, lead, in_burst=in_burst)

    def _draft(
        self, ctx: Context, idea: str, brief: Brief, lead: str, *, in_burst: bool = False
    ) -> list[Action]:
        """Write, store and post the first draft of `brief`; `lead` goes above it."""
        seconds = self.policy.limits.clamp_seconds(brief.seconds)
        project_id = new_project_id()
        writer = for_project(self.writer, project_id, workspace_key(ctx.conversation))
        script = self._write(writer, brief.topic, brief.tone.value, seconds, brief.aspect)
        if isinstance(script, str):
            return ctx.say(script)
        board = self.storyboard(script, ctx.conversation)
        script = board.script
        started = Project.start(
            ctx.conversation, script, project_id=project_id, experiments=variants_of(writer)
        )
        project = self.store.create(started)
        self.store.set_active(ctx.conversation, project.id)
        burst = in_burst or self._drafting > 1  # what a draft in a burst does not show waits
        if burst:
            self._burst_at = time.monotonic()
        if self.recall is not None:
            self.recall.created(project, idea, brief.topic, later=burst)
        fetching = self._prefetch(ctx, project, later=burst)
        note = replies.joined(
            lead, replies.seconds_note(brief.seconds, seconds, self.policy.limits)
        )
        text = replies.new_draft(project, note, board.notes)
        return [*ctx.say(text, replies.draft_buttons(project.id)), *fetching]

    def _resolve(self, ctx: Context, idea: str) -> tuple[str, str]:
        """The idea to make and a note to lead the draft: "like the last one" is looked up."""
        if not idea or not is_like_last(idea):
            return idea, ""
        last = self.recall.last(ctx.conversation) if self.recall is not None else None
        if last is None:
            return "", replies.NO_LAST_PROJECT
        return last.idea, replies.like_last(last)

    def _brief(self, ctx: Context, idea: str) -> tuple[Brief, Preferences]:
        """What was asked for, with the user's preferences filling what the idea left open."""
        brief = parse_brief(idea)
        if self.preferences is None:
            return brief, Preferences()
        return apply(brief, self.preferences.get(ctx.conversation))

    def _heads_up(self, ctx: Context, topic: str) -> str:
        similar = self.recall.similar(ctx.conversation, topic) if self.recall else None
        return replies.heads_up(similar) if similar is not None else ""

    # --- preferences --------------------------------------------------------------------------

    def preference(self, ctx: Context, text: str) -> list[Action]:
        """Set, forget or show the user's defaults, as `text` says."""
        statement = read_statement(text) or read_statement(text, lenient=True)
        if statement is None or self.preferences is None:
            return ctx.say(replies.ASK_PREFERENCE)
        conversation = ctx.conversation
        if statement.verb is Verb.SET:
            now = self.preferences.update(conversation, statement.preferences)
            return ctx.say(replies.preferences_saved(statement.preferences, now))
        if statement.verb is Verb.FORGET:
            self.preferences.forget(conversation, statement.fields)
            now = self.preferences.get(conversation)
            return ctx.say(replies.preferences_forgotten(statement.fields, now))
        return ctx.say(replies.preferences_shown(self.preferences.get(conversation)))

    @staticmethod
    def _write(
        writer: Writer, topic: str, tone: str, seconds: int, aspect: Aspect | None
    ) -> Script | str:
        """A first draft, or the writer's plain-words reason for not producing one."""
        idea = topic if tone == "neutral" else f"{topic}, {tone}"
        try:
            return writer.script(idea, seconds, aspect or Aspect.VERTICAL)
        except PipelineError as error:
            return f"I couldn't write that draft: {error}"

    # --- changing the draft -------------------------------------------------------------------

    def refine(self, ctx: Context, project: Project, instruction: str) -> list[Action]:
        denied = self.may_edit(ctx, project)
        if denied:
            return ctx.tell(denied)
        if project.state not in EDITABLE:
            return ctx.say(replies.refusal("change", project))
        if not instruction.strip():
            return ctx.say(replies.ASK_CHANGE)
        try:
            writer = for_project(self.writer, project.id, workspace_key(project.conversation))
            revision = writer.revise(project.script, instruction)
        except PipelineError as error:
            return ctx.say(f"I couldn't make that change: {error}")
        if not revision.changed:
            return ctx.say(replies.unchanged(revision.summary), _buttons_for(project))
        board = self._restoryboard(project.script, revision.script, ctx.conversation)
        revision = revision.model_copy(update={"script": board.script})
        return self.add_version(ctx, project, revision, board.notes)

    def add_version(
        self, ctx: Context, project: Project, revision: Revision, notes: Sequence[str] = ()
    ) -> list[Action]:
        """Store `revision` as the new current version of `project` (unless the project moved
        on meanwhile) and post it; `notes` (what the pictures could not do) go under it."""
        try:
            project = self.store.update(project.id, _append(project, revision.script))
        except StateRefusal as refused:
            return ctx.say(replies.refusal("change", refused.project))
        except DraftChanged:
            return ctx.say(replies.DRAFT_CHANGED)
        if self.recall is not None:
            self.recall.revised(project)
        fetching = self._prefetch(ctx, project)
        reply = ctx.say(
            replies.new_version(project, revision.summary, notes),
            replies.draft_buttons(project.id),
        )
        return [*reply, *fetching]

    # --- pictures -----------------------------------------------------------------------------

    def storyboard(self, script: Script, conversation: Conversation) -> Storyboarded:
        """`script` with shots for every scene that has none, and what to tell the user. Never
        loses the script: without pictures, or when choosing fails, it comes back as it was."""
        if self.pictures is None:
            return Storyboarded(script=script, notes=[], changed=False)
        workspace = workspace_key(conversation)
        director = self.pictures(workspace)
        return self.pictured(lambda s: director.storyboard(s, workspace), script)

    def pictured(self, change: Callable[[Script], Storyboarded], script: Script) -> Storyboarded:
        """`change(script)` within `STORYBOARD_SECONDS`; on a timeout or a failure, `script`
        unchanged with one sentence saying why."""
        future = _PICTURE_POOL.submit(change, script)
        try:
            return future.result(timeout=STORYBOARD_SECONDS)
        except FutureTimeout:
            log.warning("choosing pictures took over %.0f s; the draft goes without",
                        STORYBOARD_SECONDS)
            note = replies.PICTURES_TOO_SLOW
        except PipelineError as error:
            note = str(error)
        except Exception:
            log.exception("choosing pictures failed")
            note = replies.PICTURES_FAILED
        return Storyboarded(script=script, notes=[note], changed=False)

    def _restoryboard(
        self, before: Script, after: Script, conversation: Conversation
    ) -> Storyboarded:
        """An edited script keeps the shots of every scene whose words did not change (and the
        look); the other scenes get new ones."""
        if self.pictures is None:
            return Storyboarded(script=after, notes=[], changed=False)
        return self.storyboard(kept_shots(before, after), conversation)

    def _prefetch(self, ctx: Context, project: Project, *, later: bool = False) -> list[Action]:
        """Ask for the version's pictures to be fetched now, so Render does not wait on them;
        the job is announced (a patient adapter waits for its contact sheet). Best effort: a
        queue that is down only means the render fetches them itself. With `later` (a burst of
        drafts) it is queued once the burst is over, or before the project's Render, and not
        announced (a chat shows nothing for it; only the console waits, and has no bursts)."""
        if not any(scene.shots for scene in project.script.scenes):
            return []
        if later:
            self._later.add(project.id, lambda: self._prefetch(ctx, project))
            return []
        try:
            job_ids = self.jobs.prefetch(project.id, project.current, ctx.target)
        except Exception:
            log.warning("could not queue fetching the pictures of %s v%d", project.id,
                        project.current, exc_info=True)
            return []
        return [JobsStarted(target=ctx.target, job_ids=job_ids)] if job_ids else []

    def revise_button(self, ctx: Context, project: Project, _: str = "") -> list[Action]:
        denied = self.may_edit(ctx, project)
        if denied:
            return ctx.tell(denied)
        if project.state not in EDITABLE:
            return ctx.say(replies.refusal("change", project))
        self.store.set_active(ctx.conversation, project.id)  # the next words revise this one
        return ctx.say(replies.ASK_CHANGE)

    def undo(self, ctx: Context, project: Project, version: str) -> list[Action]:
        denied = self.may_edit(ctx, project)
        if denied:
            return ctx.tell(denied)
        if project.state not in EDITABLE:
            return ctx.say(replies.refusal("change", project))
        wanted = int(version) if version.isdigit() else project.current - 1
        if not 1 <= wanted <= project.latest or wanted == project.current:
            return ctx.say(replies.no_such_version(project, wanted))
        try:
            project = self.store.update(project.id, _go_to(wanted))
        except StateRefusal as refused:
            return ctx.say(replies.refusal("change", refused.project))
        return ctx.say(replies.back_to(project), replies.draft_buttons(project.id))

    # --- render, approve, reject, cancel ------------------------------------------------------

    def render(self, ctx: Context, project: Project, _: str = "") -> list[Action]:
        denied = self.may_edit(ctx, project)
        if denied:
            return ctx.tell(denied)
        if project.state is ProjectState.PREVIEW or (
            project.state is ProjectState.DRAFT and project.current_is_rendered
        ):
            return self._repost_preview(ctx, project)
        if project.state is not ProjectState.DRAFT:
            return ctx.say(replies.refusal("render", project))
        self._later.settle(project.id)  # its pictures are queued first, as without a burst
        rate = self.moderator.hit_render(ctx.conversation)
        if not rate.allowed:
            return ctx.say(render_limited_reply(rate))
        try:
            project = self.store.transition(
                project.id, {ProjectState.DRAFT}, ProjectState.RENDERING, last_error=""
            )
        except StateRefusal as refused:
            return ctx.say(replies.refusal("render", refused.project))
        return self._enqueue_render(ctx, project)

    def _enqueue_render(self, ctx: Context, project: Project) -> list[Action]:
        try:
            job_ids = self.jobs.render(project.id, project.current, ctx.target)
        except Exception:
            log.exception("could not enqueue the render of project %s", project.id)
            self._rollback(project, ProjectState.RENDERING, ProjectState.DRAFT)
            return ctx.say(replies.RENDER_FAILED_TO_START)
        key = f"{project.id}:v{project.current}"
        return [
            Progress(target=ctx.target, key=key, stage="queued", percent=0),
            JobsStarted(target=ctx.target, job_ids=job_ids),
        ]

    def _repost_preview(self, ctx: Context, project: Project) -> list[Action]:
        if project.state is ProjectState.DRAFT:
            try:
                project = self.store.transition(
                    project.id, {ProjectState.DRAFT}, ProjectState.PREVIEW
                )
            except StateRefusal as refused:
                return ctx.say(replies.refusal("render", refused.project))
        buttons = replies.preview_buttons(project.id)
        path = project.video_path or project.preview_path
        if not path:
            return ctx.say(replies.already_rendered(project), buttons)
        ask = AskApproval(
            target=ctx.target, project_id=project.id, text=replies.ASK_APPROVAL, buttons=buttons
        )
        return [
            Preview(target=ctx.target, path=path, caption=replies.already_rendered(project)),
            ask,
        ]

    def approve(self, ctx: Context, project: Project, _: str = "") -> list[Action]:
        denied = self.may_approve(ctx, project)
        if denied:
            return ctx.tell(denied)
        if project.state is ProjectState.APPROVED:
            return self._publish_again(ctx, project)
        try:
            project = self.store.transition(
                project.id,
                {ProjectState.PREVIEW},
                ProjectState.APPROVED,
                approved_by=ctx.conversation.user,
                approved_at=datetime.now(UTC),
            )
        except StateRefusal as refused:
            return ctx.say(replies.refusal("approve", refused.project))
        return self._enqueue_publish(ctx, project)

    def retry(self, ctx: Context, project: Project, _: str = "") -> list[Action]:
        """Retry publishing: the targets that failed are tried again, done ones are kept."""
        if project.state is not ProjectState.APPROVED:
            return ctx.say(replies.refusal("approve", project))
        return self.approve(ctx, project)

    def _publish_again(self, ctx: Context, project: Project) -> list[Action]:
        """Approved already: after a failure (or a cancelled schedule), publish what is missing.
        Otherwise the publish job is running; asking again never starts a second one."""
        if not project.last_error:
            return ctx.say(replies.refusal("approve", project))
        try:
            project = self.store.transition(
                project.id, {ProjectState.APPROVED}, ProjectState.APPROVED, last_error=""
            )
        except StateRefusal as refused:
            return ctx.say(replies.refusal("approve", refused.project))
        return self._enqueue_publish(ctx, project, retrying=True)

    def _enqueue_publish(
        self, ctx: Context, project: Project, *, retrying: bool = False
    ) -> list[Action]:
        approver = project.approved_by or ctx.conversation.user
        try:
            job_ids = self.jobs.publish(project.id, project.current, approver, ctx.target)
        except Exception:
            log.exception("could not enqueue publishing of project %s", project.id)
            if retrying:
                self._rollback(project, ProjectState.APPROVED, ProjectState.APPROVED)
            else:
                self._rollback(project, ProjectState.APPROVED, ProjectState.PREVIEW)
            return ctx.say(replies.PUBLISH_FAILED_TO_START)
        targets = self.policy.publish_targets(project.conversation.adapter, project.workspace)
        text = (
            replies.retrying_publish(project, targets)
            if retrying
            else replies.publishing(project, ctx.who, targets)
        )
        return [*ctx.say(text), JobsStarted(target=ctx.target, job_ids=job_ids)]

    def reject(self, ctx: Context, project: Project, _: str = "") -> list[Action]:
        denied = self.may_approve(ctx, project)
        if denied:
            return ctx.tell(denied)
        try:
            project = self.store.transition(
                project.id, {ProjectState.PREVIEW}, ProjectState.REJECTED
            )
        except StateRefusal as refused:
            return ctx.say(replies.refusal("reject", refused.project))
        return ctx.say(replies.rejected(project))

    def cancel(self, ctx: Context, project: Project, _: str = "") -> list[Action]:
        if ctx.conversation.user != project.requester:
            denied = self.may_approve(ctx, project)
            if denied:
                return ctx.tell(denied)
        try:
            project = self.store.transition(project.id, CANCELLABLE, ProjectState.CANCELLED)
        except StateRefusal as refused:
            return ctx.say(replies.refusal("cancel", refused.project))
        return ctx.say(replies.cancelled(project))

    def may_approve(self, ctx: Context, project: Project) -> str:
        conversation = ctx.conversation
        check = approval_permission(self.policy, conversation.adapter, conversation.workspace)
        refusal = check(approval_by(ctx, project.requester))
        return "" if refusal is None else refusal.reason

    def may_edit(self, ctx: Context, project: Project) -> str:
        """Why the person acting may not change `project` (policy `editors`); empty if they may."""
        conversation = ctx.conversation
        check = edit_permission(self.policy, conversation.adapter, conversation.workspace)
        refusal = check(approval_by(ctx, project.requester))
        return "" if refusal is None else replies.edit_refused(refusal.reason)

    def _rollback(self, project: Project, now: ProjectState, back: ProjectState) -> None:
        try:
            self.store.transition(
                project.id, {now}, back, last_error="The job queue was not reachable."
            )
        except StateRefusal:
            log.warning("project %s moved on before its rollback", project.id)

    # --- telling ------------------------------------------------------------------------------

    def help(self, ctx: Context, _: str = "") -> list[Action]:
        return ctx.say(replies.HELP)

    def status(self, ctx: Context, project: Project, _: str = "") -> list[Action]:
        return ctx.say(replies.status(project), _buttons_for(project))


def _buttons_for(project: Project) -> list[Button]:
    if project.state is ProjectState.DRAFT:
        return replies.draft_buttons(project.id)
    if project.state is ProjectState.PREVIEW:
        return replies.preview_buttons(project.id)
    if project.state is ProjectState.APPROVED and project.last_error:
        return [Button(action=ButtonAction.RETRY, project_id=project.id)]
    return []


def _append(seen: Project, script: Script) -> Callable[[Project], Project]:
    """Add `script` as a new version, unless the project moved on since `seen`."""

    def apply(project: Project) -> Project:
        if project.state not in EDITABLE:
            raise StateRefusal(project, ProjectState.DRAFT)
        if (project.current, project.latest) != (seen.current, seen.latest):
            raise DraftChanged
        return project.with_version(script)

    return apply


def _go_to(version: int) -> Callable[[Project], Project]:
    def apply(project: Project) -> Project:
        if project.state not in EDITABLE:
            raise StateRefusal(project, ProjectState.DRAFT)
        return project.evolve(current=version, state=ProjectState.DRAFT)

    return apply


def workspace_key(conversation: Conversation) -> str:
    """How models.yaml names a workspace (prompt pins), and the asset store and shot history
    key theirs: `<adapter>:<workspace id>`."""
    return f"{conversation.adapter}:{conversation.workspace}"


def kept_shots(before: Script, after: Script) -> Script:
    """`after` with `before`'s look and the shots of every scene whose lines (the hook counts
    in the first scene) are word for word a scene of `before`; other scenes have none."""
    old = {_scene_lines(before, i): scene for i, scene in enumerate(before.scenes)}
    where: dict[str, int] = {}
    for index, line in enumerate(after.narration):
        where.setdefault(line, index)
    scenes = []
    for i, scene in enumerate(after.scenes):
        same = old.get(_scene_lines(after, i))
        shots = [] if same is None else [
            shot.model_copy(update={"line": where.get(before.narration[shot.line], shot.line)})
            for shot in same.shots
            if shot.line < len(before.narration)
        ]
        scenes.append(scene.model_copy(update={"shots": shots}))
    return after.model_copy(update={"scenes": scenes, "look": before.look})


def _scene_lines(script: Script, index: int) -> tuple[str, ...]:
    hook = (script.hook,) if index == 0 else ()
    return hook + tuple(script.sentences[i] for i in script.scenes[index].sentences
                        if i < len(script.sentences))
