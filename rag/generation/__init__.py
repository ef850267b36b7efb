"""Answer generators behind one `Generator` interface, and the choice among them from settings."""

from __future__ import annotations

import logging

from rag.config import Settings
from rag.errors import ModelUnavailableError
from rag.generation.base import Generator, Message, generate

__all__ = ["Generator", "Message", "generate", "load_generator"]

logger = logging.getLogger(__name__)


def load_generator(settings: Settings) -> Generator | None:
    """Build the configured generator; None means "answer extractively".

    A local model that is missing or fails to load is not fatal: the service still answers by
    quoting passages, and a WARNING says so. The OpenAI backend is only a client, so it never
    fails here; an unreachable server shows up as `GenerationError` when asked.
    """
    if settings.generator == "extractive":
        return None
    if settings.generator == "openai":
        from rag.generation.openai import OpenAIGenerator

        return OpenAIGenerator.from_settings(settings)

    from rag.generation.local import LocalGenerator
    from rag.provisioning.generator_model import prepare_generator_model

    try:
        path = settings.generator_model_path or prepare_generator_model(settings.cache_dir)
        return LocalGenerator.from_settings(settings, path)
    except ModelUnavailableError as exc:
        logger.warning("local generator unavailable, answers use the extractive fallback: %s", exc)
        return None
