"""/api/v1/projects with each role, through the real core: create from an idea, list by cursor,
get, versions, revise; the refusals (no key, forged and revoked keys, a right the role lacks,
a state the core refuses) are 4xx JSON with a sentence. Render/approve/reject with a real
worker are in test_api_render.py."""

from __future__ import annotations

import time

import pytest

from adapters.web.access import Role
from policy import load_policy
from tests.integration.test_api_support import ApiServer, Workspace, api  # noqa: F401

IDEA = "30s on why octopuses have three hearts, playful"


@pytest.fixture
def ws(api: ApiServer) -> Workspace:  # noqa: F811
    return api.workspace()


def _create(ws: Workspace, role: Role = Role.EDITOR, idea: str = IDEA) -> dict:
    answer = ws.client(role).post("/api/v1/projects", json={"idea": idea})
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.mark.parametrize("role", [Role.EDITOR, Role.APPROVER, Role.ADMIN])
def test_each_role_creates_a_draft_and_reads_it_back(ws: Workspace, role: Role) -> None:
    made = _create(ws, role)
    assert made["state"] == "draft"
    assert made["current_version"] == 1
    assert made["requester"].startswith("key:")
    got = ws.client(role).get(f"/api/v1/projects/{made['id']}")
    assert got.status_code == 200
    assert got.headers["Cache-Control"] == "no-store"
    assert got.json()["title"] == made["title"]
    versions = ws.client(role).get(f"/api/v1/projects/{made['id']}/versions").json()
    assert [v["number"] for v in versions["versions"]] == [1]


def test_a_list_pages_newest_first_by_cursor(ws: Workspace) -> None:
    ids = [_create(ws, idea=f"20s on topic number {n}")["id"] for n in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ws.editor.get("/api/v1/projects", params=params).json()
        seen += [p["id"] for p in page["projects"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))


def test_a_revise_makes_a_new_version(ws: Workspace) -> None:
    made = _create(ws)
    answer = ws.editor.post(
        f"/api/v1/projects/{made['id']}/revise", json={"instruction": "make it shorter"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["current_version"] == 2
    versions = ws.editor.get(f"/api/v1/projects/{made['id']}/versions").json()["versions"]
    assert [v["current"] for v in versions] == [False, True]


def test_another_workspace_sees_nothing(api: ApiServer, ws: Workspace) -> None:  # noqa: F811
    made = _create(ws)
    other = api.workspace()
    assert other.admin.get(f"/api/v1/projects/{made['id']}").status_code == 404
    assert other.admin.get("/api/v1/projects").json()["projects"] == []


def test_without_a_key_or_with_a_forged_or_revoked_one_everything_is_401(ws: Workspace) -> None:
    made = _create(ws)
    key_id = ws.tokens[Role.ADMIN].split("_")[1]
    forged = ws.tokens[Role.ADMIN][:-4] + "AAAA"
    for client in (ws.anonymous, ws.client(token=forged), ws.client(token="nck_nonsense")):
        for path in ("/api/v1/projects", f"/api/v1/projects/{made['id']}", "/api/v1/openapi.json"):
            answer = client.get(path)
            assert answer.status_code == 401
            assert "API key" in answer.json()["error"]
        assert client.post("/api/v1/projects", json={"idea": IDEA}).status_code == 401
    assert ws.admin.get("/api/v1/projects").status_code == 200
    ws.keys.revoke(key_id)
    assert ws.admin.get("/api/v1/projects").status_code == 401


def test_bad_input_is_a_4xx_with_a_sentence(ws: Workspace) -> None:
    editor = ws.editor
    cases = [
        editor.post("/api/v1/projects", json={}),
        editor.post("/api/v1/projects", json={"idea": ""}),
        editor.post(
            "/api/v1/projects", content=b"{not json", headers={"Content-Type": "application/json"}
        ),
        editor.get("/api/v1/projects", params={"limit": "many"}),
        editor.get("/api/v1/projects", params={"cursor": "forged"}),
        editor.get("/api/v1/projects/zz"),
        editor.get("/api/v1/projects/abcdef12"),
    ]
    assert [c.status_code for c in cases] == [422, 422, 400, 422, 422, 404, 404]
    assert all(c.json()["error"] for c in cases)
    assert "body.idea" in cases[0].json()["error"]


def test_an_editor_may_not_approve_and_the_core_refuses_a_draft_approval(ws: Workspace) -> None:
    made = _create(ws)
    refused = ws.editor.post(f"/api/v1/projects/{made['id']}/approve")
    assert refused.status_code == 403
    assert "editor" in refused.json()["error"]
    too_early = ws.approver.post(f"/api/v1/projects/{made['id']}/approve")
    assert too_early.status_code == 409
    assert "Render" in too_early.json()["error"]
    assert ws.approver.post(f"/api/v1/projects/{made['id']}/reject").status_code == 409


def test_past_the_policy_s_rate_limit_a_change_is_429_with_retry_after(
    api: ApiServer,  # noqa: F811
    ws: Workspace,
) -> None:
    key_id = ws.tokens[Role.EDITOR].split("_")[1]
    limit = load_policy().rate_limit
    slot = int(time.time() // limit.window_seconds)
    for at in (slot, slot + 1):  # this window and the next: no boundary can reset it mid-test
        counter = f"novacast:rate:events:web:{ws.name}:key:{key_id}:{at}"
        api.connection.set(counter, limit.events + 1, ex=2 * limit.window_seconds)
    refused = ws.editor.post("/api/v1/projects", json={"idea": IDEA})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 2 * limit.window_seconds
    assert "rate_limit" in refused.json()["error"]
    assert ws.approver.post("/api/v1/projects", json={"idea": IDEA}).status_code == 201
