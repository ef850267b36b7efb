"""The OpenAI chat-completions wire format: request and response bodies, stream chunks, error bodies.

Plain clients (Open WebUI, LibreChat, any OpenAI SDK) read only `content`, so the text carries the
[n] markers and ends with a short source list; clients that know read the verified citations, with
their offsets, from the extra `citations` field.
"""

from __future__ import annotations

import secrets
import time
from typing import Literal

from fastapi import HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from api.schemas import CitationOut
from rag.answer_types import Answer, Citation, Turn
from rag.errors import InvalidInputError
from rag.followup import MAX_TURNS

MODEL_ID = "rag"
PREFIX = "/v1"
SOURCES_HEADING = "Sources:"  # opens the source list that ends every answer's text
_CLOSEST_HEADING = {"fr": "Passages les plus proches :", "en": "Closest passages:"}
_QUOTES = {"fr": ("« ", " »"), "en": ("“", "”")}
_ALSO = {"fr": "aussi publié par", "en": "also reported by"}
_SNIPPET_CHARS = 200
# OpenAI's error `type` and default `code` per status; the SDKs pick their exception class by status.
_ERROR_KINDS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "forbidden"),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "request_too_large"),
    415: ("invalid_request_error", "unsupported_media_type"),
    500: ("server_error", "internal_error"),
    503: ("server_error", "service_unavailable"),
}


class ModelNotFound(HTTPException):
    """A request for a model this server does not serve (OpenAI answers 404 `model_not_found`)."""

    code = "model_not_found"

    def __init__(self, model: str) -> None:
        shown = model if len(model) <= 100 else model[:100] + "…"
        super().__init__(
            status.HTTP_404_NOT_FOUND, detail=f"the model {shown!r} does not exist: this server serves {MODEL_ID!r}"
        )


class _Lenient(BaseModel):
    # Clients send many options we do not use (temperature, top_p, user, stream_options, tools...).
    model_config = ConfigDict(extra="ignore")


class ContentPart(_Lenient):
    """One part of a message's content; only `text` parts are read."""

    type: str
    text: str | None = None


class ChatMessage(_Lenient):
    """A message of the conversation; system and tool messages are ignored."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class ChatCompletionRequest(_Lenient):
    """`POST /v1/chat/completions`: the last message is the question, the earlier ones its history."""

    model: str = Field(description=f"Must be `{MODEL_ID}`, the one model of `GET /v1/models`.")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    """A whole answer: its text with [n] markers and a source list, and the verified citations."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = MODEL_ID
    choices: list[Choice]
    citations: list[CitationOut] = Field(
        description="The answer's verified citations: `snippet == GET /documents/{doc_id} .text[start:end]`."
    )
    usage: None = None


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One `data:` line of the stream; the last one (`finish_reason: "stop"`) carries the citations."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str = MODEL_ID
    choices: list[ChunkChoice]
    citations: list[CitationOut] | None = None


class Model(BaseModel):
    id: str = MODEL_ID
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "rag"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


def conversation_of(request: ChatCompletionRequest) -> tuple[str, list[Turn]]:
    """The question (the last message, which must be the user's) and the earlier user and assistant
    messages as turns, the last `MAX_TURNS` of them; source lists are cut from the answers."""
    last = request.messages[-1]
    if last.role != "user":
        raise InvalidInputError(f"the last message must be the user's question, not a {last.role} message")
    turns: list[Turn] = []
    asked: str | None = None
    for message in request.messages[:-1]:
        if message.role == "user":
            if asked is not None:
                turns.append(Turn(asked, ""))
            asked = text_of(message)
        elif message.role == "assistant" and asked is not None:
            turns.append(Turn(asked, _without_sources(text_of(message))))
            asked = None
    if asked is not None:
        turns.append(Turn(asked, ""))
    return text_of(last), turns[-MAX_TURNS:]


def text_of(message: ChatMessage) -> str:
    """A message's text: the string, or its text parts joined; other parts (images, files) are refused."""
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    other = sorted({part.type for part in message.content if part.type != "text"})
    if other:
        raise InvalidInputError(f"only text content is read; this message has {', '.join(other)} parts")
    return "\n".join(part.text or "" for part in message.content)


def _without_sources(text: str) -> str:
    """An earlier answer of ours without the source list `answer_text` appended to it."""
    for heading in (SOURCES_HEADING, *_CLOSEST_HEADING.values()):
        text = text.split(f"\n\n{heading}\n", 1)[0]
    return text


def answer_text(answer: Answer) -> str:
    """The answer as plain clients show it: the text, then its sources (or, for a refusal, the closest passages)."""
    listed = answer.related if answer.abstained else answer.citations
    if not listed:
        return answer.answer
    heading = _CLOSEST_HEADING[answer.language] if answer.abstained else SOURCES_HEADING
    lines = [_source_line(citation, answer.language) for citation in listed]
    return f"{answer.answer}\n\n{heading}\n" + "\n".join(lines)


def _source_line(citation: Citation, language: str) -> str:
    """`[n] Title — Outlet, date: « snippet »`, the outlet and date when the article gives them."""
    about = ", ".join(value for value in (citation.source, citation.date) if value)
    snippet = citation.snippet
    if len(snippet) > _SNIPPET_CHARS:
        snippet = snippet[:_SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"
    opening, closing = _QUOTES.get(language, _QUOTES["en"])
    line = f"[{citation.id}] {citation.title}{' — ' + about if about else ''}: {opening}{snippet}{closing}"
    if citation.also_reported_by:
        outlets = "; ".join(copy.source or copy.title for copy in citation.also_reported_by)
        line += f" ({_ALSO.get(language, _ALSO['en'])} {outlets})"
    return line


def completion_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"


def now() -> int:
    return int(time.time())


def citations_of(answer: Answer) -> list[CitationOut]:
    """The answer's verified citations on the wire (none for a refusal)."""
    return [CitationOut.model_validate(citation, from_attributes=True) for citation in answer.citations]


def error_body(http_status: int, message: str, code: str | None = None, param: str | None = None) -> dict[str, object]:
    """OpenAI's error shape: `{"error": {"message", "type", "param", "code"}}`."""
    server = http_status >= 500
    fallback = ("server_error", "internal_error") if server else ("invalid_request_error", "invalid_request")
    kind, default_code = _ERROR_KINDS.get(http_status, fallback)
    return {"error": {"message": message, "type": kind, "param": param, "code": code or default_code}}


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str


class ErrorOut(BaseModel):
    """The error shape of every `/v1` route, as OpenAI's."""

    error: ErrorDetail
