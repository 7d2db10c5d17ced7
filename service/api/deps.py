"""Request dependencies: the objects create_app put on ``app.state``, typed for the routers.

They are ``async`` only so FastAPI runs them on the event loop instead of a worker thread each.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from service.answer import Answerer
from service.search import Searcher
from touyan.settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_searcher(request: Request) -> Searcher:
    return request.app.state.searcher


async def get_answerer(request: Request) -> Answerer:
    return request.app.state.answerer


SettingsDep = Annotated[Settings, Depends(get_settings)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]
AnswererDep = Annotated[Answerer, Depends(get_answerer)]


def check_case(searcher: Searcher, case_id: str | None) -> None:
    """An unknown case id is the client's mistake (422), not an empty result."""
    if case_id is not None and not searcher.has_case(case_id):
        raise HTTPException(422, f"unknown case_id {case_id!r}; GET /cases lists the case ids")
