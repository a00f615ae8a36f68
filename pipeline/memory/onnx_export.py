"""Convert the bundled all-MiniLM-L6-v2 encoder to ONNX, once: `make setup` runs this module.

This is the only module that imports torch, and only when run (by `make setup`, or by
`onnx_encoder.ensure_converted` in a child process). The BERT encoder is loaded from the packaged
weights with transformers (offline); its token-vector table is saved as a .npy file and the rest
is traced with `torch.onnx.export` from token vectors (`inputs_embeds`) on (the TorchScript
exporter: the newer one needs onnxscript, which we do not ship), with dynamic batch and sequence
axes. Both are written into a temporary folder, checked against sentence-transformers' vectors on
a few sentences, and only then renamed into place, so a bad or half-made export never lands.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.memory.onnx_encoder import (
    ENCODER,
    INPUTS,
    OUTPUT,
    WORDS,
    OnnxEncoder,
    conversion_lock,
    converted_dir,
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
        partial = Path(tempfile.mkdtemp(prefix=f"{target.name}.", suffix=".part",
                                        dir=target.parent))
        try:
            reference = _export(partial)
            _check(partial, reference)
            partial.chmod(0o755)
            partial.rename(target)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return True


def _export(folder: Path) -> np.ndarray:
    """Write the token table and the ONNX encoder into `folder`; returns sentence-transformers'
    vectors for `CHECK`."""
    import torch  # noqa: PLC0415  (set-up only: never in the bot or worker processes)
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415
    from transformers import AutoModel  # noqa: PLC0415
    from transformers.utils import logging as hf_logging  # noqa: PLC0415

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

    packaged = str(packaged_dir())
    encoder = AutoModel.from_pretrained(packaged, attn_implementation="eager").eval()
    table = encoder.embeddings.word_embeddings.weight.detach().numpy()
    np.save(folder / WORDS, np.ascontiguousarray(table, dtype=np.float32))
    wrapped = _last_hidden(encoder, torch)
    sample = {
        "inputs_embeds": torch.zeros((2, 8, table.shape[1]), dtype=torch.float32),
        "attention_mask": torch.ones((2, 8), dtype=torch.long),
        "token_type_ids": torch.zeros((2, 8), dtype=torch.long),
    }
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, OUTPUT)}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on constant shapes it checked
        torch.onnx.export(
            wrapped, tuple(sample[name] for name in INPUTS), str(folder / ENCODER),
            input_names=list(INPUTS), output_names=[OUTPUT], dynamic_axes=axes,
            opset_version=OPSET, dynamo=False,
        )
        reference = SentenceTransformer(packaged, device="cpu").encode(
            CHECK, normalize_embeddings=True, show_progress_bar=False
        )
    return np.asarray(reference, dtype=np.float32)


def _last_hidden(encoder: Any, torch: Any) -> Any:
    """The encoder from token vectors on (positions, token types, layers), with positional
    inputs and the contextual token vectors as its one output."""

    class LastHidden(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, inputs_embeds: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.encoder(
                inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            ).last_hidden_state

    return LastHidden()


def _check(folder: Path, reference: np.ndarray) -> None:
    vectors = OnnxEncoder(folder).encode(CHECK)
    worst = float(1.0 - (vectors * reference).sum(axis=1).min())
    if worst > TOLERANCE:
        raise RuntimeError(f"converted model disagrees with torch: 1 - cosine = {worst:.2e}")
    log.info("converted model agrees with torch: worst 1 - cosine = %.1e", worst)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=None, help="default: the model cache")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    target = args.output or converted_dir()
    made = convert(target)
    print(f"{'converted' if made else 'already converted'}: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
