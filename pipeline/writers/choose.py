"""Which writer this process uses: the LLM writer when a provider is configured, else offline."""

from __future__ import annotations

from redis import Redis

from pipeline.llm.config import load_models
from pipeline.llm.routing import Endpoints, Router
from pipeline.llm.usage import UsageLedger
from pipeline.prompting import PromptRegistry
from pipeline.script import Writer
from pipeline.writers.llm import LLMWriter
from pipeline.writers.offline import OfflineWriter


def writer_from_env(redis: Redis | None = None) -> Writer:
    """`LLMWriter` when OPENAI_API_KEY, ANTHROPIC_API_KEY or OLLAMA_HOST is set, else offline.

    Prompts and models.yaml are loaded (and validated) here, so a broken file fails at start.
    With `redis`, token use and cost are recorded per project (see `LLMWriter.bound`).
    """
    endpoints = Endpoints.from_env()
    if not endpoints.any_configured:
        return OfflineWriter()
    router = Router(load_models(), endpoints)
    registry = PromptRegistry.load()
    for pins in router.config.prompt_pins.values():
        registry.pinned(pins)  # an unknown pinned agent or version fails at start
    usage = UsageLedger(redis, prices=router.config.prices) if redis is not None else None
    return LLMWriter(router, registry, fallback=OfflineWriter(), usage=usage)
