"""The embedding model on ONNX Runtime gives sentence-transformers' vectors, and is converted once.

This test imports torch and sentence-transformers on purpose: it compares the converted model
with the packaged one as sentence-transformers runs it. The product's processes never import
them (tests/e2e/test_light_processes.py).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from bot.intent_model import load_examples
from pipeline.memory import embeddings
from pipeline.memory.onnx_encoder import converted_dir, ensure_converted, packaged_dir

EDGE_CASES = [
    "",
    " ",
    "ok",
    "MAKE A VIDEO ABOUT OCTOPUSES!!!",
    "Une vidéo sur les pieuvres, s'il te plaît — 30 s, ton léger.",
    "写一个关于章鱼的视频",
    "🐙🐙🐙 three hearts?",
    "https://example.invalid/a?b=c&d=e",
    "v2",
    "don't publish yet, not before Friday 18:00",
    "a very long line about the deep sea " * 60,  # past the 256-token limit: truncated alike
    "line one\nline two\ttabbed",
]


def _sentences() -> list[str]:
    examples = [text for texts in load_examples().values() for text in texts]
    return examples[::max(1, len(examples) // 40)][:40] + EDGE_CASES


@pytest.fixture(scope="module")
def torch_model():  # type: ignore[no-untyped-def]
    sentence_transformers = pytest.importorskip("sentence_transformers")
    return sentence_transformers.SentenceTransformer(str(packaged_dir()), device="cpu")


def test_vectors_match_sentence_transformers_within_1e4_cosine(torch_model) -> None:  # type: ignore[no-untyped-def]
    sentences = _sentences()
    assert len(sentences) >= 50
    ours = np.asarray(embeddings.embed(sentences), dtype=np.float64)
    theirs = np.asarray(torch_model.encode(sentences, normalize_embeddings=True), dtype=np.float64)
    assert ours.shape == theirs.shape == (len(sentences), embeddings.DIMENSIONS)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = (ours * theirs).sum(axis=1) / np.linalg.norm(theirs, axis=1)
    worst = int(cosines.argmin())
    assert cosines[worst] >= 1 - 1e-4, (sentences[worst][:60], cosines[worst])
    # a batch gives what one line at a time gives (padding changes nothing)
    one_by_one = np.asarray([embeddings.embed([s + " "])[0] for s in sentences[:5]])
    batched = np.asarray(embeddings.embed([s + " " for s in sentences[:5]]))
    np.testing.assert_allclose(one_by_one, batched, atol=1e-5)


@pytest.mark.slow
def test_a_missing_model_is_converted_on_first_use_once_under_a_lock(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pipeline.memory.onnx_encoder")
    target = converted_dir(tmp_path / "models")
    results: list[Path | BaseException] = []

    def first_use() -> None:
        try:
            results.append(ensure_converted(target))
        except BaseException as error:  # reported below
            results.append(error)

    threads = [threading.Thread(target=first_use) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert results == [target, target]
    said = [r.getMessage() for r in caplog.records]
    assert sum("is not converted yet" in line for line in said) == 2, said
    assert sum("model converted:" in line for line in said) == 1, said  # one child converted
    assert sum("model already converted:" in line for line in said) == 1, said  # one waited
    made = sorted(p.name for p in target.parent.iterdir())
    assert made == sorted([target.name, f"{target.name}.lock"]), made  # no part left behind
    assert sorted(p.name for p in target.iterdir()) == ["encoder.onnx", "word_embeddings.npy"]
    assert ensure_converted(target) == target  # made: nothing more to do


HEAVY = ("torch", "transformers", "sentence_transformers", "optimum")
PROBE = f"""
import json, sys
import novacast.server, novacast.wiring, workers.worker
from bot.intent_model import IntentModel
from pipeline.memory import embeddings
IntentModel().warm()
embeddings.warm_up()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})))
"""


def test_the_bot_and_worker_code_embed_without_importing_torch() -> None:
    """What the bot and a worker import, with the model loaded and run: no torch, no
    transformers (tests/e2e/test_light_processes.py checks the real processes)."""
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
