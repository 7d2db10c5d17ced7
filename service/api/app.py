"""The FastAPI application: routers, the chat page, the guards every request passes, and errors
that are always JSON 4xx with a message (in OpenAI's shape under /v1)."""
from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.answer import Answerer, ExtractiveAnswerer
from service.api import errors
from service.api.limits import Admission, BodyLimit
from service.api.routers import ask, chat, docs, documents, health, search
from service.api.security import ApiKeys, SecurityHeaders, is_open
from service.documents import DocumentStore
from service.live import LiveIndex
from service.llm import LLMAnswerer
from index.store import IndexCorrupt
from service.query import QueryError
from service.search import Searcher
from touyan.settings import Settings

log = logging.getLogger("touyan.api")

MAX_BODY_BYTES = 64 * 1024
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
# The requests that encode a question: they wait their turn in the admission queue.
QUEUED_PATHS = ("/search", "/ask", "/v1/chat/completions")


def create_app(settings: Settings, searcher: Searcher | None, answerer: Answerer | None = None) -> FastAPI:
    """The app over a loaded Searcher, moved to each new build of its index (service/live.py);
    the answerer defaults to what the settings ask for. Without a searcher yet (a first build
    running), requests that need one get 503 until ``app.state.live.install`` gives it."""
    app = FastAPI(
        title="Touyan (头雁)",
        description="Chinese semantic search and question answering over 《头雁先飞——杭州精品改革案例智库报告》.",
        version="0.1.0",
        docs_url=None,  # served from packaged assets instead of a CDN (routers/docs.py)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.live = LiveIndex(settings, searcher, (lambda _: answerer) if answerer else (lambda s: make_answerer(settings, s)))

    app.state.documents = DocumentStore(settings, searcher=lambda: app.state.live.pair and app.state.live.pair[0], hide=app.state.live.hide)

    for module in (health, search, ask, chat, documents, docs):
        app.include_router(module.router)
    app.add_exception_handler(RequestValidationError, errors.validation_error)
    app.add_exception_handler(QueryError, errors.query_error)
    app.add_exception_handler(IndexCorrupt, errors.index_corrupt)
    app.add_exception_handler(StarletteHTTPException, errors.http_error)
    app.add_exception_handler(Exception, errors.unexpected_error)
    # The last added runs first: headers on every answer, then CORS (its preflights need no
    # key), the key, the body, and last the queue, which only a complete, authorised request joins.
    app.add_middleware(Admission, active=settings.max_active, queue=settings.max_queue, paths=QUEUED_PATHS)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES, timeout=settings.body_timeout, larger={"/documents": int(settings.max_upload_mb * 2**20)})
    app.add_middleware(ApiKeys, keys=settings.api_keys)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origin_list, allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"], max_age=600,
        )
    app.add_middleware(SecurityHeaders)
    app.openapi = lambda: openapi(app, settings)

    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        page = STATIC_DIR / "index.html"
        if not page.is_file():
            raise StarletteHTTPException(404, "the chat page is not installed (service/static/index.html)")
        return FileResponse(page)

    return app


def openapi(app: FastAPI, settings: Settings) -> dict:
    """FastAPI's spec, with the bearer key every guarded operation needs when the server has keys."""
    if app.openapi_schema is None:
        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        if settings.api_keys:
            spec.setdefault("components", {})["securitySchemes"] = {"apiKey": {"type": "http", "scheme": "bearer"}}
            for path, operations in spec["paths"].items():
                for operation in operations.values():
                    operation["security"] = [] if is_open(path) else [{"apiKey": []}]
        app.openapi_schema = spec
    return app.openapi_schema


def make_answerer(settings: Settings, searcher: Searcher) -> Answerer:
    """Extractive by default; a generated answer when an LLM endpoint and model are configured."""
    extractive = ExtractiveAnswerer.for_settings(settings, searcher)
    if settings.llm_base_url and settings.llm_model:
        return LLMAnswerer(settings.llm_base_url, settings.llm_model, extractive, settings.llm_api_key, settings.llm_timeout)
    return extractive
