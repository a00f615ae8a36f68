"""Reading the project's YAML configuration files (models.yaml, prompts): one way to read and
validate them, so every broken file fails at start with the file and the field named."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path, error: type[Exception]) -> Any:
    """The parsed file; an unreadable or malformed file raises `error` naming it."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as failure:
        raise error(f"{path}: cannot read it ({failure.strerror})") from None
    except yaml.YAMLError as failure:
        raise error(f"{path}: not valid YAML ({failure})") from None


def validated(model: type[M], data: Any, source: object, error: type[Exception]) -> M:
    """`data` as `model`; the first problem raises `error` naming `source` and the field."""
    try:
        return model.model_validate(data)
    except ValidationError as failure:
        first = failure.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise error(f"{source}: field {field}: {first['msg']}") from None
