"""What the routers share: the objects create_app put on ``app.state``, typed as dependencies,
the checks of a request's filters, and the route class that insists on a JSON body.

The dependencies are ``async`` only so FastAPI runs them on the event loop instead of a worker thread each.
"""
from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute

from service.answer import Answerer
from service.search import Searcher
from touyan.settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_live(request: Request) -> tuple[Searcher, Answerer]:
    """The searcher and answerer of the index's live build, one pair for the whole request
    (FastAPI resolves a dependency once per request); a new build is loaded off the event loop."""
    live = request.app.state.live
    if live.pair is None:  # the server's first build is still running
        raise HTTPException(503, f"the index is being built ({live.progress}); retry shortly", headers={"Retry-After": "5"})
    if live.stale():
        await run_in_threadpool(live.refresh)
    return live.pair


async def get_searcher(live: Annotated[tuple[Searcher, Answerer], Depends(get_live)]) -> Searcher:
    return live[0]


async def get_answerer(live: Annotated[tuple[Searcher, Answerer], Depends(get_live)]) -> Answerer:
    return live[1]


SettingsDep = Annotated[Settings, Depends(get_settings)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]
AnswererDep = Annotated[Answerer, Depends(get_answerer)]


def check_case(searcher: Searcher, case_id: str | None) -> None:
    """An unknown case id names a case that does not exist (404), which is not an empty result."""
    if case_id is not None and not searcher.has_case(case_id):
        raise HTTPException(404, f"unknown case_id {case_id!r}; GET /cases lists the case ids")


def check_report(searcher: Searcher, report: str | None) -> None:
    if report is not None and report not in searcher.reports:
        raise HTTPException(404, f"unknown report {report!r}; GET /reports lists the reports")


class JsonBodyRoute(APIRoute):
    """A route whose body must be UTF-8 JSON, checked before FastAPI parses it: FastAPI would
    report a non-JSON or empty body as one of the wrong shape (422) and bad UTF-8 as a vague 400."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def checked(request: Request) -> Response:
            check_json_body(request.headers.get("content-type", ""), await request.body())
            return await handler(request)

        return checked


def check_json_body(content_type: str, body: bytes) -> None:
    if not body:
        raise HTTPException(400, "the request body is empty; send a JSON object")
    media = content_type.split(";")[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise HTTPException(415, f"the request body must be JSON (Content-Type: application/json); got {media or 'no Content-Type'}")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(400, "the request body is not valid UTF-8 JSON") from None
