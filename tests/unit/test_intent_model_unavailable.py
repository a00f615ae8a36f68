"""Without a working embedding model the intent model answers with the rules, and says so once."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from bot.intent_model import IntentModel
from bot.intents import IntentKind, classify


def _no_model(texts: Sequence[str]) -> list[list[float]]:
    raise RuntimeError("converting the embedding model failed: read-only file system")


def test_the_rules_answer_and_one_error_line_says_why(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="bot.intent_model")
    model = IntentModel(examples={IntentKind.HELP: ["list your commands"]}, embedder=_no_model)
    lines = ["list your commands", "thumbs down", "how's your day going"]
    assert [model(text) for text in lines] == [classify(text) for text in lines]
    assert model("/make 20s on tide pools") == classify("/make 20s on tide pools")
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1, said
    assert "embedding model is unavailable (RuntimeError" in said[0]
    assert "rules alone" in said[0]
