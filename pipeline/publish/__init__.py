"""Publishing an approved video: the `Publisher` protocol and the values it takes and returns.

A publisher is idempotent: publishing the same project version twice returns where it already
went and does not publish a second copy. `FolderPublisher` (in `pipeline.publish.folder`) is
the embedded default; platform uploaders plug in with the same two members, and each is named
once, by its policy target kind, in the workers' table (`workers.publishers.PUBLISHERS`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _aware(moment: datetime) -> datetime:
    """`moment` with a time zone; a naive time is taken to be UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


AwareTime = Annotated[datetime, AfterValidator(_aware)]


class PublishRequest(BaseModel):
    """One approved project version to publish, with who approved it and when."""

    model_config = ConfigDict(frozen=True)

    video: Path
    workspace: str = Field(min_length=1, max_length=200)
    project_id: str = Field(min_length=1, max_length=200)
    version: int = Field(ge=1)
    title: str = Field(min_length=1, max_length=300)
    sentences: list[str] = Field(default_factory=list, description="the narration, in order")
    approved_by: str = Field(min_length=1)
    approved_at: AwareTime
    metadata: dict[str, Any] = Field(default_factory=dict, description="e.g. duration, aspect")

    @property
    def script_text(self) -> str:
        """The narration as one paragraph."""
        return " ".join(self.sentences)


class PublishResult(BaseModel):
    """Where a video went; `location` is something a person can open or paste."""

    model_config = ConfigDict(frozen=True)

    target: str = Field(min_length=1)
    location: str = Field(min_length=1)
    published_at: AwareTime
    reused: bool = Field(default=False, description="already published earlier; nothing new")


class Publisher(Protocol):
    """Anything that publishes approved videos: a folder now, platforms later."""

    name: str

    def publish(self, request: PublishRequest) -> PublishResult:
        """Publish once; a repeat of the same project version returns the first result."""
        ...


__all__ = ["PublishRequest", "PublishResult", "Publisher"]
