"""`novacast bot` on a port something already listens on stops at once, saying so."""

from __future__ import annotations

import os
import socket
import subprocess
import sys


def test_a_taken_port_is_named_and_the_bot_exits_1() -> None:
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))  # every interface, as the bot binds
        holder.listen()
        port = holder.getsockname()[1]
        env = {**os.environ, "NOVACAST_HTTP_PORT": str(port)}
        bot = subprocess.run(
            [sys.executable, "-m", "novacast", "bot"],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )
    assert bot.returncode == 1
    assert f"port {port} is in use" in bot.stderr
    assert "NOVACAST_HTTP_PORT" in bot.stderr
    assert "Traceback" not in bot.stderr
