"""OpenAI-compatible chat: existing chat front ends and the official client work unchanged.

The conversation is resolved to one standalone question (service.chat), answered from
the passages, and returned as an assistant message that cites [n] and lists its sources;
the citations also ride along as an extra ``citations`` field. ``stream: true`` sends the
same reply as server-sent ``chat.completion.chunk`` events ending in ``data: [DONE]``.
"""
from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse

from service.api.deps import AnswererDep, JsonBodyRoute, SearcherDep, SettingsDep
from service.api.routers.ask import answer_question
from service.api.errors import FILTERED, GUARDED, responses
from service.api.schemas import (
    MODEL_ID,
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatReply,
    ChatRequest,
    ChunkChoice,
    ChunkDelta,
    CitationOut,
    ModelCard,
    ModelList,
    SearchResult,
    TouyanExtra,
    Usage,
)
from service.chat import format_reply, standalone_question
from service.cues import is_latin

router = APIRouter(prefix="/v1", tags=["openai"], route_class=JsonBodyRoute)

# Stream a sentence (with its [n] marks) or a line at a time.
PIECE = re.compile(r"[^。！？\n]*(?:[。！？]+(?:\[\d+\])*|\n+)|[^。！？\n]+")
STARTED = int(time.time())


@router.get("/models", response_model=ModelList, responses=responses(GUARDED, openai=True))
def models() -> ModelList:
    return ModelList(data=[ModelCard(created=STARTED)])


@router.get("/models/{model}", response_model=ModelCard, responses=responses({**GUARDED, 404: "no model of that id"}, openai=True))
def model(model: str) -> ModelCard:
    if model != MODEL_ID:
        raise HTTPException(404, f"the model {model!r} does not exist; this server serves {MODEL_ID!r}")
    return ModelCard(created=STARTED)


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={200: {"content": {"text/event-stream": {}}}, **responses(FILTERED, openai=True)},
)
def chat_completions(body: ChatRequest, searcher: SearcherDep, answerer: AnswererDep, settings: SettingsDep):
    turns = body.turns()
    question = standalone_question(turns)
    hits, answer = answer_question(searcher, answerer, question, body.top_k or settings.top_k, report=body.report)
    content = format_reply(answer, english=is_latin(question))
    citations = [CitationOut.from_citation(c) for c in answer.citations]
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    prompt_chars = sum(len(text) for _, text in turns)
    usage = Usage(prompt_tokens=prompt_chars, completion_tokens=len(content), total_tokens=prompt_chars + len(content))
    extra = TouyanExtra(
        question=question,
        found=answer.found,
        confidence=answer.confidence,
        mode=answer.mode,
        note=answer.note,
        results=[SearchResult.from_hit(h) for h in hits],
    )
    if body.stream:
        wants_usage = body.stream_options is not None and body.stream_options.include_usage
        return StreamingResponse(
            _events(completion_id, created, content, citations, extra, usage if wants_usage else None),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    return ChatCompletion(
        id=completion_id,
        created=created,
        choices=[ChatChoice(message=ChatReply(content=content))],
        usage=usage,
        citations=citations,
        touyan=extra,
    )


def _events(completion_id: str, created: int, content: str, citations: list[CitationOut], extra: TouyanExtra, usage: Usage | None) -> Iterator[str]:
    """Role first, then the reply piece by piece, then an empty delta with finish_reason, the citations
    and what retrieval saw (``touyan``), then (when asked, as OpenAI does) a chunk with no choices and the usage."""

    def event(choices: list[ChunkChoice], **extra) -> str:
        chunk = ChatCompletionChunk(id=completion_id, created=created, choices=choices, **extra).model_dump(mode="json")
        # Absent, not null, what a chunk does not carry (OpenAI's shape); the citations and passages keep their nulls.
        for choice in chunk["choices"]:
            choice["delta"] = {k: v for k, v in choice["delta"].items() if v is not None}
            if choice["finish_reason"] is None:
                del choice["finish_reason"]
        return f"data: {json.dumps({k: v for k, v in chunk.items() if v is not None}, ensure_ascii=False)}\n\n"

    yield event([ChunkChoice(delta=ChunkDelta(role="assistant", content=""))])
    for piece in PIECE.findall(content):
        yield event([ChunkChoice(delta=ChunkDelta(content=piece))])
    yield event([ChunkChoice(delta=ChunkDelta(), finish_reason="stop")], citations=citations, touyan=extra)
    if usage is not None:
        yield event([], usage=usage)
    yield "data: [DONE]\n\n"
