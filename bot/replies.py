"""Everything the bot says, in one place: message texts, the draft layout, the button sets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.actions import Button, ButtonAction
from bot.preferences import Preferences
from bot.project import Project, ProjectState
from bot.schedule_store import Schedule, ScheduleKind
from pipeline.media.storyboard import storyboard_lines
from pipeline.memory import Hit
from pipeline.script import Script
from policy import Limits

EXAMPLE_IDEA = "why octopuses have three hearts"

ASK_IDEA = f"What should the video be about? Try /make {EXAMPLE_IDEA}"
NO_PROJECT = (
    "There's no video in the works here yet. Start one with /make <idea>, "
    f"for example /make {EXAMPLE_IDEA}"
)
UNKNOWN_PROJECT = (
    "I can't find that project: it may have expired or belong to another workspace. "
    "Start a new one with /make."
)
UNKNOWN_BUTTON = "I don't know that button. Type /help to see what I can do."
SORRY = "Something went wrong on my side; your draft is safe. Please try again in a moment."
CANNOT_SAVE = "I can't save that right now, try again in a moment."
"""Said when the store (Redis) is unreachable while an event is handled (instead of silence)."""
ASK_CHANGE = (
    "Tell me what to change, in plain words: for example “shorter”, “add a joke at the end” "
    "or “more formal”."
)
DRAFT_CHANGED = "The draft changed while I was working on it. Please ask again."
RENDER_FAILED_TO_START = (
    "I couldn't start the render just now; your draft is safe. Please press Render again in a "
    "minute."
)
PUBLISH_FAILED_TO_START = (
    "I couldn't start publishing just now; nothing went out and the preview is still waiting. "
    "Please press Approve & publish again in a minute."
)
HELP = (
    "I turn an idea into a short narrated video, right here in the chat.\n"
    f"• /make <idea> starts a draft, e.g. /make 40s on {EXAMPLE_IDEA}, playful\n"
    "• Reply in plain words to change it: “shorter”, “add a joke at the end”, “more formal”. "
    "Each change is a new version; “undo” goes back one.\n"
    "• Render makes the video and posts a preview here.\n"
    "• Approve & publish sends it out; Reject drops it.\n"
    "• Schedule it: “schedule it for tomorrow 9am”, “fri 18:00”, “in 2 hours”. "
    "A show: /make every monday 9:00, a 30s space-news recap. /schedules lists them.\n"
    "• Pictures: “another clip for scene 2”, “use a beach for the intro”, “illustrated look”, "
    "“plain backgrounds”. Send a photo or clip and say “use it for scene 2”; /assets lists "
    "your uploads.\n"
    "• “my time zone is Europe/Berlin” sets the zone times are read in.\n"
    "• “status” tells you where things stand; /cancel drops the current project."
)

_START_NEW = "start a new one with /make."
_FINISHED: dict[ProjectState, str] = {
    ProjectState.RENDERING: "It's still rendering — I'll post the preview here.",
    ProjectState.APPROVED: "This video is already approved — publishing is under way.",
    ProjectState.PUBLISHED: "This video is already published — " + _START_NEW,
    ProjectState.REJECTED: "This project was rejected — " + _START_NEW,
    ProjectState.CANCELLED: "This project was cancelled — " + _START_NEW,
}
_SPECIFIC: dict[tuple[str, ProjectState], str] = {
    ("approve", ProjectState.DRAFT): "Nothing to approve yet — press Render first.",
    ("approve", ProjectState.APPROVED): "Already approved — publishing is under way.",
    ("reject", ProjectState.DRAFT): (
        "Nothing to reject yet — there's no preview. Press Cancel to drop the draft."
    ),
    ("reject", ProjectState.RENDERING): (
        "It's still rendering — I'll post the preview here. Press Cancel to stop it."
    ),
    ("reject", ProjectState.APPROVED): "Too late to reject — it's already approved and publishing.",
    ("cancel", ProjectState.APPROVED): "Too late to cancel — it's already approved and publishing.",
    ("change", ProjectState.RENDERING): (
        "It's still rendering — I'll post the preview here. You can ask for changes once it's up."
    ),
    ("change", ProjectState.APPROVED): (
        "This video is already approved, so it can't change now — " + _START_NEW
    ),
}


def refusal(action: str, project: Project) -> str:
    """Why `action` ("render", "approve", "reject", "cancel", "change") doesn't fit right now."""
    state = project.state
    text = _SPECIFIC.get((action, state)) or _FINISHED.get(state)
    if text is None:
        return f"That doesn't fit right now: the project is a {state.value}."
    if state is ProjectState.PUBLISHED and project.published_to:
        return f"Already published to {', '.join(project.published_to)} — " + _START_NEW
    return text


