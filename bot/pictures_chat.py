"""Changing the pictures by talking, and the workspace's uploads.

"another clip for scene 2", "use a beach for the intro", "use my photo in scene 2" and the looks
("illustrated look", "no stock, just my photos", "plain backgrounds") each make a new version
through `Handlers.add_version`, so they share the script edits' history, undo and atomic update.
The Director (pipeline.media.director) does the choosing; this module reads what was asked,
which scene is meant, and says what happened in plain words.

Files sent into the chat arrive as `Attachment`s the adapter already fetched; each goes through
the asset store, which vets it. With a draft open the upload is offered to it, or used at once
when the message also says where ("use this for scene 2" with the photo attached).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from bot import replies
from bot.actions import Action, Say
from bot.events import Attachment
from bot.handlers import EDITABLE, Context, Directors, Handlers, approval_by, workspace_key
from bot.intents import LAST_SCENE, PictureKind, PictureRequest, picture_request
from bot.project import Project, ProjectStore
from pipeline.media.assets import Asset, AssetStore, as_candidate
from pipeline.media.backgrounds import is_background
from pipeline.media.director import Director, Storyboarded
from pipeline.media.model import Look, MediaRefused
from pipeline.script import Revision, Script
from policy import Permission, Policy, Refusal
from policy.checks import OnTrustedAdapter, is_requester, is_workspace_admin

Change = Callable[[Script], Storyboarded]
GENERATED = "generated"
"""The generated-images source's name in pipeline.media.sources.REGISTRY."""


