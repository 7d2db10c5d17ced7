"""Question answering: an answer quoting the passages, with [n] citations, and the passages."""
from __future__ import annotations

import time
from dataclasses import replace

from fastapi import APIRouter

from service.answer import Answer, Answerer
from service.api.deps import AnswererDep, JsonBodyRoute, SearcherDep, SettingsDep, check_case, check_report
from service.api.errors import FILTERED, responses
from service.api.schemas import AskRequest, AskResponse
from service.question import parts
from service.search import Hit, Searcher

# How many of its own best passages each part of a two-part question adds.
PART_PASSAGES = 3

router = APIRouter(tags=["ask"], route_class=JsonBodyRoute)


def answer_question(
    searcher: Searcher,
    answerer: Answerer,
    question: str,
    top_k: int,
    case_id: str | None = None,
    page: int | None = None,
    report: str | None = None,
) -> tuple[list[Hit], Answer]:
    """Retrieve, then answer from what was retrieved; shared by /ask and the chat endpoint."""
    check_case(searcher, case_id)
    check_report(searcher, report)
    hits = retrieve(searcher, answerer, question, top_k, case_id=case_id, page=page, report=report)
    if not hits and (case_id is not None or page is not None or report is not None):
        return hits, Answer(no_passage_text(searcher, case_id, page, report), found=False, confidence=0.0)
    return hits, answerer.run(question, hits)


def retrieve(searcher: Searcher, answerer: Answerer, question: str, top_k: int, **filters) -> list[Hit]:
    """The passages an answer is made from: the search, re-ranked by the answerer, with each part's
    own passages for a question asking two things; eval/fit_answerability.py fits on the same."""
    hits = answerer.rerank(question, searcher.search(question, top_k, **filters))
    return with_parts(searcher, question, hits, **filters)


def with_parts(searcher: Searcher, question: str, hits: list[Hit], **filters) -> list[Hit]:
    """For a question asking two things in turn (service/question.py ``parts``), each part's own
    best passages after the question's, so each part can be quoted: the question as a whole finds
    the passages of the part with more words."""
    asked = parts(question)
    if len(asked) < 2:
        return hits
    seen = {h.chunk.id for h in hits}
    extra = []
    for part in asked:
        for h in searcher.search(part, PART_PASSAGES, **filters):
            if h.chunk.id not in seen:
                seen.add(h.chunk.id)
                extra.append(h)
    return hits + [replace(h, rank=len(hits) + n) for n, h in enumerate(extra, 1)]


def no_passage_text(searcher: Searcher, case_id: str | None, page: int | None, report: str | None = None) -> str:
    """When the filters leave no passage, say so: “the report has nothing on it” would blame the report."""
    filters = [f"案例《{c.title}》（case_id {c.id}）" for c in searcher.cases if c.id == case_id]
    if page is not None:
        filters.append(f"第{page}版")
    if report is not None:
        filters.append(f"报告 {report}")
    return f"没有符合筛选条件（{'、'.join(filters)}）的段落；请放宽或去掉筛选条件。"


@router.post("/ask", response_model=AskResponse, responses=responses(FILTERED))
def ask(body: AskRequest, searcher: SearcherDep, answerer: AnswererDep, settings: SettingsDep) -> AskResponse:
    start = time.perf_counter()
    hits, answer = answer_question(searcher, answerer, body.question, body.top_k or settings.top_k, body.case_id, body.page, body.report)
    return AskResponse.build(body.question, answer, hits, round((time.perf_counter() - start) * 1000, 2))
