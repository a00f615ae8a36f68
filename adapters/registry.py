"""The one list of chat platforms, and what a platform is.

A platform is a package under `adapters/` that exports one `PLATFORM` object, plus one line in
`PLATFORMS` below; nothing else lists platforms. The bot's server starts the live side of every
platform whose settings are complete, workers find the outbound side through `sender_for`, and
the channel publisher checks a chat target's platform against the same list. A package is
imported on first use, so a worker loads only the SDKs of the platforms it posts to.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, get_args

import redis
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.base import ChatAdapter, Dispatch, Sender, SenderFactory
from adapters.media_links import MediaLinks
from bot.actions import Action
from bot.events import ReplyTarget

PLATFORMS: dict[str, str] = {
    "console": "adapters.console",
    "telegram": "adapters.telegram",
    "slack": "adapters.slack",
    "discord": "adapters.discord",
    "web": "adapters.web",
}
"""Platform name -> the package whose `PLATFORM` describes it."""

ACTION_TYPES: frozenset[type[Any]] = frozenset(get_args(get_args(Action)[0]))
"""Every outbound action type the core can answer with."""

S = TypeVar("S", bound=BaseSettings)
LiveStart = Callable[[S, Dispatch, redis.Redis, MediaLinks], ChatAdapter | None]
"""(the platform's settings, the core, Redis, signed links) -> the live adapter, or None when
the settings leave the platform off."""


class NoSettings(BaseSettings):
    """For a platform that reads nothing from the environment."""

    model_config = SettingsConfigDict(extra="ignore")


@dataclass(frozen=True)
class Platform(Generic[S]):
    """Everything the entry point and the workers need to know about one chat platform."""

    name: str
    settings: Callable[[], S]
    """Reads the platform's settings from the environment (its pydantic-settings class)."""
    sender: SenderFactory
    """The outbound side for workers: `sync_sender(target, connection)`."""
    renders: frozenset[type[Any]]
    """The action types its sender delivers; anything else fails loudly."""
    start: LiveStart[S] | None = None
    """How `novacast bot` starts it live; None for a platform with its own process (console)."""

    def __post_init__(self) -> None:
        unknown = self.renders - ACTION_TYPES
        if unknown or not self.renders:
            names = sorted(t.__name__ for t in unknown) or ["nothing"]
            raise ValueError(f"platform {self.name!r} declares it renders {', '.join(names)}")

    def live(
        self, dispatch: Dispatch, connection: redis.Redis, links: MediaLinks
    ) -> ChatAdapter | None:
        """The live adapter from the environment's settings, or None when it stays off."""
        if self.start is None:
            return None
        return self.start(self.settings(), dispatch, connection, links)

    def sender_for(self, target: ReplyTarget, connection: redis.Redis) -> Sender:
        return DeclaredSender(self, self.sender(target, connection))


@dataclass(frozen=True)
class DeclaredSender:
    """A platform's sender that refuses, by name, an action type the platform does not render."""

    platform: Platform[Any]
    inner: Sender

    def send(self, action: Action) -> None:
        if type(action) not in self.platform.renders:
            raise TypeError(f"{self.platform.name} does not render {type(action).__name__}")
        self.inner.send(action)


def platform(name: str) -> Platform[Any]:
    """The registered platform `name` (its package imported now); unknown names fail loudly."""
    module_name = PLATFORMS.get(name)
    if module_name is None:
        raise ValueError(f"no chat platform named {name!r}")
    found = getattr(importlib.import_module(module_name), "PLATFORM", None)
    if not isinstance(found, Platform) or found.name != name:
        raise TypeError(f"{module_name}.PLATFORM is not the Platform named {name!r}")
    return found


def platforms() -> Iterator[Platform[Any]]:
    """Every registered platform, in registry order (each package imported as it comes)."""
    return (platform(name) for name in PLATFORMS)


def is_platform(name: str | None) -> bool:
    return name in PLATFORMS
