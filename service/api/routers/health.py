"""Liveness with what is loaded, and the list of cases (for case_id filters)."""
from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import AnswererDep, SearcherDep
from service.api.schemas import CasesResponse, HealthResponse

router = APIRouter(tags=["meta"])


@router.get("/health", response_model=HealthResponse)
def health(searcher: SearcherDep, answerer: AnswererDep) -> HealthResponse:
    return HealthResponse(
        cases=len(searcher.cases),
        chunks=searcher.chunk_count,
        embedder=searcher.embedder_name,
        sparse=searcher.tokens.name if searcher.tokens else None,
        answerer=type(answerer).__name__,
    )


@router.get("/cases", response_model=CasesResponse)
def cases(searcher: SearcherDep) -> CasesResponse:
    return CasesResponse.model_validate({"cases": [c.summary() for c in searcher.cases]})
