"""Long-term memory with no chat knowledge: sentence embeddings and a per-workspace vector store.

`embed(texts)` gives unit vectors from the bundled all-MiniLM-L6-v2 (loaded once per process).
`pipeline.memory.store.VectorMemory` keeps one vector per project (local files under the data
dir, or a Qdrant server at QDRANT_URL) and answers `similar(workspace, text)` and
`last_project(workspace, user)`. The store is imported on demand (qdrant-client only with a
server: it alone takes 1-2 s and ~38 MB to import).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from pipeline.memory.embeddings import DIMENSIONS, Embedder, embed
from pipeline.memory.records import Hit, ProjectRecord

if TYPE_CHECKING:
    from pipeline.memory.store import VectorMemory

log = logging.getLogger(__name__)

__all__ = ["DIMENSIONS", "Embedder", "Hit", "ProjectRecord", "embed", "memory_from_env"]


def memory_from_env() -> VectorMemory | None:
    """The process's one `VectorMemory`, or None when `NOVACAST_MEMORY` is off/0/false/no, or
    when the local store is locked by another process (local memory allows one process per
    folder: run Qdrant as a server, QDRANT_URL, to share memory between bot replicas)."""
    if os.environ.get("NOVACAST_MEMORY", "on").strip().lower() in ("off", "0", "false", "no"):
        return None
    from pipeline.memory.store import shared_memory  # noqa: PLC0415 (only when memory is on)

    try:
        return shared_memory()
    except RuntimeError as error:  # "Storage folder ... is already accessed by another instance"
        log.warning("long-term memory is off: %s", error)
        return None
