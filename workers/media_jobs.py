"""The prefetch job: a draft's pictures into the media cache as soon as the draft is shown, so
Render does not wait on the network, and its storyboard (a contact sheet) posted once.

`prefetch(project_id, version, target)` is a function of ids like every job. It is idempotent:
the media cache downloads a key once (across processes), and a Redis key per version
(`SET NX`) makes the contact sheet, and the sentence about pictures that could not be had, go
out once however often the job runs. The sheet goes out first when every shot already has a
picture to tile (its file in the cache, an upload, or the provider's small thumbnail), so the
storyboard reaches the chat within seconds; otherwise after the downloads. A platform that
cannot show images gets no sheet: its draft already lists the shots line by line.

The job reports its own trouble and never fails a draft: it runs without the failure callback
(`workers.catalog.PREFETCH_FUNCTION`), and the render fetches whatever is still missing.
Last, each clip gets its preview proxy (pipeline.proxies), so Render's quick preview decodes
small frames instead of full-size footage.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import redis

from adapters.outbox import sender_for
from adapters.registry import platform
from bot import replies
from bot.actions import Action, Picture, Say
from bot.events import ReplyTarget
from bot.handlers import workspace_key
from bot.project import Project, ProjectStore
from pipeline.media.backgrounds import is_background
from pipeline.media.cache import MediaCache
from pipeline.media.model import Shot
from pipeline.media.storyboard import contact_sheet, thumbnails
from pipeline.proxies import make_proxies
from pipeline.script import Script
from pipeline.settings import load_settings
from workers import runtime

log = logging.getLogger(__name__)

TOLD_TTL = 7 * 24 * 3600
"""How long a version remembers that its storyboard and picture notes went out."""


def prefetch(project_id: str, version: int, target: dict[str, Any]) -> int:
    """Fetch the version's shots into the media cache and post its storyboard once; returns
    how many shot files are ready. A version the project has moved on from is skipped."""
    runtime.mark_stage("pictures")
    connection = runtime.connection()
    project = ProjectStore(connection).get(project_id)
    if project is None or project.current != version:
        log.info("project %s moved on from v%s; not fetching its pictures", project_id, version)
        return 0
    script = project.versions[version - 1]
    if not _pictures(script):
        return 0
    run = _Prefetch(connection, project, version, ReplyTarget.model_validate(target))
    return run.go(script)


class _Prefetch:
    """One run of the job for one version."""

    def __init__(
        self, connection: redis.Redis, project: Project, version: int, target: ReplyTarget
    ) -> None:
        self.connection = connection
        self.project = project
        self.version = version
        self.target = target
        self.pictures = runtime.current().pictures
        self.director = self.pictures.directors(workspace_key(project.conversation))

    def go(self, script: Script) -> int:
        cache = self.pictures.cache
        early = cached(script, cache)
        if all(shot.media.key in early or shot.media.thumbnail_url for shot in _pictures(script)):
            self.post_sheet(script, early)
            fetched = self.director.fetch(script, cache)
        else:
            fetched = self.director.fetch(script, cache)
            self.post_sheet(script, fetched.files)
        tell_notes(self.connection, self.project.id, self.version, fetched.notes, self._say)
        make_proxies(cache.proxies_dir, script, fetched.files)
        return len(fetched.files)

    def post_sheet(self, script: Script, files: Mapping[str, Path]) -> None:
        """The contact sheet, once per version, where the platform shows images."""
        if Picture not in platform(self.target.adapter).renders:
            return
        if not _first(self.connection, "storyboard", self.project.id, self.version):
            return
        try:
            sheet = self._draw(script, files)
            caption = replies.storyboard_caption(self.version, len(_pictures(script)))
            _send(
                self.connection,
                self.target,
                Picture(target=self.target, path=str(sheet), caption=caption),
            )
        except Exception:
            _forget(self.connection, "storyboard", self.project.id, self.version)
            raise

    def _say(self, text: str) -> None:
        _send(self.connection, self.target, Say(target=self.target, text=text))

    def _draw(self, script: Script, files: Mapping[str, Path]) -> Path:
        out = sheet_path(self.project, self.version)
        with tempfile.TemporaryDirectory(prefix="thumbs-") as scratch:
            return contact_sheet(script, thumbnails(script, Path(scratch), files), out)


def tell_notes(
    connection: redis.Redis,
    project_id: str,
    version: int,
    notes: list[str],
    say: Callable[[str], None],
) -> None:
    """What could not be fetched, as one message, once per version (prefetch or render)."""
    if not notes or not _first(connection, "notes", project_id, version):
        return
    try:
        say(" ".join(notes))
    except Exception:
        _forget(connection, "notes", project_id, version)
        raise


def sheet_path(project: Project, version: int) -> Path:
    """`<data dir>/storyboards/<workspace>/<project>-v<N>.jpg`."""
    folder = load_settings().data_dir / "storyboards" / project.workspace
    return folder / f"{project.id}-v{version}.jpg"


def missing(script: Script, cache: MediaCache) -> int:
    """How many of the script's pictures the cache does not hold yet."""
    return len({shot.media.key for shot in _pictures(script)} - set(cached(script, cache)))


def _pictures(script: Script) -> list[Shot]:
    """The shots that show a picture (not a built-in background)."""
    return [s for scene in script.scenes for s in scene.shots if not is_background(s.media)]


def cached(script: Script, cache: MediaCache) -> dict[str, Path]:
    """The files of the script's pictures the cache holds already, by key."""
    found = {shot.media.key: cache.get(shot.media) for shot in _pictures(script)}
    return {key: path for key, path in found.items() if path is not None}


def _key(what: str, project_id: str, version: int) -> str:
    return f"novacast:media:told:{what}:{project_id}:v{version}"


def _first(connection: redis.Redis, what: str, project_id: str, version: int) -> bool:
    """True for the first caller per version (SET NX); every later one gets False."""
    return bool(connection.set(_key(what, project_id, version), 1, nx=True, ex=TOLD_TTL))


def _forget(connection: redis.Redis, what: str, project_id: str, version: int) -> None:
    connection.delete(_key(what, project_id, version))


def _send(connection: redis.Redis, target: ReplyTarget, action: Action) -> None:
    sender_for(target, connection).send(action)
