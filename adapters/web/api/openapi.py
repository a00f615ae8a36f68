"""The OpenAPI 3.1 document of /api/v1, built from the route table and the endpoints' own pydantic
models (`models_json_schema`), so what is documented is what is validated and answered.

Every endpoint declares bearer security (an API key `nck_...`, or the studio's session cookie
with X-CSRF-Token on state-changing methods), its 2xx model and the errors it may answer, all
with one `ErrorBody` schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from adapters.web.api.table import PREFIX, Endpoint, ErrorBody

REF = "#/components/schemas/{model}"
COMMON_ERRORS = {
    400: "The body is not JSON",
    401: "No valid API key or session",
    403: "The role may not do this, or the core refused the actor",
    404: "No such thing in this workspace",
    409: "The core refused: the state does not allow it (its words in `error`)",
    413: "The body is too large",
    422: "A field is missing or invalid (named in `error`)",
    429: "Past the policy's rate limit (the chat's): see Retry-After",
    503: "The store (Redis) is unavailable: see Retry-After",
}
_PATH_PARAM = re.compile(r"\{(\w+)\}")


def _schemas(endpoints: Iterable[Endpoint]) -> tuple[dict[Any, Any], dict[str, Any]]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for e in endpoints:
        models.append((e.response, "serialization"))
        if e.body is not None:
            models.append((e.body, "validation"))
    refs, top = models_json_schema(models, ref_template=REF)
    return refs, top.get("$defs", {})


def _ref(refs: dict[Any, Any], model: type[BaseModel], mode: JsonSchemaMode) -> Any:
    return refs[(model, mode)]


def _parameters(endpoint: Endpoint) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for name in _PATH_PARAM.findall(endpoint.path):
        schema: dict[str, Any] = {"type": "string"}
        if name in endpoint.path_patterns:
            schema["pattern"] = f"^{endpoint.path_patterns[name]}$"
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    if endpoint.query is not None:
        schema = endpoint.query.model_json_schema(ref_template=REF)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            shown = _query_schema(prop)
            params.append(
                {"name": name, "in": "query", "required": name in required, "schema": shown}
            )
    return params


def _query_schema(prop: dict[str, Any]) -> dict[str, Any]:
    """A query field's schema as a query can carry it: an optional field's `null` branch (a
    query has no null: the parameter is just left out) and the title dropped."""
    shown = {k: v for k, v in prop.items() if k != "title"}
    branches = shown.get("anyOf", [])
    real = [b for b in branches if b != {"type": "null"}]
    if branches and len(real) == 1:
        del shown["anyOf"]
        shown = {**real[0], **shown}
        if shown.get("default", 0) is None:
            del shown["default"]
    return shown


def _request_body(endpoint: Endpoint, refs: dict[Any, Any]) -> dict[str, Any] | None:
    if endpoint.multipart:
        schema = {
            "type": "object",
            "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"}},
        }
        return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    if endpoint.body is None:
        return None
    schema = _ref(refs, endpoint.body, "validation")
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _responses(endpoint: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    ok = _ref(refs, endpoint.response, "serialization")
    error = {"content": {"application/json": {"schema": _ref(refs, ErrorBody, "serialization")}}}
    statuses = {401, 403, 503, *endpoint.errors}
    if endpoint.query is not None or endpoint.body is not None or endpoint.multipart:
        statuses |= {422}
    if endpoint.body is not None:
        statuses |= {400, 413}
    if endpoint.path_patterns:
        statuses |= {404}
    responses: dict[str, Any] = {
        str(endpoint.status): {"description": "OK", "content": {"application/json": {"schema": ok}}}
    }
    for status in sorted(statuses):
        responses[str(status)] = {"description": COMMON_ERRORS.get(status, "Refused"), **error}
    return responses


def _operation(endpoint: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "tags": [endpoint.tag] if endpoint.tag else [],
        "description": f"Needs the `{endpoint.right}` right."
        + (" Audited." if endpoint.changes else ""),
        "parameters": _parameters(endpoint),
        "responses": _responses(endpoint, refs),
        "security": [{"bearer": []}],
    }
    body = _request_body(endpoint, refs)
    if body is not None:
        operation["requestBody"] = body
    return operation


def document(endpoints: list[Endpoint]) -> dict[str, Any]:
    """The whole document for `endpoints`."""
    refs, schemas = _schemas(endpoints)
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        paths.setdefault(PREFIX + e.path, {})[e.method.lower()] = _operation(e, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "NOVACAST API",
            "version": "1",
            "description": "Projects, schedules, assets, prompts, model routing, usage, keys "
            "and audit of one workspace: the workspace of the key (or session) used.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from `novacast keys create`: nck_<id>_<secret>",
                }
            },
        },
    }
