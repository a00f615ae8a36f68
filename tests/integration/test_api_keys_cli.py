"""`novacast keys create|list|revoke` against real Redis, and what the key store keeps: the
token is printed once and never stored; a listed key shows no secret; a revoked key stops."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from adapters.web.access import Role
from adapters.web.api.keys import ApiKeys
from novacast.cli import main


@pytest.fixture
def cli(
    redis_url: str, redis_conn: redis.Redis, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    del redis_conn, data_dir  # a clean test database and data dir
    monkeypatch.setenv("REDIS_URL", redis_url)
    return CliRunner()


def test_create_list_revoke(cli: CliRunner, redis_conn: redis.Redis) -> None:
    made = cli.invoke(
        main, ["keys", "create", "--workspace", "W1", "--role", "approver", "--name", "ci"]
    )
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    key_id = token.split("_")[1]
    assert token.startswith("nck_")
    assert "not shown again" in made.stderr
    assert token.split("_", 2)[2].encode() not in b"".join(
        v
        for k in redis_conn.scan_iter()
        if redis_conn.type(k) == b"hash"
        for v in redis_conn.hvals(k)
    )
    cli.invoke(main, ["keys", "create", "--workspace", "W2", "--role", "editor"])
    listed = cli.invoke(main, ["keys", "list", "--workspace", "W1"])
    assert listed.stdout.splitlines() == [f"{key_id}  W1  approver  active  last used never 'ci'"]
    everything = cli.invoke(main, ["keys", "list"]).stdout
    assert "W2  editor" in everything
    assert token not in everything
    assert ApiKeys(redis_conn).check(token) is not None
    revoked = cli.invoke(main, ["keys", "revoke", key_id])
    assert revoked.exit_code == 0
    assert ApiKeys(redis_conn).check(token) is None
    assert "revoked" in cli.invoke(main, ["keys", "list", "--workspace", "W1"]).stdout


def test_bad_arguments_say_so(cli: CliRunner) -> None:
    assert (
        cli.invoke(main, ["keys", "create", "--workspace", "W", "--role", "owner"]).exit_code == 2
    )
    assert (
        cli.invoke(main, ["keys", "create", "--workspace", " ", "--role", "editor"]).exit_code == 2
    )
    missing = cli.invoke(main, ["keys", "revoke", "0123456789ab"])
    assert missing.exit_code == 1
    assert "no key" in missing.output


def test_checking_keys(redis_conn: redis.Redis) -> None:
    keys = ApiKeys(redis_conn)
    made = keys.create("W", Role.EDITOR)
    key_id, secret = made.token.split("_", 2)[1:]
    assert keys.check(made.token) is not None
    for forged in (
        f"nck_{key_id}_{secret[:-1]}A" if secret[-1] != "A" else f"nck_{key_id}_{secret[:-1]}B",
        f"nck_{'0' * 12}_{secret}",
        f"nck_{key_id}",
        made.token + "x",
        "",
    ):
        assert keys.check(forged) is None
    assert keys.list("W")[0].last_used_at is not None