def draft_buttons(project_id: str) -> list[Button]:
    actions = (ButtonAction.RENDER, ButtonAction.REVISE, ButtonAction.CANCEL)
    return [Button(action=a, project_id=project_id) for a in actions]


ASK_APPROVAL = "Happy with it? Approve & publish, schedule it, ask for changes, or reject it."


def preview_buttons(project_id: str) -> list[Button]:
    actions = (
        ButtonAction.APPROVE,
        ButtonAction.SCHEDULE,
        ButtonAction.REVISE,
        ButtonAction.REJECT,
    )
    return [Button(action=a, project_id=project_id) for a in actions]


def draft(project: Project, notes: Sequence[str] = ()) -> str:
    """The current version as the user reads it: title, hook, script, scenes, the pictures
    (one line per shot, and `notes` on what they could not be), duration."""
    script = project.script
    return "\n".join(
        [
            f"Draft v{project.current} · “{script.title}”",
            f"Hook: {script.hook}",
            "",
            "Script:",
            *(f"{n}. {sentence}" for n, sentence in enumerate(script.sentences, start=1)),
            "",
            "Scenes:",
            *(_scene_line(n, title, sentences) for n, (title, sentences) in _scenes(script)),
            *pictures_block(storyboard_lines(script)),
            *notes,
            "",
            f"About {script.estimated_seconds:g} s (aim {script.target_seconds} s) · "
            f"{script.aspect.value}"
            + (" · soft background music" if script.music else "")
            + (" · word-highlight captions" if script.captions == "words" else ""),
            f"Written by the {_writer_name(script)}.",
            *_review_lines(script),
        ]
    )


def _scenes(script: Script) -> list[tuple[int, tuple[str, list[int]]]]:
    return list(enumerate(((s.title, s.sentences) for s in script.scenes), start=1))


def _scene_line(number: int, title: str, sentences: list[int]) -> str:
    first, last = min(sentences) + 1, max(sentences) + 1
    covers = f"sentence {first}" if first == last else f"sentences {first}–{last}"
    return f"{number}. {title} ({covers})"


def _writer_name(script: Script) -> str:
    name = script.writer.strip()
    return name[4:] if name.lower().startswith("the ") else name


def new_draft(project: Project, note: str = "", notes: Sequence[str] = ()) -> str:
    lead = f"{note}\n\n" if note else ""
    return (
        f"{lead}{draft(project, notes)}\n\n"
        "Press Render when it looks right, or tell me what to change."
    )


def new_version(project: Project, summary: str, notes: Sequence[str] = ()) -> str:
    return f"v{project.current}: {summary}\n\n{draft(project, notes)}"


def unchanged(summary: str) -> str:
    return f"No change made: {summary}"


def back_to(project: Project) -> str:
    return f"Back to v{project.current}.\n\n{draft(project)}"


def already_rendered(project: Project) -> str:
    return f"v{project.current} is already rendered — here it is again."


def publishing(project: Project, approver: str, targets: list[str]) -> str:
    return f"Approved by {approver}. Publishing v{project.current} to {', '.join(targets)}…"


def rejected(project: Project) -> str:
    return f"Rejected v{project.current}; nothing was published. Start a new one with /make."


def cancelled(project: Project) -> str:
    return f"Cancelled “{project.script.title}”. Start a new one with /make whenever you like."


def seconds_note(asked: int | None, used: int, limits: Limits) -> str:
    if asked is None or asked == used:
        return ""
    return (
        f"Videos here can be {limits.min_seconds} to {limits.max_seconds} seconds long, "
        f"so I aimed for {used} s."
    )


def status(project: Project) -> str:
    lines = [
        f"“{project.script.title}” (project {project.id})",
        f"Showing v{project.current} of {project.latest}. {_state_line(project)}",
    ]
    if project.last_error:
        lines.append(f"Last problem: {project.last_error}")
    return "\n".join(lines)


