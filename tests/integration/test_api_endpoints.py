"""/api/v1 beyond projects, each with the roles that may and may not: schedules (shows, through
the core, with the chat's time words), assets (real media made by ffmpeg, signed links),
prompts and their pins, model routing (validated, then written where the writer reads it),
usage, keys and the audit trail (no secret in it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from adapters.web.access import Role
from adapters.web.api.core import reads_as_show
from bot.schedule_chat import split_show
from bot.when import WhenError, parse_when
from pipeline.llm.config import load_models
from tests.integration.test_api_support import ApiServer, Workspace, api  # noqa: F401
from tests.integration.test_media_vetting import make_still

SHOW = {"when": "every monday 9:00", "idea": "a 30s space-news recap"}


@pytest.fixture
def ws(api: ApiServer) -> Workspace:  # noqa: F811
    return api.workspace()


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_still(tmp_path_factory.mktemp("api-media") / "photo.jpg", "blue")


# --- schedules ---------------------------------------------------------------------------------


def test_an_approver_schedules_a_show_lists_it_and_cancels_it(ws: Workspace) -> None:
    made = ws.approver.post("/api/v1/schedules", json={**SHOW, "timezone": "Europe/Berlin"})
    assert made.status_code == 201, made.text
    schedule = made.json()
    assert (schedule["kind"], schedule["recurring"], schedule["timezone"]) == (
        "make",
        True,
        "Europe/Berlin",
    )
    assert "Monday" in schedule["description"]
    # the week view places every firing: each Monday 09:00 in Berlin of the next eight weeks
    firings = [datetime.fromisoformat(t).astimezone(ZoneInfo("Europe/Berlin"))
               for t in schedule["upcoming"]]
    assert len(firings) == 8
    assert firings[0] == datetime.fromisoformat(schedule["next_at"])
    assert {(f.weekday(), f.hour, f.minute) for f in firings} == {(0, 9, 0)}
    assert [(b - a).days for a, b in pairwise(firings)] == [7] * 7
    listed = ws.editor.get("/api/v1/schedules").json()["schedules"]
    assert [s["id"] for s in listed] == [schedule["id"]]
    assert ws.editor.delete(f"/api/v1/schedules/{schedule['id']}").status_code == 403
    cancelled = ws.approver.delete(f"/api/v1/schedules/{schedule['id']}")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["schedule"]["state"] == "cancelled"
    assert ws.editor.get("/api/v1/schedules").json()["schedules"] == []
    done = ws.editor.get("/api/v1/schedules", params={"include_done": "true"}).json()
    assert [s["state"] for s in done["schedules"]] == ["cancelled"]
    assert done["schedules"][0]["upcoming"] == []  # a cancelled show fires no more
    again = ws.approver.delete(f"/api/v1/schedules/{schedule['id']}")
    assert again.status_code == 409


def test_schedule_refusals_are_4xx_in_the_core_s_words(api: ApiServer, ws: Workspace) -> None:  # noqa: F811
    assert ws.editor.post("/api/v1/schedules", json=SHOW).status_code == 403
    for when in ("every blue moon", "tomorrow 9am"):
        unreadable = ws.approver.post("/api/v1/schedules", json={"when": when, "idea": "cats"})
        assert unreadable.status_code == 422
        assert "recurring" in unreadable.json()["error"]
    too_often = ws.approver.post("/api/v1/schedules", json={"when": "every minute", "idea": "cats"})
    assert too_often.status_code == 409  # the core's own refusal, in its words
    assert too_often.json()["error"]
    both = ws.approver.post("/api/v1/schedules", json={**SHOW, "project_id": "abcdef12"})
    assert both.status_code == 422
    zone = ws.approver.post("/api/v1/schedules", json={**SHOW, "timezone": "Mars/Olympus"})
    assert zone.status_code == 422
    assert "time zone" in zone.json()["error"]
    missing = ws.approver.post(
        "/api/v1/schedules", json={"when": "tomorrow 9am", "project_id": "abcdef12"}
    )
    assert missing.status_code == 404
    draft = ws.editor.post("/api/v1/projects", json={"idea": "20s on tea"}).json()
    early = ws.approver.post(
        "/api/v1/schedules", json={"when": "tomorrow 9am", "project_id": draft["id"]}
    )
    assert early.status_code == 409
    other = api.workspace().approver.post("/api/v1/schedules", json=SHOW).json()
    assert ws.admin.delete(f"/api/v1/schedules/{other['id']}").status_code == 404


def test_a_show_is_made_at_schedules_only(ws: Workspace) -> None:
    as_idea = ws.approver.post("/api/v1/projects", json={"idea": "every monday 9:00, a recap"})
    assert as_idea.status_code == 422
    assert "/api/v1/schedules" in as_idea.json()["error"]
    plain = ws.editor.post("/api/v1/projects", json={"idea": "every octopus has three hearts"})
    assert plain.status_code == 201
    assert ws.approver.get("/api/v1/schedules").json()["schedules"] == []


@pytest.mark.parametrize(
    "text",
    [
        "every monday 9:00, a space-news recap",
        "daily at 8am: cat facts",
        "every blue moon, cats",
        "every octopus has three hearts",
        "weekdays 18:00 - market wrap",
        "tomorrow 9am, tea",
    ],
)
def test_the_api_reads_shows_as_the_chat_does(text: str) -> None:
    show = split_show(text)
    chat = show is not None and _reads(show[0])
    assert reads_as_show(text) == chat


def _reads(when: str) -> bool:
    try:
        parse_when(when, "UTC", datetime.now(UTC))
    except WhenError:
        return False
    return True


# --- assets ------------------------------------------------------------------------------------


def _upload(client: httpx.Client, path: Path, name: str = "photo.jpg") -> httpx.Response:
    return client.post("/api/v1/assets", files={"file": (name, path.read_bytes(), "image/jpeg")})


def test_assets_upload_list_link_and_delete(ws: Workspace, photo: Path) -> None:
    uploaded = _upload(ws.editor, photo, "Blue sky.jpg")
    assert uploaded.status_code == 201, uploaded.text
    asset = uploaded.json()
    assert (asset["kind"], asset["name"]) == ("photo", "Blue sky.jpg")
    listed = ws.editor.get("/api/v1/assets").json()
    assert [a["id"] for a in listed["assets"]] == [asset["id"]]
    assert listed["total_bytes"] == photo.stat().st_size
    link = ws.editor.get(f"/api/v1/assets/{asset['id']}/link").json()
    path = httpx.URL(link["url"]).path
    fetched = ws.anonymous.get(path)
    assert fetched.status_code == 200
    assert fetched.content == photo.read_bytes()
    assert ws.anonymous.get(path[:-3] + "AAA").status_code == 404
    deleted = ws.editor.delete(f"/api/v1/assets/{asset['id']}")
    assert deleted.json() == {"id": asset["id"], "deleted": True}
    assert ws.anonymous.get(path).status_code == 404
    assert ws.editor.get("/api/v1/assets").json()["assets"] == []


def test_a_file_that_is_not_media_or_no_file_is_422(ws: Workspace, tmp_path: Path) -> None:
    fake = tmp_path / "notes.jpg"
    fake.write_text("not a picture at all " * 50)
    refused = _upload(ws.editor, fake)
    assert refused.status_code == 422
    assert refused.json()["error"]
    wrong_part = ws.editor.post("/api/v1/assets", files={"other": ("a", b"x")})
    assert wrong_part.status_code == 422
    as_json = ws.editor.post("/api/v1/assets", json={"file": "x"})
    assert as_json.status_code == 422
    assert ws.anonymous.get("/api/v1/assets").status_code == 401
    assert ws.editor.delete("/api/v1/assets/0123456789ab").status_code == 404


# --- prompts and routing -----------------------------------------------------------------------


def test_prompt_pins_per_workspace(api: ApiServer, ws: Workspace) -> None:  # noqa: F811
    prompts = ws.editor.get("/api/v1/prompts").json()["prompts"]
    script = next(p for p in prompts if p["agent"] == "script")
    assert script["pinned"] is None
    assert ws.approver.put("/api/v1/prompts/script/pin", json={"version": 1}).status_code == 403
    pinned = ws.admin.put("/api/v1/prompts/script/pin", json={"version": script["versions"][0]})
    assert pinned.status_code == 200, pinned.text
    shown = {p["agent"]: p["pinned"] for p in ws.editor.get("/api/v1/prompts").json()["prompts"]}
    assert shown["script"] == script["versions"][0]
    written = yaml.safe_load((api.data_dir / "models.yaml").read_text())
    assert written["prompt_pins"][f"web:{ws.name}"] == {"script": script["versions"][0]}
    other = api.workspace().editor.get("/api/v1/prompts").json()["prompts"]
    assert all(p["pinned"] is None for p in other)
    bad = ws.admin.put("/api/v1/prompts/script/pin", json={"version": 999})
    assert bad.status_code == 422
    assert ws.admin.put("/api/v1/prompts/nobody/pin", json={"version": 1}).status_code == 404
    unpinned = ws.admin.delete("/api/v1/prompts/script/pin").json()["prompts"]
    assert next(p for p in unpinned if p["agent"] == "script")["pinned"] is None


def test_routing_is_validated_before_it_is_written(api: ApiServer, ws: Workspace) -> None:  # noqa: F811
    shown = ws.editor.get("/api/v1/routing").json()
    table = shown["table"]
    assert table["default"][0]["provider"] in {"openai", "anthropic", "ollama"}
    broken = {**table, "default": [{"provider": "skynet", "model": "t-800"}]}
    checked = ws.admin.post("/api/v1/routing/validate", json={"table": broken}).json()
    assert checked["valid"] is False
    assert "default" in checked["error"]
    assert ws.admin.post("/api/v1/routing/validate", json={"table": table}).json() == {
        "valid": True,
        "error": None,
    }
    refused = ws.admin.put("/api/v1/routing", json={"table": broken})
    assert refused.status_code == 422
    unknown_pin = {**table, "prompt_pins": {"web:x": {"script": 999}}}
    assert ws.admin.put("/api/v1/routing", json={"table": unknown_pin}).status_code == 422
    assert ws.approver.put("/api/v1/routing", json={"table": table}).status_code == 403
    cheaper = {**table, "prices": {**table["prices"], "gpt-4o-mini": {"input": 0.1, "output": 0.2}}}
    saved = ws.admin.put("/api/v1/routing", json={"table": cheaper})
    assert saved.status_code == 200, saved.text
    assert saved.json()["source"] == str(api.data_dir / "models.yaml")
    again = ws.editor.get("/api/v1/routing").json()
    assert again["table"]["prices"]["gpt-4o-mini"] == {"input": 0.1, "output": 0.2}
    written = load_models(api.data_dir / "models.yaml")  # what the writer reads at its next start
    assert written.model_dump(mode="json") == again["table"]


# --- usage -------------------------------------------------------------------------------------


def test_usage_per_project_and_workspace(api: ApiServer, ws: Workspace) -> None:  # noqa: F811
    made = ws.editor.post("/api/v1/projects", json={"idea": "20s on tea"}).json()
    ledger = f"novacast:llm-usage:{made['id']}"
    api.connection.hset(
        ledger,
        mapping={"input_tokens": 120, "output_tokens": 80, "cost_micro_usd": 1500, "calls": 2},
    )
    project = ws.editor.get(f"/api/v1/projects/{made['id']}/usage").json()
    assert (project["input_tokens"], project["calls"], project["cost_usd"]) == (120, 2, 0.0015)
    ws.editor.post("/api/v1/projects", json={"idea": "20s on coffee"})
    total = ws.editor.get("/api/v1/usage").json()
    assert (total["projects"], total["total"]["output_tokens"]) == (2, 80)
    listed = ws.editor.get("/api/v1/projects").json()["projects"]
    assert sorted(p["usage"]["calls"] for p in listed) == [0, 2]


# --- keys and audit ----------------------------------------------------------------------------


def test_admins_manage_keys_and_a_revoked_key_stops_at_once(ws: Workspace) -> None:
    assert ws.approver.get("/api/v1/keys").status_code == 403
    made = ws.admin.post("/api/v1/keys", json={"role": "editor", "name": "ci bot"})
    assert made.status_code == 201, made.text
    token, key = made.json()["token"], made.json()["key"]
    assert token.startswith(f"nck_{key['id']}_")
    fresh = ws.client(token=token)
    assert fresh.get("/api/v1/projects").status_code == 200
    listed = ws.admin.get("/api/v1/keys").json()["keys"]
    assert key["id"] in [k["id"] for k in listed]
    assert token not in json.dumps(listed)
    assert next(k for k in listed if k["id"] == key["id"])["last_used_at"] is not None
    revoked = ws.admin.delete(f"/api/v1/keys/{key['id']}")
    assert revoked.json()["revoked_at"] is not None
    assert fresh.get("/api/v1/projects").status_code == 401
    assert ws.admin.delete("/api/v1/keys/000000000000").status_code == 404


def test_keys_are_stored_hashed(api: ApiServer, ws: Workspace) -> None:  # noqa: F811
    for role, token in ws.tokens.items():
        key_id, secret = token.split("_", 2)[1:]
        stored = api.connection.hgetall(f"novacast:apikey:{key_id}")
        assert stored[b"role"] == role.value.encode()
        assert secret.encode() not in b"".join(stored.values())


def test_every_change_is_audited_without_secrets(ws: Workspace) -> None:
    made = ws.editor.post("/api/v1/projects", json={"idea": "20s on tea"}).json()
    ws.editor.post(f"/api/v1/projects/{made['id']}/approve")  # refused: 403
    key = ws.admin.post("/api/v1/keys", json={"role": "editor"}).json()
    ws.editor.get("/api/v1/projects")  # a read: not audited
    assert ws.approver.get("/api/v1/audit").status_code == 403
    entries = ws.admin.get("/api/v1/audit").json()["entries"]
    seen = [(e["what"], e["status"], e["role"]) for e in entries]
    assert seen == [
        ("POST /api/v1/keys", 201, "admin"),
        ("POST /api/v1/projects/{project_id}/approve", 403, "editor"),
        ("POST /api/v1/projects", 201, "editor"),
    ]
    assert entries[1]["ids"] == {"project_id": made["id"]}
    assert entries[2]["who"] == f"key:{ws.tokens[Role.EDITOR].split('_')[1]}"
    assert key["token"] not in json.dumps(entries)
    older = ws.admin.get("/api/v1/audit", params={"limit": 1, "before": entries[0]["id"]}).json()
    assert [e["id"] for e in older["entries"]] == [entries[1]["id"]]
