"""What every picture source, the shot chooser, the cache and the renderer agree on.

A `MediaSource` answers a `MediaQuery` with `Candidate`s (what a provider offers: id, kind,
size, duration, thumbnail, download address, licence and credit) and downloads one into a
path it is given. A `Shot` is a candidate placed on the script: which narration line it
illustrates, how long it is planned to stay, where in the clip it starts and where the crop
centres. Shots live on `Scene.shots`, so changing one is a new script version like any edit,
and the render fingerprint covers every shot's `Candidate.key`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from pipeline.errors import PipelineError


class MediaKind(StrEnum):
    """What a candidate is: a moving clip (GIFs count), a still, or a built-in background."""

    VIDEO = "video"
    PHOTO = "photo"
    BACKGROUND = "background"


class Orientation(StrEnum):
    """The shape asked for; the value is what Pexels calls it (Pixabay says vertical/horizontal)."""

    PORTRAIT = "portrait"
    LANDSCAPE = "landscape"
    SQUARE = "square"

    @classmethod
    def of_size(cls, width: int, height: int) -> Orientation:
        if width == height:
            return cls.SQUARE
        return cls.PORTRAIT if height > width else cls.LANDSCAPE


class Look(StrEnum):
    """What kind of pictures a draft asks for, as the user says it."""

    STOCK = "stock"
    """Stock footage and photos where a source answers; built-in backgrounds otherwise."""
    ILLUSTRATED = "illustrated"
    """Generated images first ("illustrated look")."""
    OWN = "own"
    """Only the workspace's own uploads ("no stock, just my photos")."""
    PLAIN = "plain"
    """Only the built-in backgrounds."""


class MediaQuery(BaseModel):
    """One search: words, the frame's shape, and how long a clip must last at least."""

    model_config = ConfigDict(frozen=True)

    text: str = Field(min_length=1, max_length=100)
    orientation: Orientation = Orientation.PORTRAIT
    min_seconds: float = Field(default=0.0, ge=0)
    kinds: frozenset[MediaKind] = frozenset({MediaKind.VIDEO, MediaKind.PHOTO})
    limit: int = Field(default=15, ge=1, le=80)


class Candidate(BaseModel):
    """One picture a source offers, as the source describes it."""

    model_config = ConfigDict(frozen=True)

    source: str = Field(min_length=1, description="the source's registry name, e.g. pexels")
    id: str = Field(min_length=1, max_length=200, description="the source's own id")
    kind: MediaKind
    width: int = Field(ge=0)
    height: int = Field(ge=0)
    duration: float | None = Field(default=None, ge=0, description="seconds; None for stills")
    thumbnail_url: str = ""
    download_url: str = ""
    """Where the file is fetched from (https for providers); empty where `download` knows."""
    size_bytes: int | None = Field(default=None, ge=0)
    licence: str = ""
    credit: str = ""
    """The attribution the licence asks for, e.g. "Video by Jane Doe on Pexels"."""
    page_url: str = ""
    text: str = ""
    """What the source says it shows (tags, alt text, title): what ranking reads."""

    @property
    def key(self) -> str:
        """Stable identity across searches: the cache and the fingerprint use it."""
        return f"{self.source}:{self.id}"

    @property
    def orientation(self) -> Orientation:
        return Orientation.of_size(self.width, self.height)


class Crop(BaseModel):
    """Where the crop to the frame's shape centres, as fractions of the picture (0.5 = middle)."""

    model_config = ConfigDict(frozen=True)

    x: float = Field(default=0.5, ge=0, le=1)
    y: float = Field(default=0.5, ge=0, le=1)


class Shot(BaseModel):
    """A candidate placed on the script.

    The render gives each scene's shots its span in proportion to `seconds`, in list order;
    a clip starts at `start` seconds and loops when its beat is longer than what is left."""

    model_config = ConfigDict(frozen=True)

    media: Candidate
    line: int = Field(ge=0, description="the narration line it illustrates (0 is the hook)")
    seconds: float = Field(gt=0, le=60, description="planned time on screen (an estimate)")
    start: float = Field(default=0.0, ge=0, description="in-point within a clip, seconds")
    crop: Crop = Crop()
    query: str = Field(default="", max_length=100, description="what was searched for it")


class SourceUnavailable(PipelineError):
    """A source cannot answer now (down, out of quota, rate-limited past waiting, no key).

    `str(error)` is one sentence a user can read; the caller moves on to the next source."""


class MediaRefused(PipelineError):
    """A file is not usable media (not media at all, too big, too long, corrupt or hostile).

    `str(error)` is one sentence a user can read."""


class MediaSource(Protocol):
    """Anything that offers pictures: a stock provider, generated images, the user's uploads."""

    name: str

    def search(self, query: MediaQuery) -> list[Candidate]:
        """Candidates for `query`, best first by the source's own order; [] when none.

        Raises `SourceUnavailable` when the source cannot answer."""
        ...

    def download(self, candidate: Candidate, into: Path) -> Path:
        """Write the candidate's file to `into` (size-bounded) and return it.

        Raises `SourceUnavailable` (retry later or elsewhere) or `MediaRefused`."""
        ...