def _state_line(project: Project) -> str:
    rendered = project.rendered_version
    lines = {
        ProjectState.DRAFT: "It's a draft — press Render when it looks right."
        + (f" v{rendered} was rendered earlier." if rendered else ""),
        ProjectState.RENDERING: f"v{project.current} is rendering — I'll post the preview here.",
        ProjectState.PREVIEW: "The preview is ready and waiting for approval.",
        ProjectState.APPROVED: f"Approved by {project.approved_by}; "
        + ("publishing stopped — press Retry publishing." if project.last_error
           else "publishing is under way."),
        ProjectState.PUBLISHED: f"Published to {', '.join(project.published_to) or 'its targets'}.",
    }
    return lines.get(project.state, f"It was {project.state.value}.")


def smalltalk(project: Project | None) -> str:
    state = project.state if project else None
    if state is ProjectState.DRAFT:
        return "Glad to help! Press Render when the draft looks right, or tell me what to change."
    if state is ProjectState.PREVIEW:
        return "Glad you like it! Press Approve & publish when you're ready."
    if project is not None and state in (ProjectState.RENDERING, ProjectState.APPROVED):
        return f"Hi! {_state_line(project)}"
    return f"Hi! I make short narrated videos. Try /make {EXAMPLE_IDEA}"


def unknown_command(name: str) -> str:
    return f"I don't know /{name}. Type /help to see what I can do."


def no_such_version(project: Project, wanted: int) -> str:
    if wanted < 1:
        return "This is the first version — there's nothing to undo."
    if wanted == project.current:
        return f"You're already on v{wanted}."
    return f"There's no v{wanted}; this project has versions 1 to {project.latest}."


# --- memory: preferences, the last project, similar topics ---------------------------------------

ASK_PREFERENCE = (
    "Which default should I keep? For example “always 45 seconds”, “from now on square videos”, "
    "“I prefer a playful tone” or “calm voice”."
)
NO_PREFERENCES = (
    "You have no defaults set. Tell me one, e.g. “always 45 seconds” or “from now on 16:9”."
)
NO_LAST_PROJECT = (
    "I don't remember an earlier video of yours in this workspace. Tell me the idea: "
    f"/make {EXAMPLE_IDEA}"
)
_VOICE_NOTE = " (Your next render uses it: Piper changes its pace; ElevenLabs changes voice.)"
_FORGET_HINT = "Say “forget my preferences” to drop them."


def preferences_saved(said: Preferences, now: Preferences) -> str:
    voice = _VOICE_NOTE if said.voice else ""
    return (
        f"Got it — from now on: {said.describe()}.{voice}\n"
        f"Your defaults: {now.describe()}. Words in an idea still win. {_FORGET_HINT}"
    )


def preferences_forgotten(fields: frozenset[str], now: Preferences) -> str:
    if not fields or now.empty:
        return "Done — I've forgotten your preferences. New videos use the workspace defaults."
    left = now.describe()
    return (
        f"Done — I've forgotten your {' and '.join(sorted(fields))} preference. Still set: {left}."
    )


def preferences_shown(now: Preferences) -> str:
    if now.empty:
        return NO_PREFERENCES
    return f"Your defaults: {now.describe()}. {_FORGET_HINT}"


def using_preferences(used: Preferences) -> str:
    return f"Using your defaults: {used.describe()}." if not used.empty else ""


def heads_up(hit: Hit) -> str:
    when = f" on {hit.created_at.day} {hit.created_at:%b %Y}" if hit.created_at else ""
    return f"Heads-up: this workspace made a similar video{when}: “{hit.title or hit.idea}”."


def like_last(hit: Hit) -> str:
    return f"Same idea as your last video here, “{hit.title or hit.idea}”."


def joined(*notes: str) -> str:
    """Notes that lead a reply, one per line, empty ones left out."""
    return "\n".join(n for n in notes if n)


def _review_lines(script: Script) -> list[str]:
    if not script.review:
        return []
    return ["", "Check before publishing:", *(f"• {note}" for note in script.review)]


# --- publishing again ---------------------------------------------------------------------------


def retrying_publish(project: Project, targets: list[str]) -> str:
    return f"Trying again: publishing v{project.current} to {', '.join(targets)}…"


# --- scheduling -------------------------------------------------------------------------------

NOTHING_TO_SCHEDULE = (
    "There's no video here to schedule yet. Make one with /make <idea>, or set up a show: "
    "/make every monday 9:00, a 30s space-news recap"
)
ONE_VIDEO_ONCE = (
    "A video goes out once, so give me one time (like “tomorrow 9am”). For a new video every "
    "week, set up a show: /make every monday 9:00, <idea>"
)
NO_SCHEDULES = (
    "Nothing is scheduled in this workspace. Schedule a preview with “schedule it for tomorrow "
    "9am”, or set up a show with /make every monday 9:00, <idea>"
)
UNKNOWN_SCHEDULE = "I can't find that schedule here. /schedules lists what's scheduled."
SHOWS_NEED_APPROVERS = (
    "Only approvers can set up a show in this workspace: its videos are approved by the "
    "people policy names."
)
NOT_YOUR_SCHEDULE = "Only the person who set up this schedule, or an approver, can cancel it."


