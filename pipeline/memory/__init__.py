"""Long-term memory with no chat knowledge: sentence embeddings and a per-workspace vector store.

`embed(texts)` gives unit vectors from the bundled all-MiniLM-L6-v2 (loaded once per process);
`VectorMemory` keeps one vector per project in Qdrant (local files, or a server at QDRANT_URL)
and answers `similar(workspace, text)` and `last_project(workspace, user)`.
"""

from pipeline.memory.embeddings import DIMENSIONS, Embedder, embed
from pipeline.memory.store import Hit, ProjectRecord, VectorMemory, shared_memory

__all__ = [
    "DIMENSIONS",
    "Embedder",
    "Hit",
    "ProjectRecord",
    "VectorMemory",
    "embed",
    "shared_memory",
]
