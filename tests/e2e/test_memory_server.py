"""Long-term memory in server mode: the real qdrant-client against a fake Qdrant over HTTPS.

`QDRANT_URL` points at `tests.fakes.qdrant_api.FakeQdrant` (a self-signed certificate that the
client trusts through SSL_CERT_FILE) and `QDRANT_API_KEY` holds its key, the way a Qdrant Cloud
cluster is configured. Everything else is real: the MiniLM model, the engine with the offline
writer, Redis. A "restart" is a new `VectorMemory` (a new client) on the same server. Each client
checks the server's version from a thread at start; tests wait for that check to be answered
before the fake goes away.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import redis
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from bot.intent_model import IntentModel
from pipeline.memory import embeddings, memory_from_env, store
from pipeline.memory.store import COLLECTION, VectorMemory
from tests.fakes.qdrant_api import FakeQdrant, self_signed_certificate
from tests.integration.test_memory import conv, engine_with, make, record, say

for _name in ("NO_PROXY", "no_proxy"):  # httpx honours proxies; the fake is local
    os.environ[_name] = ",".join(filter(None, [os.environ.get(_name), "127.0.0.1,localhost"]))

API_KEY = "qdrant-test-key-5f1c"
BASE = f"/collections/{COLLECTION}"
WORKSPACE_T1 = {"key": "workspace", "match": {"value": "slack:T1"}}


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def intent_model() -> IntentModel:
    """The model loads once per process; the examples are embedded once per session."""
    embeddings.load()
    model = IntentModel()
    model.warm()
    return model


@pytest.fixture
def qdrant(
    certificate: tuple[Path, Path],
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    intent_model: IntentModel,
) -> Iterator[FakeQdrant]:
    """A fresh server per test, configured through the environment like a deployment."""
    with FakeQdrant(API_KEY, certificate) as fake:
        monkeypatch.setenv("QDRANT_URL", fake.base_url)
        monkeypatch.setenv("QDRANT_API_KEY", API_KEY)
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
        monkeypatch.setattr(store, "_SHARED", {})  # the process-wide instances, kept per test
        yield fake


def server_memory(fake: FakeQdrant) -> VectorMemory:
    """A `VectorMemory` chosen by the environment (no path), once its version check is done."""
    checks = len(fake.calls("GET", "/"))
    memory = VectorMemory()
    fake.wait_for("GET", "/", checks + 1)
    return memory


# --- the store on the server ------------------------------------------------------------------


def test_qdrant_url_puts_the_memory_on_the_server(qdrant: FakeQdrant, data_dir: Path) -> None:
    memory = memory_from_env()
    assert memory is not None
    qdrant.wait_for("GET", "/", 1)
    try:
        assert not memory.local
        assert memory_from_env() is memory, "one memory per process"
        memory.remember_project(record("slack:T1", "aaaa0001", "why octopuses have three hearts"))
        assert memory.count("slack:T1") == 1
    finally:
        memory.close()
    made = qdrant.collections[COLLECTION]
    assert (made.size, made.distance) == (embeddings.DIMENSIONS, "Cosine")
    assert made.indexes == {
        "workspace": "keyword",
        "user": "keyword",
        "project_id": "keyword",
        "created_ts": "float",
    }
    assert [(r.method, r.path) for r in qdrant.requests if r.path != "/"] == [
        ("GET", f"{BASE}/exists"),
        ("PUT", BASE),
        *[("PUT", f"{BASE}/index")] * 4,
        ("PUT", f"{BASE}/points"),
        ("POST", f"{BASE}/points/count"),
    ]
    assert qdrant.calls("PUT", BASE)[0].body == {"vectors": {"size": 384, "distance": "Cosine"}}
    (upsert,) = qdrant.calls("PUT", f"{BASE}/points")
    assert upsert.query == {"wait": "true"}
    (point,) = upsert.body["points"]
    assert len(point["vector"]) == 384
    assert point["payload"]["workspace"] == "slack:T1"
    assert point["payload"]["project_id"] == "aaaa0001"
    assert all(r.headers.get("api-key") == API_KEY for r in qdrant.requests)
    assert qdrant.failures() == []
    for local in ("memory", "qdrant"):  # the local store's folder, and the old one's
        assert not (data_dir / local).exists(), "nothing was written to a local folder"


def test_a_restart_recalls_projects_from_the_server(qdrant: FakeQdrant) -> None:
    with server_memory(qdrant) as first:
        first.remember_project(record("slack:T1", "aaaa0001", "why octopuses have three hearts"))
        first.remember_project(record("slack:T1", "aaaa0002", "the history of tea"))
    with server_memory(qdrant) as again:
        (hit,) = again.similar("slack:T1", "the octopus and its three hearts", limit=1)
        assert (hit.project_id, hit.idea, hit.user) == (
            "aaaa0001",
            "why octopuses have three hearts",
            "U1",
        )
        assert hit.score > 0.7
        last = again.last_project("slack:T1", "U1")
        assert last is not None
        assert last.project_id == "aaaa0002"
    assert len(qdrant.calls("PUT", BASE)) == 1, "the restart found the collection"
    (query,) = qdrant.calls("POST", f"{BASE}/points/query")
    assert query.body["filter"] == {"must": [WORKSPACE_T1]}
    assert (query.body["limit"], query.body["with_payload"]) == (1, True)
    (scroll,) = qdrant.calls("POST", f"{BASE}/points/scroll")
    assert scroll.body["order_by"] == {"key": "created_ts", "direction": "desc"}
    assert scroll.body["filter"] == {
        "must": [WORKSPACE_T1, {"key": "user", "match": {"value": "U1"}}]
    }
    assert qdrant.failures() == []


def test_workspaces_stay_apart_on_the_server(qdrant: FakeQdrant) -> None:
    with server_memory(qdrant) as memory:
        memory.remember_project(record("slack:T1", "aaaa0001", "why octopuses have three hearts"))
        memory.remember_project(record("slack:T1", "aaaa0002", "the three hearts of octopuses"))
        memory.remember_project(record("slack:T2", "bbbb0001", "volcanoes of iceland", user="U9"))
        assert [h.project_id for h in memory.similar("slack:T2", "octopus hearts", 5)] == [
            "bbbb0001"
        ]
        assert memory.last_project("slack:T2", "U1") is None
        assert memory.similar("telegram:T1", "octopus hearts") == []
        others = memory.similar("slack:T1", "octopus hearts", 5, exclude=["aaaa0001"])
        assert [h.project_id for h in others] == ["aaaa0002"]
        assert (memory.count("slack:T1"), memory.count("slack:T2")) == (2, 1)
        memory.forget_workspace("slack:T1")
        assert (memory.count("slack:T1"), memory.count("slack:T2")) == (0, 1)
    left = qdrant.collections[COLLECTION].points.values()
    assert [p.payload["project_id"] for p in left] == ["bbbb0001"]
    (delete,) = qdrant.calls("POST", f"{BASE}/points/delete")
    assert (delete.query, delete.body) == ({"wait": "true"}, {"filter": {"must": [WORKSPACE_T1]}})
    assert qdrant.failures() == []


def test_a_revision_rewrites_the_server_copy(qdrant: FakeQdrant) -> None:
    with server_memory(qdrant) as memory:
        memory.remember_project(record("slack:T1", "aaaa0001", "tea"))
        assert memory.remember_revision("slack:T1", "aaaa0001", "Tea, Shorter", "Tea is old.")
        assert not memory.remember_revision("slack:T2", "aaaa0001", "x", "y")
        assert len(qdrant.calls("POST", f"{BASE}/points/payload")) == 1, "nothing for T2"
        moved = memory.remember_revision(
            "slack:T1", "aaaa0001", "Squid", "Squid are fast.", topic="how squid swim"
        )
        assert moved
        stored = memory.get("slack:T1", "aaaa0001")
        assert stored is not None
        assert (stored["title"], stored["script"], stored["topic"], stored["idea"]) == (
            "Squid",
            "Squid are fast.",
            "how squid swim",
            "tea",
        )
        (hit,) = memory.similar("slack:T1", "squids swimming", limit=1)
        assert hit.score > 0.6
    (point,) = qdrant.collections[COLLECTION].points.values()
    assert point.vector == pytest.approx(embeddings.embed(["how squid swim"])[0], abs=1e-6)
    (update,) = qdrant.calls("PUT", f"{BASE}/points/vectors")
    assert (update.query, update.body["points"][0]["id"]) == ({"wait": "true"}, point.id)
    assert qdrant.failures() == []


# --- the engine with server memory -------------------------------------------------------------


def test_heads_up_and_like_the_last_one_survive_a_restart(
    qdrant: FakeQdrant,
    redis_conn: redis.Redis,
    intent_model: IntentModel,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with server_memory(qdrant) as memory:
        engine = engine_with(redis_conn, memory, intent_model)
        _, first = make(engine, "40s on why octopuses have three hearts")
    with server_memory(qdrant) as memory:
        restarted = engine_with(redis_conn, memory, intent_model)
        text, _ = make(restarted, "the three hearts of an octopus, playful", conv(user="U2"))
        day = datetime.now(UTC)
        assert text.startswith(
            f"Heads-up: this workspace made a similar video on {day.day} {day:%b %Y}: "
            f"“{first.script.title}”.\n"
        )
        text, again = make(restarted, "like the last one")
        assert text.startswith(f"Same idea as your last video here, “{first.script.title}”.")
        assert (again.script.idea, again.script.target_seconds) == (first.script.idea, 40)
        text, _ = make(restarted, "why octopuses have three hearts", conv(workspace="T2"))
        assert text.startswith("Draft v1"), "no heads-up from another workspace"
    assert "vector memory" not in caplog.text
    assert len(qdrant.calls("PUT", f"{BASE}/points")) == 4
    assert qdrant.failures() == []


def test_preferences_and_projects_survive_a_restart(
    qdrant: FakeQdrant, redis_conn: redis.Redis, intent_model: IntentModel
) -> None:
    with server_memory(qdrant) as memory:
        engine = engine_with(redis_conn, memory, intent_model)
        assert say(engine, "always 45 seconds").startswith("Got it — from now on: 45 s.")
        say(engine, "I prefer a playful tone")
    with server_memory(qdrant) as memory:
        restarted = engine_with(redis_conn, memory, intent_model)
        text, project = make(restarted, "why octopuses have three hearts")
        assert "Using your defaults: 45 s, playful tone" in text
        assert project.script.target_seconds == 45
        stored = memory.get("slack:T1", project.id)
        assert stored is not None
        assert stored["idea"] == "why octopuses have three hearts", "the idea as it was said"
        assert project.script.idea.endswith("playful")
    assert qdrant.failures() == []


# --- refusals -----------------------------------------------------------------------------------


def test_a_wrong_api_key_is_refused_plainly(
    qdrant: FakeQdrant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QDRANT_API_KEY", "not-the-key-8e2d")
    with pytest.raises(UnexpectedResponse) as refused:
        memory_from_env()
    qdrant.wait_for("GET", "/", 1)
    message = str(refused.value)
    assert refused.value.status_code == 401
    assert "Invalid API key or JWT" in message
    assert "not-the-key-8e2d" not in message
    assert API_KEY not in message
    (denied,) = qdrant.failures()
    assert (denied.path, denied.headers["api-key"]) == (f"{BASE}/exists", "not-the-key-8e2d")
    monkeypatch.delenv("QDRANT_API_KEY")
    with pytest.raises(UnexpectedResponse, match="Must provide an API key"):
        VectorMemory()
    qdrant.wait_for("GET", "/", 2)
    assert qdrant.collections == {}


def test_the_fake_refuses_what_qdrant_refuses(
    qdrant: FakeQdrant, certificate: tuple[Path, Path]
) -> None:
    client = QdrantClient(url=qdrant.base_url, api_key=API_KEY)
    qdrant.wait_for("GET", "/", 1)
    try:
        small = models.VectorParams(size=3, distance=models.Distance.COSINE)
        client.create_collection("small", vectors_config=small)
        with pytest.raises(UnexpectedResponse) as twice:
            client.create_collection("small", vectors_config=small)
        assert twice.value.status_code == 409
        with pytest.raises(UnexpectedResponse) as short:
            client.upsert("small", [models.PointStruct(id=1, vector=[1.0, 0.0])])
        assert (short.value.status_code, short.value.structured()["status"]) == (
            400,
            {"error": "Wrong input: Vector dimension error: expected dim: 3, got 2"},
        )
        with pytest.raises(UnexpectedResponse) as missing:
            client.count("nowhere")
        assert (missing.value.status_code, missing.value.structured()["status"]) == (
            404,
            {"error": "Not found: Collection `nowhere` doesn't exist!"},
        )
        client.upsert(
            "small",
            [
                models.PointStruct(id=1, vector=[1.0, 0.0, 0.0], payload={"n": 2}),
                models.PointStruct(id=2, vector=[0.0, 1.0, 0.0], payload={"n": 1}),
            ],
        )
        with pytest.raises(UnexpectedResponse, match="No range index for `order_by` key: `n`"):
            client.scroll("small", order_by="n")
        client.create_payload_index("small", "n", models.PayloadSchemaType.INTEGER)
        points, _ = client.scroll("small", order_by="n")
        assert [p.id for p in points] == [2, 1]
        close = client.query_points("small", query=[1.0, 0.1, 0.0], score_threshold=0.9)
        assert [(p.id, round(p.score, 3)) for p in close.points] == [(1, 0.995)]
    finally:
        client.close()
    odd = {"vectors": {"size": 3, "distance": "Cosinus"}}
    answer = httpx.put(
        f"{qdrant.base_url}/collections/odd",
        json=odd,
        headers={"api-key": API_KEY},
        verify=ssl.create_default_context(cafile=certificate[0]),
    )
    assert answer.status_code == 400
    assert answer.json()["status"]["error"].startswith("Format error in JSON body: vectors")
    assert "odd" not in qdrant.collections
