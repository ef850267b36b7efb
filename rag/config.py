"""One settings object, read from `RAG_*` environment variables (every field is in the README)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

GeneratorName = Literal["local", "openai", "extractive"]
StoreName = Literal["local", "milvus"]
_MILVUS_COLLECTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "rag"


class Settings(BaseSettings):
    """Runtime configuration. Construct it once at an edge (CLI, API) and hand it down."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    index_dir: Path = Field(Path("index"), description="Directory holding the on-disk index.")
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Where provisioned models live (outside the repository).",
    )
    embedding_model: str | None = Field(
        None,
        description="Sentence-transformers model folder (exported to ONNX by `rag models prepare`); unset: e5-small.",
    )
    generator: GeneratorName = Field("local", description="Answer generator: local, openai or extractive.")
    generator_model_path: Path | None = Field(
        None, description="GGUF file for the local generator; unset uses the provisioned Qwen2.5 1.5B."
    )
    openai_base_url: str = Field(
        "http://127.0.0.1:8080/v1", description="Base URL of an OpenAI-compatible chat-completions server."
    )
    openai_model: str = Field("local", description="Model name sent to the OpenAI-compatible server.")
    openai_api_key: str = Field("", description="API key for the OpenAI-compatible server (may be empty).")
    generation_timeout_s: float = Field(60.0, gt=0, description="Upper bound on one generation call.")
    max_answer_tokens: int = Field(160, ge=16, le=1024, description="Upper bound on generated tokens.")
    threads: int = Field(2, ge=1, description="CPU threads the local generator reads its prompt with.")
    decode_threads: int = Field(1, ge=1, description="CPU threads the local generator writes tokens with.")
    host: str = Field("127.0.0.1", description="Address the API listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the API listens on.")
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (JSON list); empty disables CORS."
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host headers the API answers (JSON list, against DNS rebinding); empty derives them from host.",
    )
    max_waiting_answers: int = Field(
        4, ge=0, description="Answers that may wait for the model while it writes one; one more gets 503."
    )
    max_write_texts: int = Field(
        1000, ge=1, description="Passages and sentences one POST /documents may embed (about 150 KB of article "
        "text); a larger one gets 413: split it, or index it with `rag index`, which has no bound."
    )
    request_body_timeout_s: float = Field(
        30.0, gt=0, description="Upper bound on receiving one request body; a slower client gets 408."
    )
    api_key: str | None = Field(
        None, description="When set, document-changing endpoints require `Authorization: Bearer <key>`."
    )
    api_key_for_ask: bool = Field(
        False, description="Also require the API key for /ask, /search and reading documents."
    )
    store: StoreName = Field(
        "local", description="Where chunks are searched: local (the index directory) or milvus (RAG_MILVUS_URI)."
    )
    milvus_uri: str | None = Field(
        None, description="With RAG_STORE=milvus: `http(s)://host:19530` (a Milvus server or cluster) or a Milvus "
        "Lite file ending in `.db`; unset: `milvus.db` in the index directory (Milvus Lite)."
    )
    milvus_token: str | None = Field(None, description="Milvus credentials (`user:password` or an API key), if any.")
    milvus_collection: str | None = Field(
        None, description="Milvus collection holding the index's chunks; unset: one named after the index directory."
    )

    @field_validator("api_key")
    @classmethod
    def _api_key_not_blank(cls, value: str | None) -> str | None:
        """`RAG_API_KEY=` must not quietly leave the write endpoints open."""
        if value is not None and not value.strip():
            raise PydanticCustomError(
                "api_key_empty", "set but empty: unset it to run without a key, or give it a key"
            )
        return value

    @field_validator("milvus_uri")
    @classmethod
    def _milvus_uri_usable(cls, value: str | None) -> str | None:
        """Catch a URI pymilvus would misread (a typo'd scheme, a Lite path without `.db`) before connecting."""
        if value is not None and not (value.startswith(("http://", "https://")) or value.endswith(".db")):
            raise PydanticCustomError(
                "milvus_uri", "use http(s)://host:port for a Milvus server, or a Milvus Lite file ending in .db"
            )
        return value

    @field_validator("milvus_token")
    @classmethod
    def _milvus_token_not_blank(cls, value: str | None) -> str | None:
        """`RAG_MILVUS_TOKEN=` is a mistake, not a way to say "no credentials"."""
        if value is not None and not value.strip():
            raise PydanticCustomError("milvus_token_empty", "set but empty: unset it to connect without credentials")
        return value

    @field_validator("milvus_collection")
    @classmethod
    def _milvus_collection_name(cls, value: str | None) -> str | None:
        """Milvus accepts only these names; say so before it does, with the value."""
        if value is not None and not _MILVUS_COLLECTION.fullmatch(value):
            raise PydanticCustomError(
                "milvus_collection", "{value!r}: use letters, digits and '_', not starting with a digit",
                {"value": value},
            )
        return value
