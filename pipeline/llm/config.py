"""`models.yaml` as validated data: per-agent routes, A/B experiments, the price table, and
the image model (`images`: model, size per frame shape, quality, prompt; defaults when absent).

The packaged file sits next to this module; NOVACAST_MODELS names a replacement. A broken file
fails at load with an error naming the file and the field.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.config_files import read_yaml, validated
from pipeline.settings import load_settings

MODELS_ENV = "NOVACAST_MODELS"
PACKAGED_MODELS = Path(__file__).with_name("models.yaml")
ProviderName = Literal["openai", "anthropic", "ollama"]


class ModelsError(ValueError):
    """models.yaml is missing, is not YAML, or has a wrong field."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Step(_Strict):
    """One link of a route: which model, and how to call it."""

    provider: ProviderName
    model: str = Field(min_length=1)
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int = Field(default=1024, ge=16, le=32000)
    timeout: float = Field(default=30.0, gt=0, le=600)


class Price(_Strict):
    """USD per one million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class Variant(_Strict):
    """One arm of an experiment: a prompt version and/or its own chain of models."""

    name: str = Field(min_length=1, max_length=60)
    weight: int = Field(default=1, ge=0)
    prompt_version: int | None = Field(default=None, ge=1)
    chain: list[Step] | None = Field(default=None, min_length=1)


class Experiment(_Strict):
    name: str = Field(min_length=1, max_length=60)
    variants: list[Variant] = Field(min_length=1)

    @model_validator(mode="after")
    def _weighted(self) -> Experiment:
        if sum(v.weight for v in self.variants) <= 0:
            raise ValueError("at least one variant needs a positive weight")
        if len({v.name for v in self.variants}) != len(self.variants):
            raise ValueError("variant names must be unique")
        return self


ImageShape = Literal["portrait", "landscape", "square"]
_DEFAULT_SIZES: dict[ImageShape, str] = {
    "portrait": "1024x1536", "landscape": "1536x1024", "square": "1024x1024"}
_IMAGE_SIZE = r"^[1-9][0-9]{2,3}x[1-9][0-9]{2,3}$"


class ImagesConfig(_Strict):
    """Generated pictures through the OpenAI Images API."""

    model: str = Field(default="gpt-image-1", min_length=1)
    sizes: dict[ImageShape, str] = Field(default_factory=lambda: dict(_DEFAULT_SIZES))
    """Frame shape -> the `size` asked for (WIDTHxHEIGHT)."""
    quality: Literal["low", "medium", "high", "auto", "standard", "hd"] = "medium"
    timeout: float = Field(default=120.0, gt=0, le=600)
    prompt: str = Field(
        default="An illustration for a short video, no text or lettering: {query}",
        min_length=1, max_length=1000)
    """`{query}` is replaced by what the shot is searched for."""

    @model_validator(mode="after")
    def _checked(self) -> ImagesConfig:
        for shape, size in self.sizes.items():
            if not re.match(_IMAGE_SIZE, size):
                raise ValueError(f"images.sizes.{shape} must look like 1024x1536")
        if "{query}" not in self.prompt:
            raise ValueError("images.prompt must contain {query}")
        return self


class ModelsConfig(_Strict):
    default: list[Step] = Field(min_length=1)
    """The chain for any agent without a route of its own."""
    agents: dict[str, list[Step]] = Field(default_factory=dict)
    experiments: dict[str, Experiment] = Field(default_factory=dict)
    """agent -> its running experiment."""
    prices: dict[str, Price] = Field(default_factory=dict)
    """model name -> price; models not listed cost nothing (local models)."""
    prompt_pins: dict[str, dict[str, int]] = Field(default_factory=dict)
    """Workspace (`<adapter>:<workspace id>`) -> agent -> the prompt version it keeps using."""
    images: ImagesConfig = Field(default_factory=ImagesConfig)
    """The image model for generated pictures."""

    def chain(self, agent: str) -> list[Step]:
        return self.agents.get(agent, self.default)


def load_models(path: Path | None = None) -> ModelsConfig:
    """Read `path`, else $NOVACAST_MODELS, else `<data dir>/models.yaml` when it exists (where
    the API saves a replaced routing table or a prompt pin without NOVACAST_MODELS), else the
    packaged models.yaml."""
    path = path or models_path()
    return parse_models(read_yaml(path, ModelsError), source=str(path))


def models_path() -> Path:
    """The models.yaml in force: $NOVACAST_MODELS, else the data dir's, else the packaged one."""
    own = own_models_path()
    return own if own.is_file() or os.environ.get(MODELS_ENV, "").strip() else PACKAGED_MODELS


def own_models_path() -> Path:
    """This installation's models.yaml, which may not exist yet (where the API writes a
    replaced table): $NOVACAST_MODELS, else `<data dir>/models.yaml`."""
    env = os.environ.get(MODELS_ENV, "").strip()
    return Path(env) if env else load_settings().data_dir / "models.yaml"


def parse_models(data: Any, *, source: str = "models.yaml") -> ModelsConfig:
    return validated(ModelsConfig, data, source, ModelsError)