def cannot_schedule(project: Project) -> str:
    if project.state is ProjectState.DRAFT:
        return "Render it first: I schedule a video once you've seen its preview."
    if project.state is ProjectState.RENDERING:
        return (
            "It's still rendering: once the preview is here, press Schedule (or say when) and "
            "I'll schedule it."
        )
    return refusal("approve", project)


def ask_when(zone: str) -> str:
    return (
        "When should it go out? For example “tomorrow 9am”, “fri 18:00”, “in 2 hours” or "
        f"2026-12-01T09:00+01:00. I read times in {zone} (say “my time zone is …” to change it)."
    )


def scheduled_publish(project: Project, schedule: Schedule, targets: list[str], who: str) -> str:
    return (
        f"Scheduled “{project.script.title}” (v{project.current}) for {schedule.description}, "
        f"to {', '.join(targets)}. Approved by {who}. /schedules lists it; Cancel schedule "
        "takes it back to the preview."
    )


def scheduled_show(schedule: Schedule, auto_targets: list[str]) -> str:
    then = (
        f"render it and publish it to {', '.join(auto_targets)}"
        if auto_targets
        else "render it and ask for approval here"
    )
    return (
        f"Show set up: {schedule.description}. Each time I'll write a fresh draft of "
        f"“{schedule.idea}”, {then}. /schedules lists it."
    )


def scheduled_first(project: Project, schedule: Schedule) -> str:
    return (
        f"“{project.script.title}” is scheduled to go out {schedule.description}. Cancel the "
        "schedule first — it goes back to the preview — then reject or change it."
    )


def too_often(minutes: int) -> str:
    every = "hour" if minutes == 60 else f"{minutes} minutes"
    return (
        f"A show can run at most once every {every} here. "
        "Try “every day at 9” or “weekdays at 8”."
    )


def schedules_header(count: int, zone: str) -> str:
    noun = "schedule" if count == 1 else "schedules"
    return (
        f"{count} {noun} in this workspace "
        f"(each time in its own zone; yours is {zone}):"
    )


def schedule_line(schedule: Schedule, project: Project | None) -> str:
    by = schedule.created_by_name or schedule.created_by
    if schedule.kind is ScheduleKind.PUBLISH:
        title = project.script.title if project else "a video that no longer exists"
        what = f"publish “{title}” (v{schedule.version})"
    else:
        what = f"make “{schedule.idea}”"
    when = schedule.description
    nxt = schedule.local(schedule.next_at).strftime("%a %d %b %H:%M") if schedule.next_at else ""
    extra = f" — next {nxt}" if schedule.cron and nxt else ""
    return f"• {when}: {what}, set by {by}{extra}"


def schedule_gone(schedule: Schedule) -> str:
    return f"That schedule is already {schedule.state.value}; nothing to cancel."


def unscheduled(schedule: Schedule, project: Project | None) -> str:
    if schedule.kind is ScheduleKind.MAKE:
        return f"Cancelled the show “{schedule.idea}” ({schedule.description})."
    title = project.script.title if project else "the video"
    return (
        f"Cancelled: “{title}” won't go out {schedule.description}. It's back to the preview — "
        "approve it, schedule it again, or reject it."
    )


def timezone_is(zone: str) -> str:
    return (
        f"I read your times in {zone}. Change it with “my time zone is Europe/Berlin” "
        "(any IANA name or a big city)."
    )


def unknown_timezone(name: str, current: str) -> str:
    return (
        f"I don't know the time zone “{name[:40]}”. Use an IANA name like Europe/Berlin, "
        f"America/New_York or Asia/Tokyo, or a big city. Yours is still {current}."
    )


def timezone_set(zone: str, now: datetime) -> str:
    local = now.astimezone(ZoneInfo(zone)).strftime("%H:%M")
    return f"Time zone set to {zone} (it's {local} there now). I'll read your times in it."


# === what workers say (render results, failures, publish results, schedules firing) ============
# Built in worker processes and posted through the platform's REST sender. Reasons (lower case,
# no full stop) are the middle of a sentence: "Publishing failed: <reason>. …".


