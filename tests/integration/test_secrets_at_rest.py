"""Secrets at rest: the sealing keys (environment, file, generated once 0600), rotation, and the
stores that use them — X's rotated refresh token in Redis, sealed, and one left in clear text by
an older version read once and saved again sealed."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from cryptography.fernet import Fernet
from pydantic import SecretStr

from pipeline.errors import PermanentError
from pipeline.publish import PublishRequest
from pipeline.publish.remote import MemoryCheckpoints, SealedCheckpoints
from pipeline.publish.x import XConfig, XPublisher
from pipeline.secrets import (
    KEY_FILE_NAME,
    KEYS_ENV,
    KEYS_FILE_ENV,
    SEALED_PREFIX,
    SecretBox,
    SecretKeyError,
    generated_keys,
    secret_box,
)
from tests.fakes.x_api import FakeX
from workers.publish_ledger import RedisCheckpoints

CLIENT_ID = "secrets-at-rest-client"
REFRESH = "x-refresh-token-configured-51c0ffee"


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Path:
    monkeypatch.delenv(KEYS_ENV, raising=False)
    monkeypatch.delenv(KEYS_FILE_ENV, raising=False)
    return data_dir


def new_key() -> bytes:
    return Fernet.generate_key()


def test_sealed_text_hides_the_secret_and_opens_again() -> None:
    box = SecretBox([new_key()])
    sealed = box.seal("xoxb-very-secret")
    assert sealed.startswith(SEALED_PREFIX)
    assert "xoxb" not in sealed
    assert box.open(sealed) == "xoxb-very-secret"
    assert box.seal("xoxb-very-secret") != sealed, "a fresh IV every time"


def test_a_rotated_key_still_opens_and_asks_for_a_reseal() -> None:
    old, new = new_key(), new_key()
    sealed_with_old = SecretBox([old]).seal("refresh-1")
    rotated = SecretBox([new, old])
    revealed = rotated.reveal(sealed_with_old)
    assert (revealed.text, revealed.reseal) == ("refresh-1", True)
    resealed = rotated.seal(revealed.text)
    assert rotated.reveal(resealed).reseal is False
    assert SecretBox([new]).open(resealed) == "refresh-1"


def test_a_value_no_key_opens_fails_without_showing_keys_or_value() -> None:
    key = new_key()
    sealed = SecretBox([key]).seal("refresh-2")
    with pytest.raises(SecretKeyError) as caught:
        SecretBox([new_key()]).open(sealed)
    assert key.decode() not in str(caught.value)
    assert "refresh-2" not in str(caught.value)


def test_clear_text_from_an_older_version_is_passed_on_for_resealing() -> None:
    revealed = SecretBox([new_key()]).reveal("legacy-clear-token")
    assert (revealed.text, revealed.reseal) == ("legacy-clear-token", True)


def test_a_malformed_key_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEYS_ENV, "not-a-fernet-key-at-all")
    with pytest.raises(SecretKeyError, match=KEYS_ENV) as caught:
        secret_box()
    assert "not-a-fernet-key" not in str(caught.value)


def test_keys_from_the_environment_first_seals_all_open(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = new_key(), new_key()
    monkeypatch.setenv(KEYS_ENV, f"{new.decode()}, {old.decode()}")
    box = secret_box()
    assert box.open(SecretBox([old]).seal("a")) == "a"
    assert SecretBox([new]).open(box.seal("b")) == "b"


def test_keys_from_a_secrets_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key = new_key()
    path = tmp_path / "novacast-keys"
    path.write_text(f"{key.decode()}\n{new_key().decode()}\n")
    monkeypatch.delenv(KEYS_ENV, raising=False)
    monkeypatch.setenv(KEYS_FILE_ENV, str(path))
    assert SecretBox([key]).open(secret_box().seal("c")) == "c"
    monkeypatch.setenv(KEYS_FILE_ENV, str(tmp_path / "missing"))
    with pytest.raises(SecretKeyError, match=KEYS_FILE_ENV):
        secret_box()


def test_without_keys_one_is_generated_once_0600_and_said_once(
    no_keys: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="pipeline.secrets"):
        sealed = secret_box().seal("d")
        path = no_keys / KEY_FILE_NAME
        key = path.read_text().strip()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert SecretBox([key.encode()]).open(sealed) == "d"
        assert generated_keys(no_keys).read_text().strip() == key, "kept, not made again"
    said = [r.getMessage() for r in caplog.records if "generated the key" in r.getMessage()]
    assert len(said) == 1
    assert str(path) in said[0]
    assert key not in caplog.text
    assert [p.name for p in no_keys.iterdir()] == [KEY_FILE_NAME], "no temporary file left"


def test_processes_starting_together_agree_on_one_generated_key(tmp_path: Path) -> None:
    keys: list[str] = []
    start = threading.Barrier(8)

    def generate() -> None:
        start.wait()
        keys.append(generated_keys(tmp_path).read_text())

    threads = [threading.Thread(target=generate) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [KEY_FILE_NAME]


def test_a_group_readable_key_file_is_made_owner_only(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE_NAME
    path.write_text(new_key().decode())
    path.chmod(0o644)
    generated_keys(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- stores -----------------------------------------------------------------------------------


def test_a_clear_record_in_redis_is_sealed_the_first_time_it_is_read(
    redis_conn: redis.Redis, no_keys: Path
) -> None:
    inner = RedisCheckpoints(redis_conn, "x")
    inner.save("x:refresh-token:app", {"refresh_token": "legacy-clear", "seed": "ab"},
               durable=True)
    store = SealedCheckpoints(inner, ("refresh_token",), durable=True)
    assert store.load("x:refresh-token:app") == {"refresh_token": "legacy-clear", "seed": "ab"}
    raw = redis_conn.get("nc:publish:checkpoint:x:x:refresh-token:app")
    assert raw is not None
    assert b"legacy-clear" not in raw
    assert SEALED_PREFIX.encode() in raw
    assert redis_conn.ttl("nc:publish:checkpoint:x:x:refresh-token:app") == -1, "still durable"
    assert store.load("x:refresh-token:app") == {"refresh_token": "legacy-clear", "seed": "ab"}


def _request(video: Path, version: int) -> PublishRequest:
    return PublishRequest(video=video, workspace="T0SEC", project_id="5ec7e7", version=version,
                          title=f"Secrets at rest {version}", approved_by="ana",
                          approved_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC))


def test_x_uses_a_clear_token_left_by_an_older_version_then_keeps_only_sealed_ones(
    redis_conn: redis.Redis, no_keys: Path, tmp_path: Path
) -> None:
    video = tmp_path / "final.mp4"
    video.write_bytes(os.urandom(300_000))
    legacy = "x-refresh-rotated-by-an-older-version-77"
    with FakeX(CLIENT_ID, legacy) as fake:
        config = XConfig(client_id=CLIENT_ID, refresh_token=SecretStr(REFRESH),
                         api_url=fake.base_url, poll_seconds=0.002, max_poll_seconds=0.002)
        seed = hashlib.sha256(REFRESH.encode()).hexdigest()[:16]
        key = f"x:refresh-token:{CLIENT_ID}"
        RedisCheckpoints(redis_conn, "x").save(
            key, {"refresh_token": legacy, "seed": seed, "saved_at": "2026-01-01T00:00:00"},
            durable=True)
        XPublisher(config, RedisCheckpoints(redis_conn, "x"), segment_bytes=256 * 1024).publish(
            _request(video, 1))
        assert fake.posts_created == 1
        used = [r.body["refresh_token"] for r in fake.requests if r.path == "/2/oauth2/token"]
        assert used == [legacy]
        rotated = fake.issued_refresh_tokens[-1]
    values = b"".join(redis_conn.get(k) or b"" for k in redis_conn.scan_iter("*"))
    for secret in (legacy, rotated, REFRESH):
        assert secret.encode() not in values
    saved = json.loads(redis_conn.get(f"nc:publish:checkpoint:x:{key}") or b"{}")
    assert secret_box().open(saved["refresh_token"]) == rotated


def test_a_record_no_configured_key_opens_is_treated_as_never_saved(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    inner = MemoryCheckpoints()
    lost = SecretBox([new_key()])
    SealedCheckpoints(inner, ("upload_url",), box=lost).save(
        "tiktok:p:v1", {"state": "uploading", "upload_url": "https://up.example/?t=lost-77"})
    monkeypatch.setenv(KEYS_ENV, new_key().decode())
    with caplog.at_level(logging.WARNING, logger="pipeline.publish.remote"):
        assert SealedCheckpoints(inner, ("upload_url",)).load("tiktok:p:v1") is None
    assert "no longer configured" in caplog.text
    assert "lost-77" not in caplog.text


def test_x_signs_in_with_a_reconnected_token_when_the_saved_one_cannot_be_opened(
    redis_conn: redis.Redis, no_keys: Path, tmp_path: Path
) -> None:
    video = tmp_path / "final.mp4"
    video.write_bytes(os.urandom(300_000))
    reconnected = "x-refresh-token-after-reconnect-88"
    with FakeX(CLIENT_ID, reconnected) as fake:
        key = f"x:refresh-token:{CLIENT_ID}"
        SealedCheckpoints(RedisCheckpoints(redis_conn, "x"), ("refresh_token",),
                          box=SecretBox([new_key()])).save(
            key, {"refresh_token": "sealed-with-a-lost-key", "seed": "0123456789abcdef"},
            durable=True)
        config = XConfig(client_id=CLIENT_ID, refresh_token=SecretStr(reconnected),
                         api_url=fake.base_url, poll_seconds=0.002, max_poll_seconds=0.002)
        XPublisher(config, RedisCheckpoints(redis_conn, "x"), segment_bytes=256 * 1024).publish(
            _request(video, 1))
        assert fake.posts_created == 1
        rotated = fake.issued_refresh_tokens[-1]
    saved = json.loads(redis_conn.get(f"nc:publish:checkpoint:x:{key}") or b"{}")
    assert secret_box().open(saved["refresh_token"]) == rotated


def test_malformed_keys_stop_a_publish_in_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEYS_ENV, "not-a-key")
    store = SealedCheckpoints(MemoryCheckpoints(), ("upload_url",))
    with pytest.raises(PermanentError, match=f"stored credentials cannot be sealed: .*{KEYS_ENV}"):
        store.save("k", {"upload_url": "https://up.example/"})
