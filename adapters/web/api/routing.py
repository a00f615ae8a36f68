"""/api/v1/routing (model routing: which models each agent asks, A/B experiments, prices) and
/api/v1/prompts (prompt versions, this workspace's pins, the experiments running). Reading is
for every role; changing is for admins, validated before anything is written
(`adapters.web.api.models_file` says where it goes and when it takes effect)."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from adapters.web.access import ADAPTER
from adapters.web.api import models_file
from adapters.web.api.table import ApiError, Call, Table
from pipeline.llm.config import Experiment, ModelsConfig, ModelsError, parse_models
from pipeline.prompting import PromptRegistry

table = Table()
AGENT = r"[a-z][a-z0-9_]{0,39}"
TAKES_EFFECT = "when the bot and the workers start next"


class RoutingOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: str = Field(description="the file the table is read from ('packaged': the default)")
    table: ModelsConfig


class RoutingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    table: dict[str, Any] = Field(description="a whole models.yaml, as JSON")


class Validation(BaseModel):
    model_config = ConfigDict(frozen=True)

    valid: bool
    error: str | None = Field(default=None, description="the first problem, naming the field")


class Saved(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: str
    takes_effect: str


class AgentPrompts(BaseModel):
    model_config = ConfigDict(frozen=True)

    agent: str
    versions: list[int]
    latest: int
    pinned: int | None = Field(description="the version this workspace keeps using, if pinned")
    experiment: Experiment | None = Field(description="the A/B experiment running on this agent")


class PromptsOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    prompts: list[AgentPrompts]


class Pin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=10_000)


def _source(path: Any) -> str:
    return "packaged" if path is None else str(path)


def _pins_key(call: Call) -> str:
    """How models.yaml names a workspace for pins: `<adapter>:<workspace id>`."""
    return f"{ADAPTER}:{call.workspace}"


@table.route(
    "GET",
    "/routing",
    summary="The model routing table (routes, experiments, prices, pins)",
    right="view",
    response=RoutingOut,
    tag="routing",
)
async def get_routing(_call: Call) -> RoutingOut:
    config, path = await asyncio.to_thread(models_file.current)
    return RoutingOut(source=_source(path), table=config)


@table.route(
    "POST",
    "/routing/validate",
    summary="Check a routing table without saving it",
    right="admin",
    response=Validation,
    body=RoutingIn,
    tag="routing",
)
async def validate_routing(call: Call) -> Validation:
    try:
        await asyncio.to_thread(models_file.validate, call.body_as(RoutingIn).table)
    except ModelsError as error:
        return Validation(valid=False, error=str(error))
    return Validation(valid=True)


async def _save(config: ModelsConfig) -> Saved:
    path = await asyncio.to_thread(models_file.replace, config)
    return Saved(source=str(path), takes_effect=TAKES_EFFECT)


@table.route(
    "PUT",
    "/routing",
    summary="Replace the routing table (validated first; 422 if not valid)",
    right="admin",
    response=Saved,
    body=RoutingIn,
    tag="routing",
)
async def replace_routing(call: Call) -> Saved:
    try:
        config = await asyncio.to_thread(models_file.validate, call.body_as(RoutingIn).table)
    except ModelsError as error:
        raise ApiError(422, str(error)) from None
    return await _save(config)


def _prompts(config: ModelsConfig, registry: PromptRegistry, key: str) -> PromptsOut:
    pins = config.prompt_pins.get(key, {})
    return PromptsOut(
        prompts=[
            AgentPrompts(
                agent=agent,
                versions=registry.versions(agent),
                latest=max(registry.versions(agent)),
                pinned=pins.get(agent),
                experiment=config.experiments.get(agent),
            )
            for agent in registry.agents
        ]
    )


async def _state() -> tuple[ModelsConfig, PromptRegistry]:
    config, _ = await asyncio.to_thread(models_file.current)
    return config, await asyncio.to_thread(PromptRegistry.load)


@table.route(
    "GET",
    "/prompts",
    summary="Prompt versions per agent, this workspace's pins, experiments",
    right="view",
    response=PromptsOut,
    tag="prompts",
)
async def list_prompts(call: Call) -> PromptsOut:
    config, registry = await _state()
    return _prompts(config, registry, _pins_key(call))


async def _set_pin(call: Call, version: int | None) -> PromptsOut:
    agent = call.path["agent"]
    config, registry = await _state()
    if agent not in registry.agents:
        raise ApiError(404, f"There is no agent {agent!r}.")
    if version is not None and version not in registry.versions(agent):
        known = ", ".join(map(str, registry.versions(agent)))
        raise ApiError(422, f"body.version: {agent} has no version {version} (it has {known}).")
    pins = dict(config.prompt_pins)
    mine = {k: v for k, v in pins.get(_pins_key(call), {}).items() if k != agent}
    if version is not None:
        mine[agent] = version
    pins[_pins_key(call)] = mine
    if not mine:
        pins.pop(_pins_key(call))
    data = config.model_dump(mode="json") | {"prompt_pins": pins}
    await _save(await asyncio.to_thread(models_file.validate, data))
    return _prompts(parse_models(data), registry, _pins_key(call))


@table.route(
    "PUT",
    "/prompts/{agent}/pin",
    summary="Pin this workspace to one version of a prompt",
    right="admin",
    response=PromptsOut,
    body=Pin,
    errors=(404,),
    tag="prompts",
    path_patterns={"agent": AGENT},
)
async def pin_prompt(call: Call) -> PromptsOut:
    return await _set_pin(call, call.body_as(Pin).version)


@table.route(
    "DELETE",
    "/prompts/{agent}/pin",
    summary="Unpin: this workspace uses the latest version",
    right="admin",
    response=PromptsOut,
    errors=(404,),
    tag="prompts",
    path_patterns={"agent": AGENT},
)
async def unpin_prompt(call: Call) -> PromptsOut:
    return await _set_pin(call, None)
