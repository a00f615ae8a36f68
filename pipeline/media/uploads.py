"""The workspace's own photos, clips and GIFs as a `MediaSource` (registry name "upload").

`search` returns the workspace's assets that fit the query's kinds and minimum length (a still
fits any length), newest first; ranking them by meaning against the sentence is the shot
chooser's job, so the query's words are not used here. `download` copies the stored file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.media.assets import AssetStore, as_candidate
from pipeline.media.model import Candidate, MediaKind, MediaQuery, MediaRefused


class UploadSource:
    """The `MediaSource` over one workspace's assets."""

    name = "upload"
    in_process = True
    """Answers from Redis on this machine: the chooser asks it without a thread (shots.py)."""

    def __init__(self, store: AssetStore, workspace: str) -> None:
        self.store = store
        self.workspace = workspace

    def search(self, query: MediaQuery) -> list[Candidate]:
        fitting = [
            as_candidate(asset)
            for asset in self.store.list(self.workspace)
            if asset.kind in query.kinds
            and (asset.kind is not MediaKind.VIDEO or (asset.duration or 0.0) >= query.min_seconds)
        ]
        return fitting[: query.limit]

    def download(self, candidate: Candidate, into: Path) -> Path:
        """Copy the asset's file to `into` (a file path); `MediaRefused` once it was deleted."""
        asset = self.store.get(self.workspace, candidate.id)
        if candidate.source != self.name or asset is None or not asset.path.is_file():
            raise MediaRefused("That photo or clip is no longer among your uploads.")
        into = Path(into)
        into.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(asset.path, into)
        return into
