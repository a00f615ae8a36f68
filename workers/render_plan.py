"""What a render of one project version will be: the voice that speaks it and its fingerprint.

The fingerprint (the script and the resolved voice) names the render's job ids (in
`workers.queues`) and its work folder (in `workers.render_jobs`), so changing the voice preference
renders again while the same inputs reuse what was made.
"""

from __future__ import annotations

import redis

from bot.preferences import PreferenceStore
from bot.project import Project
from pipeline.narration import Voice
from pipeline.produce import Workdir, fingerprint
from pipeline.settings import load_settings
from pipeline.voice.select import voice_for_script


def voice_preference(connection: redis.Redis, project: Project) -> str | None:
    """The voice the project's conversation prefers ("calm"), if it said so."""
    return PreferenceStore(connection).get(project.conversation).voice


def render_voice(project: Project, version: int, preference: str | None) -> Voice:
    """The voice that speaks `version`: the preference, else the script's plan, else the
    default (pipeline.voice.select.choice_for)."""
    return voice_for_script(project.versions[version - 1], preference)


def render_fingerprint(project: Project, version: int, preference: str | None) -> str:
    """The script's fingerprint with the resolved voice (engine, voice id, pace, pauses)."""
    voice = render_voice(project, version, preference)
    return fingerprint(project.versions[version - 1], voice=voice.name)


def workdir_for(project: Project, version: int, preference: str | None) -> Workdir:
    root = load_settings().media_dir(project.workspace, project.id)
    return Workdir(root / f"v{version}-{render_fingerprint(project, version, preference)}")
