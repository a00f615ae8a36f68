"""Where the API reads and writes the model routing table (models.yaml: routes, experiments,
prices, per-workspace prompt pins).

The writer loads models.yaml once, at process start (`pipeline.writers.choose.writer_from_env`,
via `pipeline.llm.config.load_models`): the one `models_path()` names, i.e. NOVACAST_MODELS when
set, else `<data dir>/models.yaml` when it exists, else the packaged file. A replacement is
therefore written to NOVACAST_MODELS when set, otherwise to `<data dir>/models.yaml` (the
packaged file is never overwritten). Either way a change takes effect when the bot and the
workers start next. A replacement is validated first
(the table's own model, and every prompt pin against the prompts that exist) and written
atomically (a temporary file renamed into place), so a reader never sees half a file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import yaml

from pipeline.llm.config import (
    PACKAGED_MODELS,
    ModelsConfig,
    ModelsError,
    load_models,
    models_path,
    own_models_path,
    parse_models,
)
from pipeline.prompting import PromptError, PromptRegistry

HEADER = (
    "# Written by the NOVACAST API (PUT /api/v1/routing or a prompt pin); validated before\n"
    "# writing. Read by the bot and the workers when they start.\n"
)


def current() -> tuple[ModelsConfig, Path | None]:
    """The table in force after the next start, and its file (None: the packaged one)."""
    path = models_path()
    return load_models(path), None if path == PACKAGED_MODELS else path


def validate(data: Any) -> ModelsConfig:
    """`data` as a routing table whose prompt pins all exist; `ModelsError` says what is wrong."""
    config = parse_models(data, source="the table")
    registry = PromptRegistry.load()
    for workspace, pins in config.prompt_pins.items():
        try:
            registry.pinned(pins)
        except PromptError as error:
            raise ModelsError(f"the table: field prompt_pins.{workspace}: {error}") from None
    return config


def replace(config: ModelsConfig) -> Path:
    """Write `config` (already validated) where the writer reads it; returns the path."""
    path = own_models_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = HEADER + yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    staged = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    staged.write_text(text, encoding="utf-8")
    os.replace(staged, path)
    return path
