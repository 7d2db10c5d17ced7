"""Every error is JSON with a message: ``{"detail", "errors"?}``, and under /v1 OpenAI's
``{"error": {...}}``, which its clients show. The handlers turn FastAPI's and the service's
exceptions into these; the middlewares build them with ``error_response``."""
from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from service.api.schemas import UNION_TAGS, ErrorResponse, FieldError, OpenAIError, OpenAIErrorResponse
from service.query import QueryError

log = logging.getLogger("touyan.api")

# The error statuses an endpoint may answer besides its own, and why: the OpenAPI spec lists them.
# Any request: its body is read (whatever the method) before anything else.
ANY = {
    408: "the request body did not arrive in time (TOUYAN_BODY_TIMEOUT)",
    413: "the request body is too large",
}
# Any but the open paths (service/api/security.py).
GUARDED = ANY | {401: "no API key, or a wrong one (only when the server has TOUYAN_API_KEY set)"}
# What reads the index: nothing to read while a server's first build runs.
BUILDING = {503: "the server's first index build is still running (Retry-After; the message says how far it is)"}
# A request with a JSON body that encodes a question.
QUESTION = GUARDED | {
    400: "the body is empty, not UTF-8 or not valid JSON",
    415: "the body was not sent as Content-Type: application/json",
    422: "a field is missing, of the wrong type, out of range or unknown",
    503: "the server is at capacity, or its first index build is still running (retry after the Retry-After seconds), or an index file is damaged (the message names it)",
}
# A question with filters: a case_id may name no case.
FILTERED = QUESTION | {404: "case_id or report names no case or report (GET /cases, GET /reports list them)"}


def responses(statuses: Mapping[int, str], openai: bool = False) -> dict[int | str, dict]:
    """OpenAPI ``responses`` for these error statuses, with the error body of the path's shape."""
    model = OpenAIErrorResponse if openai else ErrorResponse
    return {status: {"model": model, "description": why} for status, why in sorted(statuses.items())}


def is_openai(path: str) -> bool:
    """Under /v1 errors take OpenAI's shape."""
    return path.startswith("/v1/")


def error_response(
    path: str, status: int, message: str, errors: list[FieldError] | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    if is_openai(path):
        param = ".".join(map(str, errors[0].loc)) if errors else ""
        kind = "invalid_request_error" if status < 500 else "server_error"
        body = OpenAIErrorResponse(error=OpenAIError(message=message, type=kind, param=param or None)).model_dump()
    else:
        body = ErrorResponse(detail=message, errors=errors).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """Broken JSON is a 400; a body of the wrong shape is a 422 naming each bad field."""
    errors = exc.errors()
    broken = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if broken is not None:
        reason = broken.get("ctx", {}).get("error", "")
        return error_response(request.url.path, 400, f"request body is not valid JSON: {reason}".rstrip(": "))
    fields = [
        FieldError(loc=_field_path(e.get("loc", ())), msg=str(e.get("msg", "")).removeprefix("Value error, "), type=str(e.get("type", "")))
        for e in errors
    ]
    # OpenAI's clients show the message alone ("Error code: 422 - …"): there, an error of the whole body has no prefix.
    whole = "" if is_openai(request.url.path) else "body: "
    detail = "; ".join(f"{'.'.join(map(str, f.loc))}: {f.msg}" if f.loc else f"{whole}{f.msg}" for f in fields)
    return error_response(request.url.path, 422, detail or "invalid request", fields)


def _field_path(loc: tuple) -> list[str]:
    """A field's path in the body: without FastAPI's leading "body", nor the tag pydantic inserts after
    an item of a tagged union (messages.0.user.content is the client's messages.0.content)."""
    parts = list(loc[1:] if loc[:1] == ("body",) else loc)
    return [str(p) for i, p in enumerate(parts) if not (i > 0 and isinstance(parts[i - 1], int) and isinstance(p, str) and i + 1 < len(parts) and p in UNION_TAGS)]


async def query_error(request: Request, exc: QueryError) -> JSONResponse:
    """A question the engine refuses (blank, too long, not valid Unicode) wherever it was found."""
    return error_response(request.url.path, 422, str(exc))


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    headers = exc.headers
    if exc.status_code == 405:  # Starlette names only the first route of the path; a path may have several
        methods = sorted({m for route in request.app.routes if route.matches(request.scope)[0] != Match.NONE for m in getattr(route, "methods", None) or ()})
        headers = {**(headers or {}), "Allow": ", ".join(methods)}
        message = f"method {request.method} is not allowed here; use {' or '.join(methods)}"
        return error_response(request.url.path, 405, message, headers=headers)
    return error_response(request.url.path, exc.status_code, str(exc.detail), headers=headers)


async def index_corrupt(request: Request, exc: Exception) -> JSONResponse:
    """A build file found damaged while answering (the token codes are read per query): the server's
    fault, not the client's; it keeps serving what it can and says which file and the remedy."""
    log.error("%s %s: %s", request.method, request.url.path, exc)
    return error_response(request.url.path, 503, f"the index is damaged: {exc}")


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(request.url.path, 500, "internal error; the server keeps serving")
