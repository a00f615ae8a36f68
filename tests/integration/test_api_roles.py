"""Every endpoint of the route table against every kind of caller: no key, a forged key, a revoked
key (401 each), and each role (403 exactly where policy.yaml's `roles:` lacks the endpoint's
right; otherwise the call gets past the door: some other answer, here a 404 or a 422 because the
ids are made up and the bodies empty, so nothing changes)."""

from __future__ import annotations

import re

import httpx
import pytest

from adapters.web.access import Role
from adapters.web.api import endpoints
from adapters.web.api.table import PREFIX, Endpoint
from policy import load_policy
from tests.integration.test_api_support import ApiServer, Workspace, api  # noqa: F401

MADE_UP = {
    "project_id": "abcdef12",
    "schedule_id": "nOsUch01",
    "asset_id": "0123456789ab",
    "key_id": "0123456789ab",
    "agent": "nobody",
}
ENDPOINTS = endpoints()


def _call(client: httpx.Client, endpoint: Endpoint) -> httpx.Response:
    path = re.sub(r"\{(\w+)\}", lambda m: MADE_UP[m[1]], PREFIX + endpoint.path)
    if endpoint.method in {"GET", "DELETE"}:
        return client.request(endpoint.method, path)
    if endpoint.multipart:
        return client.request(endpoint.method, path, files={"nothing": ("x", b"")})
    return client.request(endpoint.method, path, json={})


@pytest.fixture(scope="module")
def ws(api: ApiServer) -> Workspace:  # noqa: F811
    return api.workspace()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_without_a_valid_key_every_endpoint_is_401(ws: Workspace, endpoint: Endpoint) -> None:
    forged = ws.tokens[Role.ADMIN][:-6] + "XXXXXX"
    revoked = ws.keys.create(ws.name, Role.ADMIN).token
    ws.keys.revoke(revoked.split("_")[1])
    for client in (ws.anonymous, ws.client(token=forged), ws.client(token=revoked)):
        answer = _call(client, endpoint)
        assert answer.status_code == 401, answer.text
        assert answer.json()["status"] == 401


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_each_role_gets_exactly_its_rights(ws: Workspace, endpoint: Endpoint, role: Role) -> None:
    answer = _call(ws.client(role), endpoint)
    if load_policy().role_may(role.value, endpoint.right):
        assert answer.status_code not in {401, 403, 500}, answer.text
    else:
        assert answer.status_code == 403, answer.text
        assert endpoint.right in answer.json()["error"]
