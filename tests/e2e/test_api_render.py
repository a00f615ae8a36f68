"""`curl` with an API key does what the chat does, end to end: the bot's real HTTP app (the web
adapter mounting the API behind its gate), the real core, a real `novacast worker` process
rendering with ffmpeg and Piper, real Redis. Two drafts are rendered once for the module (the
shared render fixture); then one is approved and published, the other scheduled, unscheduled
and rejected, each step by the role allowed to. Also: a studio session may call the API, but a
state-changing call needs its CSRF token."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from adapters.web.sessions import sign_in_link
from novacast.server import MAX_BODY_BYTES
from pipeline.ffmpeg import ffmpeg_exe
from tests.integration.test_api_support import ApiServer, Workspace, api_server
from tests.workers_support import worker_process

pytestmark = pytest.mark.slow

RENDER_SECONDS = 240


@dataclass
class Rendered:
    server: ApiServer
    ws: Workspace
    published: dict
    scheduled: dict


def _wait(client: httpx.Client, project_id: str, states: set[str], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        project = client.get(f"/api/v1/projects/{project_id}").json()
        if project["state"] in states:
            return project
        if project["last_error"]:
            raise AssertionError(f"{project_id}: {project['last_error']}")
        time.sleep(0.5)
    raise TimeoutError(f"{project_id} never reached {states}")


@pytest.fixture(scope="module")
def rendered(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rendered]:
    """Two drafts made and rendered through the API (one worker renders both)."""
    data_dir = tmp_path_factory.mktemp("api-e2e") / "var"
    with (
        api_server(redis_url, data_dir, whole_bot=True) as server,
        worker_process(redis_url, data_dir),
    ):
        ws = server.workspace()
        made = [
            ws.editor.post("/api/v1/projects", json={"idea": f"12s on {topic}"}).json()
            for topic in ("tea", "coffee")
        ]
        for project in made:
            answer = ws.editor.post(f"/api/v1/projects/{project['id']}/render")
            assert answer.status_code == 202, answer.text
            assert answer.json()["state"] == "rendering"
        done = [_wait(ws.editor, p["id"], {"preview"}, RENDER_SECONDS) for p in made]
        yield Rendered(server, ws, done[0], done[1])


def test_the_rendered_video_is_linked_and_its_render_seconds_counted(rendered: Rendered) -> None:
    project = rendered.published
    assert project["rendered_version"] == 1
    assert project["usage"]["render_seconds"] > 0
    video = rendered.ws.anonymous.get(httpx.URL(project["video_url"]).path)
    assert video.status_code == 200
    assert video.headers["Content-Type"] == "video/mp4"
    assert len(video.content) > 10_000
    again = rendered.ws.editor.post(f"/api/v1/projects/{project['id']}/render")
    assert again.status_code == 202  # the preview is posted again, nothing re-rendered


def test_an_approver_approves_and_it_is_published(rendered: Rendered) -> None:
    ws, project_id = rendered.ws, rendered.published["id"]
    assert ws.editor.post(f"/api/v1/projects/{project_id}/approve").status_code == 403
    approved = ws.approver.post(f"/api/v1/projects/{project_id}/approve")
    assert approved.status_code == 202, approved.text
    published = _wait(ws.editor, project_id, {"published"}, 120)
    assert published["published_to"]
    assert published["approved_by"].startswith("key:")
    twice = ws.approver.post(f"/api/v1/projects/{project_id}/approve")
    assert twice.status_code == 409
    revise = ws.editor.post(
        f"/api/v1/projects/{project_id}/revise", json={"instruction": "shorter"}
    )
    assert revise.status_code == 409


def test_schedule_unschedule_and_reject(rendered: Rendered) -> None:
    ws, project_id = rendered.ws, rendered.scheduled["id"]
    body = {"when": "tomorrow 9am", "project_id": project_id, "timezone": "Europe/Paris"}
    assert ws.editor.post("/api/v1/schedules", json=body).status_code == 403
    made = ws.approver.post("/api/v1/schedules", json=body)
    assert made.status_code == 201, made.text
    schedule = made.json()
    assert (schedule["kind"], schedule["project_id"], schedule["version"]) == (
        "publish",
        project_id,
        1,
    )
    assert ws.editor.get(f"/api/v1/projects/{project_id}").json()["state"] == "approved"
    listed = ws.editor.get("/api/v1/schedules").json()["schedules"]
    assert schedule["id"] in [s["id"] for s in listed]
    rejected_while_scheduled = ws.approver.post(f"/api/v1/projects/{project_id}/reject")
    assert rejected_while_scheduled.status_code == 409
    assert "schedule" in rejected_while_scheduled.json()["error"].lower()
    cancelled = ws.approver.delete(f"/api/v1/schedules/{schedule['id']}")
    assert cancelled.status_code == 200, cancelled.text
    assert ws.editor.get(f"/api/v1/projects/{project_id}").json()["state"] == "preview"
    assert ws.editor.post(f"/api/v1/projects/{project_id}/reject").status_code == 403
    rejected = ws.approver.post(f"/api/v1/projects/{project_id}/reject")
    assert rejected.status_code == 200
    assert rejected.json()["state"] == "rejected"
    assert ws.approver.post(f"/api/v1/projects/{project_id}/reject").status_code == 409
    audit = ws.admin.get("/api/v1/audit").json()["entries"]
    assert {e["what"] for e in audit} >= {
        "POST /api/v1/projects",
        "POST /api/v1/projects/{project_id}/render",
        "POST /api/v1/projects/{project_id}/approve",
        "POST /api/v1/schedules",
        "DELETE /api/v1/schedules/{schedule_id}",
        "POST /api/v1/projects/{project_id}/reject",
    }


def test_a_studio_session_calls_the_api_with_its_csrf_token(rendered: Rendered) -> None:
    server = rendered.server
    link = sign_in_link(server.connection, server.base_url, workspace="studio-ws", role="editor")
    with httpx.Client(base_url=server.base_url, trust_env=False) as browser:
        signed_in = browser.post(httpx.URL(link).path)
        assert signed_in.status_code in {200, 303}
        csrf = browser.get("/session").json()["csrf"]
        assert browser.get("/api/v1/projects").status_code == 200
        refused = browser.post("/api/v1/projects", json={"idea": "12s on tea"})
        assert refused.status_code == 403
        assert "CSRF" in refused.json()["error"]
        made = browser.post(
            "/api/v1/projects", json={"idea": "12s on tea"}, headers={"X-CSRF-Token": csrf}
        )
        assert made.status_code == 201, made.text
        assert made.json()["requester"].startswith("session:")
        forged = browser.get("/api/v1/projects", headers={"Authorization": "Bearer nck_forged"})
        assert forged.status_code == 401  # a presented key never falls back to the cookie


def test_an_upload_larger_than_the_webhook_body_cap_streams_in(
    rendered: Rendered, tmp_path: Path
) -> None:
    big = tmp_path / "noise.jpg"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "nullsrc=s=1600x1600,geq=random(1)*255:128:128",
            "-frames:v",
            "1",
            "-q:v",
            "1",
            str(big),
        ],
        check=True,
    )
    assert big.stat().st_size > MAX_BODY_BYTES
    sent = rendered.ws.editor.post(
        "/api/v1/assets", files={"file": ("noise.jpg", big.read_bytes(), "image/jpeg")}
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["size_bytes"] == big.stat().st_size
