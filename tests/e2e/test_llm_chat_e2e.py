"""The whole chat flow with a language model writing: only OPENAI_API_KEY (and its base URL,
pointing at a local wire fake of the OpenAI API) is set; the real SDK, a real worker, real media."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from adapters.console import ConsoleAdapter
from bot.project import ProjectState, ProjectStore
from novacast.wiring import build_engine
from pipeline.llm.usage import UsageLedger
from tests.fakes.openai_api import FakeOpenAI
from tests.workers_support import worker_process

pytestmark = pytest.mark.slow

SENTENCES = [
    "An octopus has one heart for the body and two for the gills.",
    "The gill hearts push blue blood through the gills.",
    "The main heart sends it around the rest of the body.",
    "Their blood uses copper instead of iron, which makes it blue.",
]
DRAFT = {
    "title": "Three Hearts, Blue Blood",
    "hook": "Why would anyone need three hearts?",
    "sentences": SENTENCES,
}
SHORTER = {
    **DRAFT,
    "sentences": SENTENCES[:3],
    "summary": "Dropped the copper sentence.",
    "changed": True,
}


def cards(count: int) -> dict[str, object]:
    return {
        "cards": [
            {
                "sentence": i,
                "title": f"Heart {i + 1}",
                "colors": ["#0b3d91", "#1c1c3c"],
                "keyword": "octopus",
            }
            for i in range(count)
        ]
    }


EXPERIMENT = """
default:
  - {provider: openai, model: gpt-4o-mini, temperature: 0.7, max_tokens: 1200, timeout: 30}
experiments:
  script:
    name: script-model
    variants:
      - {name: mini, weight: 1, chain: [{provider: openai, model: gpt-4o-mini}]}
prices:
  gpt-4o-mini: {input: 0.15, output: 0.60}
"""


@pytest.fixture
def openai_api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeOpenAI]:
    models = tmp_path / "models.yaml"
    models.write_text(EXPERIMENT)
    monkeypatch.setenv("NOVACAST_MODELS", str(models))
    with FakeOpenAI() as fake:
        monkeypatch.setenv("OPENAI_API_KEY", fake.api_key)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        for other in ("ANTHROPIC_API_KEY", "OLLAMA_HOST"):
            monkeypatch.delenv(other, raising=False)
        yield fake


def test_a_model_writes_and_revises_the_video(
    openai_api: FakeOpenAI, redis_url: str, redis_conn: redis.Redis, data_dir: Path
) -> None:
    openai_api.answer(DRAFT, schema="ScriptDraft")
    openai_api.answer(cards(len(SENTENCES)), schema="SceneCards")
    flagged = {"sentence": 3, "claim": "copper makes it blue", "reason": "worth a source"}
    openai_api.answer({"uncertain_claims": [flagged]}, schema="ReviewNotes")
    openai_api.answer(SHORTER, schema="RewriteDraft")
    openai_api.answer(cards(3), schema="SceneCards")
    openai_api.answer({"uncertain_claims": []}, schema="ReviewNotes")
    out = io.StringIO()
    adapter = ConsoleAdapter(build_engine(redis_conn).handle, redis_conn, out, patient=True)
    with worker_process(redis_url, data_dir):
        adapter.run(
            [
                "/make 20s on why octopuses have three hearts",
                "cut the copper bit",
                "Render",
                "Approve & publish",
            ]
        )
    shown = out.getvalue()
    assert "Three Hearts, Blue Blood" in shown
    assert "via openai" in shown
    assert "Dropped the copper sentence." in shown
    claim = "• Sentence 4: “copper makes it blue” — worth a source"
    assert f"Check before publishing:\n{claim}" in shown
    project = ProjectStore(redis_conn).active(adapter.conversation)
    assert project is not None
    assert project.state is ProjectState.PUBLISHED
    assert project.script.sentences == SENTENCES[:3]
    assert project.experiments == {"script-model": "mini"}  # the A/B variant, kept on the project
    usage = UsageLedger(redis_conn).totals(project.id)
    assert usage.calls == 6
    assert usage.input_tokens > 0
    assert usage.cost_usd > 0
    (video,) = (data_dir / "published" / "local").glob("*.mp4")
    sidecar = json.loads(video.with_suffix(".json").read_text())
    assert sidecar["title"] == "Three Hearts, Blue Blood"
    user_turns = [r.body["messages"][1]["content"] for r in openai_api.requests]
    assert any("why octopuses have three hearts" in turn for turn in user_turns)