class Pictures:
    """The handlers for lines about pictures and for files sent into the chat."""

    def __init__(
        self,
        handlers: Handlers,
        store: ProjectStore,
        policy: Policy,
        directors: Directors | None,
        assets: AssetStore | None,
    ) -> None:
        self.handlers = handlers
        self.store = store
        self.policy = policy
        self.directors = directors
        self.assets = assets

    # --- "another clip for scene 2", "use a beach for the intro", "illustrated look" -----------

    def change(self, ctx: Context, project: Project, line: str) -> list[Action]:
        """A picture change of the current version, as `line` asks; a new version if it did."""
        request = picture_request(line)
        if request is None or request.kind is PictureKind.ASSETS:
            return ctx.say(replies.ASK_SCENE)
        denied = self.handlers.may_edit(ctx, project)
        if denied:
            return ctx.tell(denied)
        if project.state not in EDITABLE:
            return ctx.say(replies.refusal("change", project))
        if self.directors is None:
            return ctx.say(replies.NO_PICTURES)
        if request.kind is PictureKind.LOOK:
            return self._look(ctx, project, request.look or Look.STOCK)
        return self._shot(ctx, project, request, None)

    def _look(self, ctx: Context, project: Project, look: Look) -> list[Action]:
        """Every scene chosen again for `look`. An illustrated look needs generated images:
        without them the draft stays as it is (stock shots under an "illustrated" label would
        mislead), and the reply says why."""
        if look is project.script.look:
            return ctx.say(replies.look_unchanged(look.value, []))
        workspace = workspace_key(ctx.conversation)
        director = self._director(workspace)
        if look is Look.ILLUSTRATED and director.source(GENERATED) is None:
            return ctx.say(replies.NO_ILLUSTRATIONS)
        board = self.handlers.pictured(
            lambda script: director.with_look(script, workspace, look), project.script
        )
        if not board.changed:
            return ctx.say(replies.look_unchanged(look.value, board.notes))
        revision = Revision(script=board.script, summary=replies.look_summary(look.value),
                            changed=True)
        return self.handlers.add_version(ctx, project, revision, board.notes)

    def _shot(
        self, ctx: Context, project: Project, request: PictureRequest, upload: Asset | None
    ) -> list[Action]:
        """Another, a searched or an uploaded picture for the scene the request names."""
        scenes = len(project.script.scenes)
        if request.scene is None:
            return ctx.say(replies.ASK_SCENE)
        number = scenes if request.scene == LAST_SCENE else request.scene
        if not 1 <= number <= scenes:
            return ctx.say(replies.no_such_scene(number, scenes))
        if request.kind is PictureKind.UPLOAD and upload is None:
            found = self._upload(ctx, request.upload)
            if isinstance(found, str):
                return ctx.say(found)
            upload = found
        change, summary = self._shot_change(ctx, request, number - 1, upload)
        board = self.handlers.pictured(change, project.script)
        if not board.changed:
            return ctx.say(replies.shot_unchanged(number, board.notes))
        shots = board.script.scenes[number - 1].shots
        plain = upload is None and all(is_background(shot.media) for shot in shots)
        said = replies.shot_summary("background", number) if plain else summary(number)
        revision = Revision(script=board.script, summary=said, changed=True)
        notes = [] if upload is not None else board.notes  # the summary says it all
        return self.handlers.add_version(ctx, project, revision, notes)

    def _shot_change(
        self, ctx: Context, request: PictureRequest, index: int, upload: Asset | None
    ) -> tuple[Change, Callable[[int], str]]:
        workspace = workspace_key(ctx.conversation)
        director = self._director(workspace)
        if upload is not None:
            candidate, kind = as_candidate(upload), upload.kind.value
            return (
                lambda script: director.use_asset(script, workspace, index, candidate),
                lambda n: replies.shot_summary("upload", n, replies.upload_kind(kind)),
            )
        if request.kind is PictureKind.SEARCH:
            query = request.query
            return (
                lambda script: director.search_for(script, workspace, index, query),
                lambda n: replies.shot_summary("search", n, query),
            )
        return (
            lambda script: director.another(script, workspace, index),
            lambda n: replies.shot_summary("another", n),
        )

    def _director(self, workspace: str) -> Director:
        if self.directors is None:
            raise RuntimeError("pictures are not set up")
        return self.directors(workspace)

    # --- the workspace's uploads --------------------------------------------------------------

    def _upload(self, ctx: Context, which: str) -> Asset | str:
        """The upload `which` names (a number from /assets, or an id), or the latest; or why not."""
        if self.assets is None:
            return replies.NO_PICTURES
        workspace = workspace_key(ctx.conversation)
        if not which:
            return self.assets.latest(workspace) or replies.NO_UPLOADS
        return self._find(workspace, which) or replies.UNKNOWN_UPLOAD

    def _find(self, workspace: str, which: str) -> Asset | None:
        assert self.assets is not None
        if which.isdigit() and len(which) <= 3:
            listed = self.assets.list(workspace)
            number = int(which)
            return listed[number - 1] if 1 <= number <= len(listed) else None
        return self.assets.get(workspace, which)

    def list_assets(self, ctx: Context, argument: str) -> list[Action]:
        """/assets lists the uploads; "/assets delete 2" (or an id) deletes one."""
        if self.assets is None:
            return ctx.say(replies.NO_PICTURES)
        verb, _, which = argument.strip().partition(" ")
        if verb.lower() in ("delete", "remove", "rm", "del"):
            return self._delete(ctx, which.strip().lstrip("#"))
        workspace = workspace_key(ctx.conversation)
        rows = [
            (n, a.id, a.name, a.kind.value, a.size_bytes, a.duration)
            for n, a in enumerate(self.assets.list(workspace), start=1)
        ]
        return ctx.say(replies.uploads_list(rows))

    def _delete(self, ctx: Context, which: str) -> list[Action]:
        assert self.assets is not None
        if not which:
            return ctx.say(replies.ASK_DELETE)
        workspace = workspace_key(ctx.conversation)
        asset = self._find(workspace, which.lower())
        if asset is None:
            return ctx.say(replies.UNKNOWN_UPLOAD)
        refusal = self._may_delete(ctx, asset)
        if refusal is not None:
            return ctx.tell(refusal.reason)
        self.assets.delete(workspace, asset.id)
        return ctx.say(replies.upload_deleted(asset.name))

    def _may_delete(self, ctx: Context, asset: Asset) -> Refusal | None:
        """The uploader, a workspace admin, or anyone on a trusted adapter (the console)."""
        trusted = OnTrustedAdapter(frozenset(self.policy.approvers.trusted_adapters))
        check = Permission(
            trusted,
            is_requester,
            is_workspace_admin,
            refusal=Refusal("uploader", replies.NOT_YOUR_UPLOAD),
        )
        return check(approval_by(ctx, asset.added_by))

    # --- files sent into the chat -------------------------------------------------------------

    def attachments(
        self, ctx: Context, files: Sequence[Attachment], text: str
    ) -> tuple[list[Action], bool]:
        """Keep each file (or say why not), then offer it to the open draft, or use it at once
        when `text` says where. Returns the replies and whether `text` was used up here (it
        was about the file); other words ("make it shorter") are the engine's to read.

        A kept file is moved into the asset store (the adapter's download becomes the asset);
        a refused one is left where the adapter put it."""
        if self.assets is None:
            return ctx.say(replies.NO_PICTURES), False
        kept, refused = self._keep(ctx, files)
        if not kept:
            return ctx.say(replies.joined(*refused)), False
        request = picture_request(text) if text else None
        project = self.store.active(ctx.conversation)
        draft_open = project is not None and project.state in EDITABLE
        wants = request is not None and request.kind is PictureKind.UPLOAD and request.scene
        if wants and project is not None and draft_open:
            assert request is not None
            denied = self.handlers.may_edit(ctx, project)
            if denied:  # the file is kept; the draft is someone else's to change
                kinds = [a.kind.value for a in kept]
                note = replies.uploads_received(kinds, draft_open=False)
                return ctx.tell(replies.joined(*refused, denied, note)), True
            actions = self._shot(ctx, project, request, kept[-1])
            return _led(actions, refused), True
        note = replies.uploads_received([a.kind.value for a in kept], draft_open)
        about_it = request is not None and request.kind is PictureKind.UPLOAD
        return ctx.say(replies.joined(*refused, note)), about_it

    def _keep(self, ctx: Context, files: Sequence[Attachment]) -> tuple[list[Asset], list[str]]:
        assert self.assets is not None
        workspace = workspace_key(ctx.conversation)
        kept: list[Asset] = []
        refused: list[str] = []
        several = len(files) > 1
        for file in files:
            if file.refused:
                refused.append(replies.upload_refused(file.name, file.refused, several))
                continue
            try:
                kept.append(
                    self.assets.add(
                        workspace, Path(file.path), name=file.name or "upload",
                        added_by=ctx.conversation.user, move=True,
                    )
                )
            except MediaRefused as error:
                refused.append(replies.upload_refused(file.name, str(error), several))
        return kept, refused


def _led(actions: list[Action], notes: list[str]) -> list[Action]:
    """`actions` with `notes` (files refused alongside) said first."""
    if not notes or not actions or not isinstance(actions[0], Say):
        return actions
    first = actions[0]
    return [first.model_copy(update={"text": replies.joined(*notes, first.text)}), *actions[1:]]
