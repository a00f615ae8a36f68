"""Convert the bundled all-MiniLM-L6-v2 encoder to ONNX, once: `make setup` runs this module.

This is the only module that imports torch, and only when run (by `make setup`, or by
`onnx_encoder.ensure_converted` in a child process). The BERT encoder is loaded from the packaged
weights with transformers (offline) and traced with `torch.onnx.export` (the TorchScript
exporter: the newer one needs onnxscript, which we do not ship); inputs and output have dynamic
batch and sequence axes. Before the file is put in place, its vectors are checked against the
torch model's on a few sentences, so a bad export never lands.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.memory.onnx_encoder import (
    INPUTS,
    OUTPUT,
    OnnxEncoder,
    conversion_lock,
    model_file,
    packaged_dir,
)

log = logging.getLogger(__name__)

OPSET = 17
CHECK = [
    "make a video about octopuses",
    "",
    "publish it",
    "Une phrase en français, avec des accents.",
    "a much longer line " * 40,
]
TOLERANCE = 1e-5
"""Largest 1 - cosine allowed between the torch and the converted vectors at conversion time."""


def convert(target: Path) -> bool:
    """Make `target` unless it exists (under the conversion lock); whether it was made now."""
    with conversion_lock(target):
        if target.exists():
            return False
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        handle, name = tempfile.mkstemp(suffix=".onnx.part", dir=target.parent)
        os.close(handle)
        partial = Path(name)
        try:
            reference = _export(partial)
            _check(partial, reference)
            partial.chmod(0o644)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
    return True


def _export(path: Path) -> np.ndarray:
    """Write the ONNX encoder to `path`; returns the torch model's vectors for `CHECK`."""
    import torch  # noqa: PLC0415  (set-up only: never in the bot or worker processes)
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415
    from transformers import AutoModel  # noqa: PLC0415
    from transformers.utils import logging as hf_logging  # noqa: PLC0415

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

    folder = str(packaged_dir())
    encoder = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    wrapped = _last_hidden(encoder, torch)
    sample = {name: torch.ones((2, 8), dtype=torch.long) for name in INPUTS}
    sample["token_type_ids"] = torch.zeros((2, 8), dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, OUTPUT)}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on constant shapes it checked
        torch.onnx.export(
            wrapped, tuple(sample[name] for name in INPUTS), str(path),
            input_names=list(INPUTS), output_names=[OUTPUT], dynamic_axes=axes,
            opset_version=OPSET, dynamo=False,
        )
        reference = SentenceTransformer(folder, device="cpu").encode(
            CHECK, normalize_embeddings=True, show_progress_bar=False
        )
    return np.asarray(reference, dtype=np.float32)


def _last_hidden(encoder: Any, torch: Any) -> Any:
    """The encoder with positional inputs and the token vectors as its one output."""

    class LastHidden(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    return LastHidden()


def _check(path: Path, reference: np.ndarray) -> None:
    vectors = OnnxEncoder(path).encode(CHECK)
    worst = float(1.0 - (vectors * reference).sum(axis=1).min())
    if worst > TOLERANCE:
        raise RuntimeError(f"converted model disagrees with torch: 1 - cosine = {worst:.2e}")
    log.info("converted model agrees with torch: worst 1 - cosine = %.1e", worst)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=None, help="default: the model cache")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    target = args.output or model_file()
    made = convert(target)
    print(f"{'converted' if made else 'already converted'}: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
