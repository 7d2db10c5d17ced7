"""The FastAPI application: routers, the chat page, and errors that are always JSON 4xx with a message
(in OpenAI's shape under /v1)."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.answer import Answerer, ExtractiveAnswerer
from service.api.routers import ask, chat, health, search
from service.api.schemas import ErrorResponse, FieldError, OpenAIError, OpenAIErrorResponse
from service.live import LiveIndex
from service.llm import LLMAnswerer
from service.search import Searcher
from touyan.settings import Settings

log = logging.getLogger("touyan.api")

MAX_BODY_BYTES = 64 * 1024
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"


def create_app(settings: Settings, searcher: Searcher, answerer: Answerer | None = None) -> FastAPI:
    """The app over a loaded Searcher, moved to each new build of its index (service/live.py);
    the answerer defaults to what the settings ask for."""
    app = FastAPI(
        title="Touyan (头雁)",
        description="Chinese semantic search and question answering over 《头雁先飞——杭州精品改革案例智库报告》.",
        version="0.1.0",
    )
    app.state.settings = settings
    app.state.live = LiveIndex(settings, searcher, (lambda _: answerer) if answerer else (lambda s: make_answerer(settings, s)))

    for module in (health, search, ask, chat):
        app.include_router(module.router)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)

    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        page = STATIC_DIR / "index.html"
        if not page.is_file():
            raise StarletteHTTPException(404, "the chat page is not installed (service/static/index.html)")
        return FileResponse(page)

    return app


def make_answerer(settings: Settings, searcher: Searcher) -> Answerer:
    """Extractive by default; a generated answer when an LLM endpoint and model are configured."""
    extractive = ExtractiveAnswerer.for_settings(settings, searcher)
    if settings.llm_base_url and settings.llm_model:
        return LLMAnswerer(settings.llm_base_url, settings.llm_model, extractive, settings.llm_api_key, settings.llm_timeout)
    return extractive


class BodySizeLimit:
    """Answers 413 to request bodies over ``max_bytes``, whether declared by Content-Length or streamed.

    The body is read here (it is small by definition) and replayed to the app.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"request body is larger than {self.max_bytes // 1024} KB"
        await error_response(scope["path"], 413, detail)(scope, receive, send)


def error_response(
    path: str, status: int, message: str, errors: list[FieldError] | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """Every error body: ``{"detail", "errors"?}``, or under /v1 OpenAI's ``{"error": {...}}``, which its clients read."""
    if _openai(path):
        param = ".".join(map(str, errors[0].loc)) if errors else ""
        kind = "invalid_request_error" if status < 500 else "server_error"
        body = OpenAIErrorResponse(error=OpenAIError(message=message, type=kind, param=param or None)).model_dump()
    else:
        body = ErrorResponse(detail=message, errors=errors).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """Broken JSON is a 400; a body of the wrong shape is a 422 naming each bad field."""
    errors = exc.errors()
    broken = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if broken is not None:
        reason = broken.get("ctx", {}).get("error", "")
        return error_response(request.url.path, 400, f"request body is not valid JSON: {reason}".rstrip(": "))
    fields = [
        FieldError(loc=[str(p) for p in e.get("loc", ()) if p != "body"], msg=str(e.get("msg", "")).removeprefix("Value error, "), type=str(e.get("type", "")))
        for e in errors
    ]
    # OpenAI's clients show the message alone ("Error code: 422 - …"): there, an error of the whole body has no prefix.
    whole = "" if _openai(request.url.path) else "body: "
    detail = "; ".join(f"{'.'.join(map(str, f.loc))}: {f.msg}" if f.loc else f"{whole}{f.msg}" for f in fields)
    return error_response(request.url.path, 422, detail or "invalid request", fields)


def _openai(path: str) -> bool:
    """Under /v1 errors take OpenAI's shape."""
    return path.startswith("/v1/")


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return error_response(request.url.path, exc.status_code, str(exc.detail), headers=exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(request.url.path, 500, "internal error; the server keeps serving")

