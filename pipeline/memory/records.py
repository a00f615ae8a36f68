"""What the vector memory stores and returns: plain values, importable without qdrant-client."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Hit:
    """A remembered project; `score` is the cosine similarity to the query (1.0 for lookups)."""

    score: float
    project_id: str
    idea: str
    user: str
    title: str = ""
    created_at: datetime | None = None


@dataclass(frozen=True)
class ProjectRecord:
    """What is remembered about a project. `topic` is what gets embedded."""

    workspace: str
    user: str
    project_id: str
    idea: str
    topic: str
    title: str = ""
    script: str = ""
    created_at: datetime | None = None
