"""Passage search: the ranked passages for a query, each with its case and page."""
from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException

from index.store import IndexCorrupt
from service.api.deps import AnswererDep, JsonBodyRoute, SearcherDep, SettingsDep, check_case, check_report
from service.api.errors import FILTERED, responses
from service.api.schemas import SearchRequest, SearchResponse, SearchResult

router = APIRouter(tags=["search"], route_class=JsonBodyRoute)


@router.post("/search", response_model=SearchResponse, responses=responses(FILTERED))
def search(body: SearchRequest, searcher: SearcherDep, answerer: AnswererDep, settings: SettingsDep) -> SearchResponse:
    start = time.perf_counter()
    check_case(searcher, body.case_id)
    check_report(searcher, body.report)
    try:
        hits = searcher.search(body.query, body.top_k or settings.top_k, case_id=body.case_id, page=body.page, retriever=body.retriever, report=body.report)
    except IndexCorrupt:  # a ValueError too, but the server's fault: a 503 naming the file (service/api/errors.py)
        raise
    except ValueError as e:  # a retriever this index cannot serve, e.g. sparse on one built with TOUYAN_SPARSE=none
        raise HTTPException(422, str(e)) from None
    if body.rerank and body.retriever is None:  # one retriever's own order is what asking for it wants to see
        hits = answerer.rerank(body.query, hits)
    return SearchResponse(
        query=body.query,
        took_ms=round((time.perf_counter() - start) * 1000, 2),
        results=[SearchResult.from_hit(h) for h in hits],
    )
