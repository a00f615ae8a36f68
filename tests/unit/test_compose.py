"""compose.yaml is valid compose (schema-checked by compose-spec) and wired as DESIGN.md says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from compose_spec import PyCompose

ROOT = Path(__file__).resolve().parents[2]


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
        assert services[name]["environment"]["REDIS_URL"] == "redis://redis:6379/0"


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
    assert "--appendonly" in services["redis"]["command"]
    mounts = {name: service.get("volumes", []) for name, service in services.items()}
    assert all("novacast-data:/data" in mounts[n] for n in ("bot", "worker", "scheduler"))
    assert (ROOT / "Dockerfile").exists()
