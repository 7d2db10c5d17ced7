"""Question answering: an answer quoting the passages, with [n] citations, and the passages."""
from __future__ import annotations

import time

from fastapi import APIRouter

from service.answer import Answer, Answerer
from service.api.deps import AnswererDep, SearcherDep, SettingsDep, check_case
from service.api.schemas import AskRequest, AskResponse, ErrorResponse
from service.search import Hit, Searcher

router = APIRouter(tags=["ask"])


def answer_question(
    searcher: Searcher,
    answerer: Answerer,
    question: str,
    top_k: int,
    case_id: str | None = None,
    page: int | None = None,
) -> tuple[list[Hit], Answer]:
    """Retrieve, then answer from what was retrieved; shared by /ask and the chat endpoint."""
    check_case(searcher, case_id)
    hits = searcher.search(question, top_k, case_id=case_id, page=page)
    return hits, answerer.run(question, hits)


@router.post("/ask", response_model=AskResponse, responses={422: {"model": ErrorResponse}})
def ask(body: AskRequest, searcher: SearcherDep, answerer: AnswererDep, settings: SettingsDep) -> AskResponse:
    start = time.perf_counter()
    hits, answer = answer_question(searcher, answerer, body.question, body.top_k or settings.top_k, body.case_id, body.page)
    return AskResponse.build(body.question, answer, hits, round((time.perf_counter() - start) * 1000, 2))
