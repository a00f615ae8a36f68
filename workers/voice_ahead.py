"""Speaking a draft's narration while its author reads it, so Render starts with the voice done.

The narration is most of a quick preview's work (Piper: ~2.5 CPU-seconds for 30 seconds of
speech; the preview cut itself ~1). A person reads a draft for several seconds before pressing
Render, and workers are usually idle then: this job speaks the draft's current version into the
very folder its render will use (`workers.render_plan.workdir_for`, with the voice preference
read when the job runs, as the render reads it), so the render's voice step finds it made.

Only the local Piper voice is spoken ahead: it costs idle CPU and nothing else, while a paid
voice (ElevenLabs) would bill characters for drafts nobody renders. The job waits on the
lowest queue (`workers.catalog.AHEAD_QUEUE`), behind every render and publish, and is dropped
when it waited longer than `AHEAD_WAIT`; a version the draft moved on from, or a project that
is rendering or finished, is skipped. A render that reaches its voice step while this job is
still speaking waits for it (`pipeline.produce.make_voice` locks the folder) instead of speaking
the same words twice. What it may cost a render: when every worker is busy speaking ahead as a
Render arrives, that render's first step waits up to one narration's synthesis.
"""

from __future__ import annotations

import logging

import redis

from bot.project import Project, ProjectState, ProjectStore
from pipeline.narration import Voice
from pipeline.produce import make_voice
from pipeline.voice.piper_tts import PiperTTS
from workers import runtime
from workers.render_plan import render_voice, voice_preference, workdir_for

log = logging.getLogger(__name__)

SPEAKABLE = frozenset({ProjectState.DRAFT, ProjectState.PREVIEW})
"""States whose current version may still be rendered as it stands (a preview may be revised
and rendered again)."""


def speaks_ahead(voice: Voice) -> bool:
    """Whether `voice` is spoken before Render: only the local one, which costs nothing."""
    return isinstance(voice, PiperTTS)


def ahead_voice(connection: redis.Redis, project: Project, version: int) -> Voice | None:
    """The voice `version`'s render would speak with, when it may be spoken ahead."""
    voice = render_voice(project, version, voice_preference(connection, project))
    return voice if speaks_ahead(voice) else None


def speak_ahead(project_id: str, version: int) -> bool:
    """Speak `version`'s narration into its render's folder; False when there was no need."""
    runtime.mark_stage("voice ahead")
    connection = runtime.connection()
    project = ProjectStore(connection).get(project_id)
    if project is None or project.current != version or project.state not in SPEAKABLE:
        log.info("not speaking %s v%s ahead: the draft moved on", project_id, version)
        return False
    preference = voice_preference(connection, project)
    voice = render_voice(project, version, preference)
    if not speaks_ahead(voice):
        return False
    make_voice(project.versions[version - 1], workdir_for(project, version, preference), voice)
    return True
