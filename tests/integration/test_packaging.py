"""The wheel ships what the code reads at run time: every prompt file and the prompt skeleton
(prompts/ stays at the top level and is installed as the `prompts` data package), the policy,
the model routes and the voice table; and an unpacked wheel finds its prompts with no
$NOVACAST_PROMPTS, as an editable checkout does.

The wheel is built by pip from a copy of the source tree (caches, virtualenv and build output
left out), so the build writes no `build/` or egg-info into the checkout that others share.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipeline.prompting import PROMPTS_ENV

REPO = Path(__file__).resolve().parents[2]
NOT_SOURCE = shutil.ignore_patterns(
    ".venv", ".git", "var", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
    ".hypothesis", "out",
)  # fmt: skip
FIND_PROMPTS = """
import json, pipeline
from pipeline.prompting import PromptRegistry, default_folder
print(json.dumps([str(default_folder()), pipeline.__file__, PromptRegistry.load().agents]))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source") / "novacast"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
               "--no-index", "--quiet", "--wheel-dir", str(out), str(source)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=240)
    (built,) = out.glob("novacast-*.whl")
    return built


@pytest.fixture(scope="module")
def names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def shipped(folder: str, pattern: str) -> list[str]:
    return sorted(path.relative_to(REPO).as_posix() for path in (REPO / folder).glob(pattern))


def test_the_wheel_ships_every_prompt_file_and_the_skeleton(names: set[str]) -> None:
    prompts = shipped("prompts", "*.yaml")
    templates = shipped("prompts", "_templates/*")
    assert "prompts/voice_plan.yaml" in prompts
    assert templates == ["prompts/_templates/agent.yaml"]
    missing = {*prompts, *templates, "prompts/__init__.py", "prompts/README.md"} - names
    assert not missing


def test_the_wheel_keeps_the_other_data_files(names: set[str]) -> None:
    data = [
        *shipped("policy", "*.yaml"),
        *shipped("bot", "*.yaml"),
        "pipeline/llm/models.yaml",
        "pipeline/voice/voices.yaml",
        *shipped("pipeline", "assets/*"),
    ]
    assert "policy/policy.yaml" in data
    assert not set(data) - names


def test_an_unpacked_wheel_finds_its_prompts_without_the_variable(
    wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site-packages"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in (PROMPTS_ENV, "PYTHONPATH")}
    run = subprocess.run(
        [sys.executable, "-c", FIND_PROMPTS], cwd=elsewhere, env={**env, "PYTHONPATH": str(site)},
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    folder, module, agents = json.loads(run.stdout)
    assert Path(module).is_relative_to(site)  # the unpacked copy, not the checkout
    assert Path(folder) == site / "prompts"
    assert "voice_plan" in agents


def test_a_checkout_finds_its_prompts_from_any_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in (PROMPTS_ENV, "PYTHONPATH")}
    run = subprocess.run(
        [sys.executable, "-c", FIND_PROMPTS], cwd=tmp_path, env=env,
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    folder, module, agents = json.loads(run.stdout)
    assert Path(module).is_relative_to(REPO)
    assert Path(folder) == REPO / "prompts"
    assert "voice_plan" in agents
