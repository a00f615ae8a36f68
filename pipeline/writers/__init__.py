"""Script writers behind the `pipeline.script.Writer` protocol.

`OfflineWriter` is the embedded default: deterministic templates, no keys, no network, signed
"offline template writer". LLM-backed writers plug in beside it with the same four methods.
"""

from __future__ import annotations

from pipeline.writers.draft import WRITER_NAME
from pipeline.writers.offline import OfflineWriter

__all__ = ["WRITER_NAME", "OfflineWriter"]