def storyboard_caption(version: int, shots: int) -> str:
    """The caption of a version's contact sheet (one tile per shot)."""
    return f"Storyboard for v{version}: {shots} shot{'s' if shots != 1 else ''}, in screen order."


def quick_preview(version: int) -> str:
    return f"Quick preview of v{version} (low resolution). Full quality is on its way."


def full_quality(title: str, version: int, seconds: float) -> str:
    return f"“{title}” — v{version}, {seconds:.0f}s, full quality."


def failed_checks(problems: list[str]) -> str:
    return "the finished video failed its checks: " + "; ".join(problems)


TOOK_TOO_LONG = "it took too long and was stopped"
UNEXPECTED = "something unexpected went wrong on our side (it is logged)"
VIDEO_MISSING = "the rendered video is missing; press Render to make it again"
WORKER_STOPPED = "the worker making it stopped before it finished"
"""Why a render step failed when its worker was killed and no retry was left."""
DISK_FULL = "the server ran out of disk space (an operator has been told in the log)"
"""Why a step failed when writing a file hit ENOSPC (ffmpeg's disk errors have their own)."""


def resuming(stage: str) -> str:
    """The progress message's stage while a step runs again after its worker stopped."""
    return f"{stage} — resuming where it stopped (a worker restarted; finished parts are kept)"


def failed_at(stage: str) -> str:
    """The progress message's last stage when a render fails."""
    return f"failed at {stage}"


def render_failed(stage: str, reason: str) -> str:
    return (
        f"Rendering failed at the {stage} step: {reason}. "
        "Your draft is safe — press Render to try again."
    )


def publish_failed(reason: str) -> str:
    return f"Publishing failed: {reason}. Press Retry publishing to try again."


def scheduled_run_failed(schedule: Schedule, reason: str) -> str:
    return f"The scheduled run ({schedule.description}) failed: {reason}."


# --- publishing: reasons a target failed, and the result -----------------------------------------

PUBLISHING_ELSEWHERE = "another worker is publishing it right now"
TARGET_GONE = "the policy no longer defines this target"


def broken_policy(error: Exception) -> str:
    return f"the policy file is broken: {error}"


def bad_target_options(name: str, fields: str) -> str:
    return f"the publish target “{name}” has bad options ({fields})"


def unknown_chat_target(name: str) -> str:
    return f"the chat target “{name}” names no platform this bot speaks"


def channel_unreachable(adapter: str, error: Exception) -> str:
    return f"could not post into the {adapter} channel ({type(error).__name__})"


def channel_caption(title: str, approver: str) -> str:
    """The caption of an approved video posted into a chat channel (a publish target)."""
    return f"{title} — approved by {approver}"


def channel_location(adapter: str, channel: str) -> str:
    """Where a chat-channel target put the video, as the publish result lists it."""
    return f"{adapter} channel {channel}"


def published(title: str, version: int, approver: str, done: list[str]) -> str:
    lines = "\n".join(f"• {line}" for line in done)
    return f"Published “{title}” (v{version}), approved by {approver}:\n{lines}"


def published_partly(title: str, version: int, done: list[str], failed: dict[str, str]) -> str:
    """Some or all targets failed: each with why, and how to try the failed ones again."""
    lines = [f"• {line}" for line in done]
    lines += [f"• {name}: not published — {why}" for name, why in failed.items()]
    head = (
        f"Published “{title}” (v{version}) to {len(done)} of {len(done) + len(failed)} targets"
        if done
        else f"Couldn't publish “{title}” (v{version})"
    )
    retry = "Press Retry publishing to try the failed ones again."
    return head + ":\n" + "\n".join(lines) + "\n" + retry


# --- schedules firing ----------------------------------------------------------------------------


def scheduled_publish_expired(schedule: Schedule) -> str:
    return f"The scheduled publish ({schedule.description}) found no video: it expired."


def scheduled_publish_skipped(schedule: Schedule, project: Project) -> str:
    return (
        f"The scheduled publish of “{project.script.title}” ({schedule.description}) was "
        f"skipped: the video is {project.state.value} now."
    )


def show_time(schedule: Schedule) -> str:
    """Leads the fresh draft a show's firing posts."""
    return f"It's time for your show ({schedule.description})."


# --- pictures: the storyboard, changing shots, looks, uploads -----------------------------------

