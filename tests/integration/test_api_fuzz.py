"""The OpenAPI document, fuzzed with schemathesis against the real server: every operation, with
each role's key, with valid (positive) and invalid (negative) requests drawn from the document
itself. No answer may be a 5xx, and every answer must be documented (status, content type,
body schema). Bounded: a few examples per operation, role and mode (`EXAMPLES`)."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from adapters.web.access import Role
from tests.integration.test_api_support import ApiServer, Workspace, api  # noqa: F401

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "8"))
"""Per operation, role and mode; API_FUZZ_EXAMPLES=200 for a longer hunt."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzzed(api: ApiServer) -> tuple[Workspace, Any]:  # noqa: F811
    """A workspace with a project in it (so ids can hit something) and the loaded document."""
    ws = api.workspace()
    ws.editor.post("/api/v1/projects", json={"idea": "20s on tea"})
    document = ws.admin.get("/api/v1/openapi.json")
    assert document.status_code == 200
    return ws, schemathesis.openapi.from_dict(document.json())


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


def test_the_document_is_openapi_3_1_with_bearer_security(
    fuzzed: tuple[Workspace, Any],
) -> None:
    ws, schema = fuzzed
    raw = ws.editor.get("/api/v1/openapi.json").json()
    assert raw["openapi"] == "3.1.0"
    assert raw["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    operations = _operations(schema)
    assert len(operations) >= 25
    for operation in operations:
        responses = operation.definition.raw["responses"]
        assert {"401", "403"} <= set(responses), operation.label


def _fuzz(
    operation: Any,
    mode: schemathesis.GenerationMode,
    base_url: str,
    headers: dict[str, str],
    ids: dict[str, str] | None = None,
) -> set[int]:
    """Run one operation's examples (with `ids` as its path parameters, when it has them); the
    statuses it answered."""
    statuses: set[int] = set()
    names = {p.name for p in operation.path_parameters} if ids else set()
    fixed = {name: ids[name] for name in names if ids and name in ids} or None

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call_and_validate(
            base_url=base_url, headers=headers, checks=CHECKS, timeout=60
        )
        statuses.add(response.status_code)

    run()
    return statuses


@pytest.mark.parametrize("role", [Role.EDITOR, Role.APPROVER, Role.ADMIN])
@pytest.mark.parametrize(
    "mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
)
def test_no_5xx_and_every_answer_matches_the_document(
    fuzzed: tuple[Workspace, Any], role: Role, mode: schemathesis.GenerationMode
) -> None:
    ws, schema = fuzzed
    headers = {"Authorization": f"Bearer {ws.tokens[role]}"}
    seen = {op.label: _fuzz(op, mode, ws.base_url, headers) for op in _operations(schema)}
    print({label: sorted(statuses) for label, statuses in sorted(seen.items())})
    assert all(statuses for statuses in seen.values())
    assert all(status < 500 for statuses in seen.values() for status in statuses)


@pytest.mark.parametrize(
    "mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
)
def test_with_real_ids_the_handlers_answer_as_documented(
    api: ApiServer,  # noqa: F811
    fuzzed: tuple[Workspace, Any],
    mode: schemathesis.GenerationMode,
) -> None:
    """Past the 404s: a workspace's own project and schedule ids, each operation with a fresh
    approver key (the policy's rate limit is per key), so revise, render, approve, reject,
    schedule and cancel reach the core with drawn bodies."""
    _, schema = fuzzed
    ws = api.workspace()
    project = ws.editor.post("/api/v1/projects", json={"idea": "20s on tea"}).json()
    show = ws.approver.post(
        "/api/v1/schedules", json={"when": "every monday 9:00", "idea": "cats"}
    ).json()
    ids = {"project_id": project["id"], "schedule_id": show["id"], "agent": "script"}
    seen = {}
    for operation in _operations(schema):
        token = api.keys.create(ws.name, Role.APPROVER).token
        headers = {"Authorization": f"Bearer {token}"}
        seen[operation.label] = _fuzz(operation, mode, ws.base_url, headers, ids)
    print({label: sorted(statuses) for label, statuses in sorted(seen.items())})
    assert all(status < 500 for statuses in seen.values() for status in statuses)


def test_the_document_itself_needs_a_key(fuzzed: tuple[Workspace, Any]) -> None:
    ws, _ = fuzzed
    assert ws.anonymous.get("/api/v1/openapi.json").status_code == 401
