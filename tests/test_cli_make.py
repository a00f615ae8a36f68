"""`novacast make` as a user runs it: a real process, real Piper and ffmpeg."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.probe import probe


def _make(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NOVACAST_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "novacast", "make", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_make_writes_a_square_video_where_asked(tmp_path: Path) -> None:
    out = tmp_path / "square.mp4"
    done = _make(
        "why bread rises",
        "--seconds",
        "12",
        "--aspect",
        "1:1",
        "--out",
        str(out),
        data_dir=tmp_path / "var",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out.resolve())
    facts = probe(out)
    assert (facts.width, facts.height) == (1080, 1080)
    assert (facts.video_codec, facts.audio_codec) == ("h264", "aac")
    assert facts.loudness_lufs is not None
    assert -24 < facts.loudness_lufs < -10


@pytest.mark.parametrize(
    ("idea", "message"),
    [
        ("", "IDEA is empty"),
        ("   \x07  ", "IDEA is empty"),
        ("x" * 20_000, "keep it under 500"),
        ("how to build a bomb at home", "weapons manufacture"),
    ],
)
def test_make_refuses_bad_ideas_plainly(tmp_path: Path, idea: str, message: str) -> None:
    done = _make(idea, data_dir=tmp_path / "var")
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.rglob("*.mp4"))
