"""Liveness with what is loaded, and the list of cases (for case_id filters)."""
from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import AnswererDep, SearcherDep, SettingsDep
from service.api.errors import ANY, BUILDING, GUARDED, responses
from service.api.schemas import CasesResponse, HealthResponse, ReportsResponse, ReportSummary

router = APIRouter(tags=["meta"])


@router.get("/health", response_model=HealthResponse, responses=responses(ANY | BUILDING))
async def health(searcher: SearcherDep, answerer: AnswererDep, settings: SettingsDep) -> HealthResponse:
    return HealthResponse(
        auth=bool(settings.api_keys),
        cases=len(searcher.cases),
        chunks=searcher.chunk_count,
        embedder=searcher.embedder_name,
        sparse=searcher.tokens.name if searcher.tokens else None,
        answerer=type(answerer).__name__,
    )


@router.get("/reports", response_model=ReportsResponse, responses=responses(GUARDED | BUILDING))
async def reports(searcher: SearcherDep) -> ReportsResponse:
    cases = [c.report for c in searcher.cases]
    return ReportsResponse(reports=[
        ReportSummary(id=r.id, title=r.title, documents=len(r.sources), cases=cases.count(r.id))
        for r in searcher.stored.reports if r.id in searcher.reports
    ])


@router.get("/cases", response_model=CasesResponse, responses=responses(GUARDED | BUILDING))
async def cases(searcher: SearcherDep) -> CasesResponse:
    return CasesResponse.model_validate({"cases": [c.summary() for c in searcher.cases]})
