"""compose.yaml is valid compose (schema-checked by compose-spec) and wired as DESIGN.md says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from compose_spec import PyCompose

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "${REDIS_PASSWORD:?set REDIS_PASSWORD (URL-safe) in .env}"
"""Compose refuses to start without REDIS_PASSWORD; Redis and every REDIS_URL use it."""


def _compose() -> dict[str, Any]:
    text = (ROOT / "compose.yaml").read_text()
    PyCompose.from_yaml(text)  # raises ValueError on anything the compose spec rejects
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def test_services_and_their_commands() -> None:
    services = _compose()["services"]
    assert set(services) == {"redis", "bot", "worker", "scheduler"}
    for name in ("bot", "worker", "scheduler"):
        assert services[name]["command"] == ["novacast", name]
        assert services[name]["environment"]["REDIS_URL"] == f"redis://:{PASSWORD}@redis:6379/0"


def test_references_resolve() -> None:
    compose = _compose()
    volumes = set(compose["volumes"])
    for name, service in compose["services"].items():
        for dependency in service.get("depends_on", {}):
            assert dependency in compose["services"], (name, dependency)
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            assert source in volumes or source.startswith((".", "/")), (name, source)


def test_redis_persists_and_data_is_shared() -> None:
    services = _compose()["services"]
    command = " ".join(services["redis"]["command"])
    assert "--appendonly yes --appendfsync everysec" in command
    mounts = {name: service.get("volumes", []) for name, service in services.items()}
    assert all("novacast-data:/data" in mounts[n] for n in ("bot", "worker", "scheduler"))
    assert (ROOT / "Dockerfile").exists()


def test_redis_requires_the_password_and_its_health_check_uses_it() -> None:
    redis = _compose()["services"]["redis"]
    command = " ".join(redis["command"])
    assert '--requirepass "$$REDIS_PASSWORD"' in command, "from the environment, not the file"
    assert command.startswith("sh -c exec docker-entrypoint.sh redis-server ")
    assert redis["environment"] == {"REDIS_PASSWORD": PASSWORD, "REDISCLI_AUTH": PASSWORD}
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