PICTURES_TOO_SLOW = (
    "Choosing the pictures took too long, so this draft shows the plain backgrounds for now; "
    "say “another clip for scene 1” to try again."
)
PICTURES_FAILED = (
    "I couldn't choose pictures just now, so this draft shows the plain backgrounds; your words "
    "are safe."
)
NO_PICTURES = "Pictures aren't set up here, so videos use the plain backgrounds."
NO_ILLUSTRATIONS = (
    "An illustrated look needs image generation, which isn't set up here (it takes an OpenAI "
    "key), so the draft keeps its pictures."
)
ASK_SCENE = (
    "Which scene? For example “another clip for scene 2”, “use a beach for the intro” or "
    "“use my photo in scene 3”."
)
NO_UPLOADS = (
    "You haven't sent me any photos or clips here yet. Send one into the chat, then say "
    "“use it for scene 2”."
)
UNKNOWN_UPLOAD = "I can't find that upload here. /assets lists your photos and clips with numbers."
NOT_YOUR_UPLOAD = "Only the person who sent that file, or a workspace admin, can delete it."
ASK_DELETE = "Which one? /assets lists them; then say “/assets delete 2”."

_LOOK_WORDS: dict[str, str] = {
    "stock": "stock footage and photos",
    "illustrated": "an illustrated look",
    "own": "only your own photos and clips",
    "plain": "the plain backgrounds",
}


def pictures_block(lines: list[str]) -> list[str]:
    """The storyboard under the draft: one line per shot, with its source."""
    return ["", "Pictures:", *lines] if lines else []


def no_such_scene(said: int, scenes: int) -> str:
    if said < 1:
        return f"Scenes are numbered from 1; this draft has {scenes}."
    return f"There's no scene {said}; this draft has scenes 1 to {scenes}."


def shot_summary(kind: str, scene: int, query: str = "") -> str:
    """What a picture change did, as the new version's first line."""
    if kind == "search":
        return f"scene {scene} now shows “{query}”"
    if kind == "upload":
        return f"scene {scene} now shows your {query or 'upload'}"
    if kind == "background":
        return f"scene {scene} has other background colours"
    return f"a different picture for scene {scene}"


def look_summary(look: str) -> str:
    return f"pictures switched to {_LOOK_WORDS.get(look, look)}"


def look_unchanged(look: str, notes: list[str]) -> str:
    why = " ".join(notes) or f"This draft already uses {_LOOK_WORDS.get(look, look)}."
    return f"No change made: {why}"


def shot_unchanged(scene: int, notes: list[str]) -> str:
    why = " ".join(notes) or "I found nothing better to show there."
    return f"No change made to scene {scene}: {why}"


def upload_refused(name: str, reason: str, several: bool) -> str:
    """One sentence for a file the store would not keep (the reason is the store's)."""
    return f"“{name}”: {reason}" if several and name else reason


def upload_kind(kind: str) -> str:
    return {"video": "clip", "photo": "photo"}.get(kind, "file")


def uploads_received(kinds: list[str], draft_open: bool) -> str:
    """Files kept: offered to the open draft, or kept for later."""
    what = f"your {upload_kind(kinds[0])}" if len(kinds) == 1 else f"your {len(kinds)} files"
    it = "it" if len(kinds) == 1 else "the last one"
    if draft_open:
        return f"Got {what}. Say “use {it} for scene 2” or “use {it} for the intro”."
    return (
        f"Got {what}; it's kept with your uploads (/assets lists them). Start a video with "
        f"/make, then say “use {it} for scene 2”."
    )


def uploads_list(rows: list[tuple[int, str, str, str, int, float | None]]) -> str:
    """(number, id, name, kind, bytes, seconds) per upload, newest first."""
    if not rows:
        return NO_UPLOADS
    lines = [
        f"{n}. {name} — {upload_kind(kind)}, {_size(size)}"
        + (f", {seconds:.1f} s" if seconds else "")
        + f" (id {asset_id})"
        for n, asset_id, name, kind, size, seconds in rows
    ]
    head = f"{len(rows)} upload{'s' if len(rows) != 1 else ''} here, newest first:"
    tail = "Use one with “use #2 for scene 3”; delete one with “/assets delete 2”."
    return "\n".join([head, *lines, tail])


def upload_deleted(name: str) -> str:
    return f"Deleted “{name}”."


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


def edit_refused(reason: str) -> str:
    """Someone may not change this draft (policy `editors`): who may, and what they can do."""
    return f"{reason} The draft stays as it is; start your own with /make."
