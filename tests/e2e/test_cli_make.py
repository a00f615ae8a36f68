"""`novacast make` as a user runs it: a real process, real Piper and ffmpeg (whichever the
machine's PATH and the normal resolution give), and the writer the chat would use: the real
OpenAI SDK against the fake in tests/fakes/openai_api.py, or the offline template writer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.narration import Narration
from pipeline.probe import probe
from pipeline.script import Script
from pipeline.writers import WRITER_NAME
from pipeline.writers.llm import FALLBACK_NOTE
from tests.fakes.openai_api import FakeOpenAI

PROVIDER_VARIABLES = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY",
                      "ANTHROPIC_BASE_URL", "OLLAMA_HOST", "ELEVENLABS_API_KEY")
MODELS = """
default:
  - {provider: openai, model: gpt-4o-mini, temperature: 0.7, max_tokens: 1200, timeout: 30}
"""
TITLE = "Three hearts, one octopus"
HOOK = "Why would anyone need three hearts?"
SENTENCES = [  # four: the fewest a ScriptDraft may have
    "Two hearts serve the gills.", "One heart serves the body.", "It rests when they swim.",
    "So they crawl.",
]
SKIPPED_FFMPEG = "lacks drawtext option text_align; using the bundled ffmpeg"


def _make(
    *args: str, data_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`novacast make` with the machine's environment (PATH included) minus any provider key,
    plus `env`."""
    base = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES}
    env = {**base, "NOVACAST_DATA_DIR": str(data_dir), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "novacast", "make", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _made(data_dir: Path) -> tuple[Script, Narration]:
    """The script and narration `novacast make` kept beside the media it made."""
    (folder,) = [path.parent for path in (data_dir / "media" / "cli").glob("*/script.json")]
    script = Script.model_validate_json((folder / "script.json").read_text())
    narration = Narration.model_validate_json((folder / "narration.json").read_text())
    return script, narration


def _skip_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if SKIPPED_FFMPEG in line]


def _distro_ffmpeg_is_too_old() -> bool:
    """Whether the ffmpeg on this machine's PATH is one the render must skip (Debian 12's)."""
    on_path = shutil.which("ffmpeg")
    if on_path is None:
        return False
    done = subprocess.run([on_path, "-hide_banner", "-h", "filter=drawtext"],
                          capture_output=True, text=True, check=False)
    return done.returncode == 0 and "text_align" not in done.stdout


@pytest.mark.slow
def test_make_writes_a_square_video_where_asked(tmp_path: Path) -> None:
    """No provider keys: the offline template writer, named; whatever ffmpeg PATH has (one line
    when it is skipped for the bundled one)."""
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
    assert f"script by {WRITER_NAME}\n" in done.stderr
    assert FALLBACK_NOTE not in done.stderr
    assert len(_skip_lines(done.stderr)) == (1 if _distro_ffmpeg_is_too_old() else 0)
    facts = probe(out)
    assert (facts.width, facts.height) == (1080, 1080)
    assert (facts.video_codec, facts.audio_codec) == ("h264", "aac")
    script, narration = _made(tmp_path / "var")
    assert script.writer == WRITER_NAME
    assert facts.duration == pytest.approx(narration.duration, abs=0.15)
    assert facts.loudness_lufs is not None
    assert -24 < facts.loudness_lufs < -10


@pytest.fixture
def openai_api(tmp_path: Path) -> Iterator[tuple[FakeOpenAI, dict[str, str]]]:
    models = tmp_path / "models.yaml"
    models.write_text(MODELS)
    with FakeOpenAI() as fake:
        yield fake, {"OPENAI_API_KEY": fake.api_key, "OPENAI_BASE_URL": fake.base_url,
                     "NOVACAST_MODELS": str(models)}


@pytest.mark.slow
def test_make_writes_with_the_configured_model(
    tmp_path: Path, openai_api: tuple[FakeOpenAI, dict[str, str]]
) -> None:
    api, env = openai_api
    api.answer({"title": TITLE, "hook": HOOK, "sentences": SENTENCES}, schema="ScriptDraft")
    api.answer({"uncertain_claims": []}, schema="ReviewNotes")
    done = _make("why octopuses have three hearts", "--seconds", "10",
                 data_dir=tmp_path / "var", env=env)
    assert done.returncode == 0, done.stderr
    assert "script by gpt-4o-mini via openai\n" in done.stderr
    assert "why octopuses have three hearts" in api.requests[0].body["messages"][1]["content"]
    script, narration = _made(tmp_path / "var")
    assert (script.title, script.hook, script.sentences) == (TITLE, HOOK, SENTENCES)
    assert [cue.text for cue in narration.cues] == [HOOK, *SENTENCES]  # what the video says
    assert probe(Path(done.stdout.strip())).duration == pytest.approx(narration.duration,
                                                                      abs=0.15)


@pytest.mark.slow
def test_make_falls_back_to_the_offline_writer_when_the_model_fails_and_says_so(
    tmp_path: Path, openai_api: tuple[FakeOpenAI, dict[str, str]]
) -> None:
    api, env = openai_api
    api.fail_next(20, "500")
    done = _make("why octopuses have three hearts", "--seconds", "10",
                 data_dir=tmp_path / "var", env=env)
    assert done.returncode == 0, done.stderr
    assert f"script by {WRITER_NAME} ({FALLBACK_NOTE})\n" in done.stderr
    assert api.requests
    assert all(call.status == 500 for call in api.requests)
    script, narration = _made(tmp_path / "var")
    assert script.writer == f"{WRITER_NAME} ({FALLBACK_NOTE})"
    assert [cue.text for cue in narration.cues] == script.narration
    assert Path(done.stdout.strip()).is_file()


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


def test_dotenv_reaches_every_setting_not_only_the_pydantic_ones(tmp_path: Path) -> None:
    """`.env` in the working directory is read before any command: NOVACAST_FFMPEG (read with
    os.environ, not by pydantic-settings) set only there stops `make` at start, and a variable
    already in the environment wins over the file."""
    missing = tmp_path / "no-such-ffmpeg"
    (tmp_path / ".env").write_text(f"NOVACAST_FFMPEG={missing}\n")
    base = {k: v for k, v in os.environ.items() if k not in ("NOVACAST_FFMPEG",)}
    env = {**base, "NOVACAST_DATA_DIR": str(tmp_path / "var")}
    run = subprocess.run(
        [sys.executable, "-m", "novacast", "make", "octopus hearts"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    assert run.returncode == 1
    assert f"NOVACAST_FFMPEG names {missing}, which is not a file." in run.stderr
    assert "Traceback" not in run.stderr

    from_env = tmp_path / "named-in-the-environment"
    env_wins = subprocess.run(
        [sys.executable, "-m", "novacast", "make", "octopus hearts"],
        env={**env, "NOVACAST_FFMPEG": str(from_env)}, cwd=tmp_path, capture_output=True,
        text=True, timeout=120, check=False,
    )
    assert env_wins.returncode == 1
    assert f"NOVACAST_FFMPEG names {from_env}, which is not a file." in env_wins.stderr
