"""Language models behind one small protocol (`ChatModel`), with routing and fallback."""

from pipeline.llm.base import ChatModel, Completion, InvalidOutput, Message, ProviderError

__all__ = ["ChatModel", "Completion", "InvalidOutput", "Message", "ProviderError"]
