"""The prompt registry: one YAML file per agent prompt version, validated at start.

Files live in `prompts/` at the repository root (or $NOVACAST_PROMPTS). That folder is also the
`prompts` data package, so a wheel installs the files beside `pipeline`; `default_folder`
finds them with importlib.resources, and falls back to the repository's folder when the
package is not importable (an editable install made before it existed). Each file holds ONE
version of one agent's prompt and is named `<agent>.yaml` or `<agent>@<version>.yaml`; several
versions of an agent coexist as several files, and the highest version is the default. Files
and folders starting with `_` (the `_templates/` skeleton) are not loaded. Fields:

- `version` (int ≥ 1; must match the `@<version>` in the file name, if any)
- `inputs` (names the template may use), `system`, `user_template` (str.format placeholders
  such as `{idea}`; literal braces are doubled), `output` (the pydantic output model's name)
- `description` (optional)

Values are inserted as DATA: `<` and `>` in them are escaped, so text a user typed cannot
close the `<user_idea>`-style tags the templates wrap it in.
"""

from __future__ import annotations

import importlib.resources
import os
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from pipeline.agent_outputs import OUTPUT_MODELS
from pipeline.config_files import read_yaml, validated
from pipeline.llm.base import Message

PROMPTS_ENV = "NOVACAST_PROMPTS"
PROMPTS_PACKAGE = "prompts"
"""The data package the prompt files ship in: the top-level prompts/ folder, installed."""
REPO_PROMPTS = Path(__file__).resolve().parents[1] / "prompts"


class PromptError(ValueError):
    """A prompt file is missing, broken, or asked for a version that does not exist."""


class PromptSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1)
    description: str = ""
    inputs: list[str] = Field(default_factory=list)
    system: str = Field(min_length=1)
    user_template: str = Field(min_length=1)
    output: str = Field(min_length=1)

    @field_validator("user_template")
    @classmethod
    def _placeholders_declared(cls, template: str, info: ValidationInfo) -> str:
        unknown = placeholders(template) - set(info.data.get("inputs", []))
        if unknown:
            raise ValueError(f"uses undeclared inputs: {', '.join(sorted(unknown))}")
        return template


def placeholders(template: str) -> set[str]:
    """The `{name}` fields of a str.format template (raises ValueError if it is malformed)."""
    names = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    if any(not name.isidentifier() for name in names):
        raise ValueError("placeholders must be plain names like {idea}")
    return names


def as_data(value: object) -> str:
    """A value ready to sit inside a delimited DATA block: tags in it cannot close the block."""
    return str(value).replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class Prompt:
    agent: str
    spec: PromptSpec
    output_model: type[BaseModel]
    source: Path

    @property
    def version(self) -> int:
        return self.spec.version

    def render(self, **values: object) -> list[Message]:
        missing = set(self.spec.inputs) - values.keys()
        if missing:
            raise PromptError(f"{self.source}: missing inputs {', '.join(sorted(missing))}")
        user = self.spec.user_template.format_map({k: as_data(v) for k, v in values.items()})
        return [
            Message(role="system", content=self.spec.system),
            Message(role="user", content=user),
        ]


class PromptRegistry:
    def __init__(self, prompts: list[Prompt]) -> None:
        self._prompts: dict[str, dict[int, Prompt]] = {}
        self._pins: dict[str, int] = {}
        for prompt in prompts:
            versions = self._prompts.setdefault(prompt.agent, {})
            if prompt.version in versions:
                raise PromptError(
                    f"{prompt.source}: field version: {prompt.agent} version {prompt.version} "
                    f"is also defined in {versions[prompt.version].source.name}"
                )
            versions[prompt.version] = prompt

    @classmethod
    def load(
        cls, folder: Path | None = None, *, outputs: Mapping[str, type[BaseModel]] | None = None
    ) -> PromptRegistry:
        """Every prompt file in `folder` (default: `default_folder()`)."""
        folder = default_folder() if folder is None else folder
        if not folder.is_dir():
            raise PromptError(f"{folder}: no such prompts folder")
        outputs = OUTPUT_MODELS if outputs is None else outputs
        files = sorted(p for p in folder.glob("*.yaml") if not p.name.startswith("_"))
        return cls([load_prompt(path, outputs) for path in files])

    @property
    def agents(self) -> list[str]:
        return sorted(self._prompts)

    def versions(self, agent: str) -> list[int]:
        return sorted(self._prompts.get(agent, {}))

    def pinned(self, pins: Mapping[str, int]) -> PromptRegistry:
        """This registry with `pins` (agent -> version) as the default versions; an experiment's
        own version still wins. Unknown agents or versions fail here, naming them."""
        for agent, version in pins.items():
            self.get(agent, version)
        copy = PromptRegistry([])
        copy._prompts, copy._pins = self._prompts, dict(pins)
        return copy

    def get(self, agent: str, version: int | None = None) -> Prompt:
        """The prompt for `agent`: `version` when given, else the pinned one, else the latest."""
        versions = self._prompts.get(agent)
        if not versions:
            raise PromptError(f"no prompt for agent {agent!r}")
        version = self._pins.get(agent) if version is None else version
        chosen = max(versions) if version is None else version
        if chosen not in versions:
            raise PromptError(f"agent {agent!r} has no prompt version {chosen}")
        return versions[chosen]


def default_folder() -> Path:
    """$NOVACAST_PROMPTS when set, else the prompts that ship with NOVACAST."""
    env = os.environ.get(PROMPTS_ENV, "").strip()
    return Path(env) if env else packaged_folder()


def packaged_folder() -> Path:
    """The installed `prompts` data package's folder, else the repository's prompts/."""
    try:
        files = importlib.resources.files(PROMPTS_PACKAGE)
    except ModuleNotFoundError:
        return REPO_PROMPTS
    return files if isinstance(files, Path) and files.is_dir() else REPO_PROMPTS


def load_prompt(path: Path, outputs: Mapping[str, type[BaseModel]]) -> Prompt:
    """One prompt file, validated; errors name the file and the field."""
    agent, _, pinned = path.stem.partition("@")
    spec = _spec(path, read_yaml(path, PromptError))
    if pinned and pinned != str(spec.version):
        raise PromptError(f"{path}: field version: {spec.version} does not match the file name")
    if spec.output not in outputs:
        known = ", ".join(sorted(outputs))
        raise PromptError(f"{path}: field output: unknown model {spec.output!r} (known: {known})")
    return Prompt(agent, spec, outputs[spec.output], path)


def _spec(path: Path, data: Any) -> PromptSpec:
    return validated(PromptSpec, data, path, PromptError)
