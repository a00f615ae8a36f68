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
    operation: Any, mode: schemathesis.GenerationMode, base_url: str, headers: dict[str, str]
) -> set[int]:
    """Run one operation's examples; the statuses it answered."""
    statuses: set[int] = set()

    @given(case=operation.as_strategy(generation_mode=mode))
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


def test_the_document_itself_needs_a_key(fuzzed: tuple[Workspace, Any]) -> None:
    ws, _ = fuzzed
    assert ws.anonymous.get("/api/v1/openapi.json").status_code == 401
