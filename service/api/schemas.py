"""Request and response models: the field names here are the public HTTP contract."""
from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from index.corpus import document_id
from service.answer import Answer, Citation
from service.query import MAX_QUERY_CHARS, MAX_TOP_K, RETRIEVERS, VISIBLE, QueryError, clean_query, valid_unicode
from service.search import Hit

MODEL_ID = "touyan"
# The rule clean_query applies, stated in the spec too (checked by clean_query, which says what is wrong).
QUESTION_RULE = {"minLength": 1, "maxLength": MAX_QUERY_CHARS, "pattern": VISIBLE.pattern}
QueryText = Annotated[
    str,
    Field(strict=True, json_schema_extra=QUESTION_RULE, description=f"1–{MAX_QUERY_CHARS} characters, not only whitespace, control or zero-width ones"),
    AfterValidator(clean_query),
]
def _whole(value):
    """JSON Schema counts 2.0 an integer; strict validation takes it as one, and nothing else that is not an int."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


TopK = Annotated[int, Field(strict=True, ge=1, le=MAX_TOP_K, description=f"how many passages, 1–{MAX_TOP_K} (default: TOUYAN_TOP_K, 5)"), BeforeValidator(_whole)]
Page = Annotated[int, Field(strict=True, ge=0, le=9999, description="only passages of this 版 (page) number"), BeforeValidator(_whole)]


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorResponse(BaseModel):
    detail: str = Field(description="what was wrong, in one line")
    errors: list[FieldError] | None = Field(default=None, description="each invalid field, for validation errors")


class OpenAIError(BaseModel):
    message: str
    type: Literal["invalid_request_error", "server_error"]
    param: str | None = Field(description="the first invalid field, for validation errors")
    code: None = None


class OpenAIErrorResponse(BaseModel):
    """The error body under /v1, in OpenAI's shape so its clients show the message."""

    error: OpenAIError


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"
    auth: bool = Field(description="whether the other endpoints need `Authorization: Bearer <key>` (TOUYAN_API_KEY)")
    cases: int
    chunks: int
    embedder: str
    sparse: str | None = Field(description="the e5 token encoder behind the sparse and late-interaction channels; null with TOUYAN_SPARSE=none")
    answerer: str


class SectionSummary(BaseModel):
    title: str
    kind: str


class CaseSummary(BaseModel):
    id: str
    title: str
    kind: str
    project: str | None
    page: int | None
    authors: list[str]
    source: str
    report: str
    sections: list[SectionSummary]


class CasesResponse(BaseModel):
    cases: list[CaseSummary]


class ReportSummary(BaseModel):
    id: str = Field(description="what `report` filters name")
    title: str
    documents: int = Field(description="files of the report in the index")
    cases: int


class ReportsResponse(BaseModel):
    reports: list[ReportSummary]


ReportId = Annotated[str, Field(strict=True, description="only passages of this report (GET /reports lists them)")]


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: QueryText
    top_k: TopK | None = None
    case_id: Annotated[str, Field(strict=True)] | None = None
    page: Page | None = None
    report: ReportId | None = None
    retriever: Literal[RETRIEVERS] | None = Field(default=None, description="one retriever instead of the server's (default TOUYAN_RETRIEVER, hybrid)")
    rerank: Annotated[bool, Field(strict=True)] = Field(
        default=True,
        description="re-order the first passages by whether one of their sentences states what was asked, as /ask does; false keeps the search's own order (one retriever's is always kept)",
    )


class SearchResult(BaseModel):
    rank: int
    chunk_id: str
    text: str
    score: float
    case_id: str
    case: str = Field(description="the case title")
    project: str | None
    page: int | None = Field(description="the 版 number, null for the preface")
    section: str
    section_kind: str
    source: str
    report: str = Field(description="the report the passage belongs to")
    pdf_page: int | None = Field(description="the page of its PDF the passage begins on (from 1); null for other files")
    page_label: str | None = Field(description="what that page prints as its name, e.g. 第33版")
    document_id: str | None = Field(description="the uploaded document it comes from (GET /documents/{id}/file); null for the bundled corpus")
    start: int = Field(description="where the passage begins in its source file")
    end: int = Field(description="where it ends (exclusive); the range also holds what lies between its paragraphs (blank lines, captions), so it is not `text`")
    dense: float | None = Field(description="cosine similarity of query and passage vectors")
    sparse: float | None = Field(description="cosine similarity of their learned sparse (e5 latent-term) vectors")
    late: float | None = Field(description="late interaction: mean over the query's tokens of their best cosine with the passage's tokens")
    bm25: float | None

    @classmethod
    def from_hit(cls, hit: Hit) -> SearchResult:
        c = hit.chunk
        return cls(
            rank=hit.rank,
            chunk_id=c.id,
            text=c.text,
            score=hit.score,
            case_id=c.case_id,
            case=c.case_title,
            project=c.project,
            page=c.page,
            section=c.section,
            section_kind=c.section_kind,
            source=c.source,
            report=c.report,
            pdf_page=c.pdf_page,
            page_label=c.page_label,
            document_id=document_id(c.source),
            start=c.start,
            end=c.end,
            dense=hit.dense,
            sparse=hit.sparse,
            late=hit.late,
            bm25=hit.bm25,
        )


class SearchResponse(BaseModel):
    query: str
    took_ms: float
    results: list[SearchResult]


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: QueryText
    top_k: TopK | None = None
    case_id: Annotated[str, Field(strict=True)] | None = None
    page: Page | None = None
    report: ReportId | None = None


class CitationOut(BaseModel):
    n: int
    chunk_id: str
    case_id: str
    case: str
    page: int | None
    section: str
    source: str
    quote: str = Field(description="the quoted sentence, verbatim")
    start: int = Field(description="start of the quote inside the passage text")
    end: int = Field(description="end of the quote inside the passage text (exclusive)")
    section_kind: str
    report: str
    pdf_page: int | None = Field(description="the PDF page the passage begins on, null for other files")
    page_label: str | None = Field(description="what that page prints as its name (第33版)")
    document_id: str | None = Field(description="the uploaded document: GET /documents/{id}/file opens it (a PDF at #page=N)")

    @classmethod
    def from_citation(cls, c: Citation) -> CitationOut:
        return cls(**asdict(c), document_id=document_id(c.source))


class AskResponse(BaseModel):
    question: str
    answer: str
    found: bool
    citations: list[CitationOut]
    results: list[SearchResult]
    confidence: float | None = Field(description="calibrated probability (0–1) that the report answers the question: the fitted answerability model's, or 1/0 where the report's structure decides (a question about the contents list, a part the case lacks); null without a model")
    support: float | None = Field(description="best cosine of the passages (sparse, or dense without a sparse index), one of the signals the answerability model weighs")
    mode: str = Field(description="extractive, or llm for a generated answer")
    note: str | None = Field(description="why a generated answer fell back to the extractive one")
    took_ms: float

    @classmethod
    def build(cls, question: str, answer: Answer, hits: list[Hit], took_ms: float) -> AskResponse:
        return cls(
            question=question,
            answer=answer.text,
            found=answer.found,
            citations=[CitationOut.from_citation(c) for c in answer.citations],
            results=[SearchResult.from_hit(h) for h in hits],
            confidence=answer.confidence,
            support=answer.support,
            mode=answer.mode,
            note=answer.note,
            took_ms=took_ms,
        )


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: Annotated[str, Field(strict=True), AfterValidator(valid_unicode)] | None = None


# OpenAI's message roles besides the user's; the answer reads the user's, the others are context it skips.
OtherRole = Literal["system", "developer", "assistant", "tool", "function"]
# Any message may become part of a question (a follow-up is rewritten with the one before it).
MessageText = Annotated[str, Field(strict=True), AfterValidator(valid_unicode)]
# A text part of a user message holding something to ask (the parts' texts are joined).
QUESTION_PART = {"type": "object", "properties": {"type": {"const": "text"}, "text": {"type": "string", **QUESTION_RULE}}, "required": ["type", "text"]}


class ChatMessage(BaseModel):
    """A message of any role but the user's."""

    model_config = ConfigDict(extra="allow")

    role: OtherRole
    content: MessageText | list[ContentPart] | None = None

    def text(self) -> str:
        """The message text; of a multi-part message, its text parts joined."""
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class UserMessage(ChatMessage):
    """A user's message: a question, as a string or as parts of which one at least is text to ask."""

    role: Literal["user"]
    content: Annotated[str, Field(strict=True, json_schema_extra=QUESTION_RULE)] | Annotated[list[ContentPart], Field(json_schema_extra={"contains": QUESTION_PART})]

    @field_validator("content")
    @classmethod
    def asks_something(cls, content: str | list[ContentPart]) -> str | list[ContentPart]:
        """Checked like a question to /ask, however it was split into parts."""
        text = content if isinstance(content, str) else "".join(p.text or "" for p in content if p.type == "text")
        try:
            clean_query(text)
        except QueryError as e:
            raise ValueError(f"a user message must ask something: {e}") from None
        return content


Message = Annotated[UserMessage | ChatMessage, Field(discriminator="role")]
# The tags pydantic puts in an error's location inside a tagged union (service/api/errors.py drops them).
UNION_TAGS = frozenset({"user", *OtherRole.__args__})


class StreamOptions(BaseModel):
    include_usage: Annotated[bool, Field(strict=True)] = Field(False, description="end the stream with a chunk holding no choices and the usage")


class ChatRequest(BaseModel):
    """OpenAI chat request. Other fields are ignored, not refused: front ends send OpenAI's
    sampling and tool options and their servers' own (repetition_penalty, min_p, …), none of
    which an answer quoted from passages uses."""

    model_config = ConfigDict(extra="ignore")

    model: str = MODEL_ID
    messages: list[Message] = Field(min_length=1, json_schema_extra={"contains": {"type": "object", "properties": {"role": {"const": "user"}}, "required": ["role"]}})
    stream: Annotated[bool, Field(strict=True)] | None = False
    stream_options: StreamOptions | None = None
    top_k: TopK | None = None
    report: ReportId | None = None

    @model_validator(mode="after")
    def has_user_question(self) -> ChatRequest:
        """The question asked now is the last user message (each is checked like a question to /ask)."""
        if not any(m.role == "user" for m in self.messages):
            raise ValueError("messages must contain a user message")
        return self

    def turns(self) -> list[tuple[str, str]]:
        return [(m.role, m.text()) for m in self.messages]


class ChatReply(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatReply
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class TouyanExtra(BaseModel):
    """What retrieval saw: the standalone question the conversation was resolved to."""

    question: str
    found: bool
    confidence: float | None = Field(description="as in /ask")
    mode: str
    note: str | None
    results: list[SearchResult]


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = MODEL_ID
    choices: list[ChatChoice]
    usage: Usage
    citations: list[CitationOut]
    touyan: TouyanExtra


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: ChunkDelta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str = MODEL_ID
    choices: list[ChunkChoice]
    citations: list[CitationOut] | None = None
    touyan: TouyanExtra | None = None
    usage: Usage | None = None


class ModelCard(BaseModel):
    id: str = MODEL_ID
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "touyan"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class DocumentOut(BaseModel):
    id: str = Field(description="the SHA-256 of the content (16 hex digits): the same file uploaded twice has one id")
    name: str
    report: str
    size: int
    media_type: str
    status: Literal["queued", "indexing", "ready", "failed"]
    done: int = Field(description="texts (passages and their sentences) encoded so far by the build indexing it")
    total: int = Field(description="texts that build encodes")
    detail: str | None = Field(description="what it is doing, or why it failed")
    pages: int | None = Field(description="pages of a PDF")
    warnings: list[str]
    uploaded_at: str
    file: str = Field(description="where to open it")
    duplicate: bool = Field(False, description="true when this upload's content was already a document")

    @classmethod
    def of(cls, doc, duplicate: bool = False) -> DocumentOut:
        fields = {k: getattr(doc, k) for k in ("id", "name", "report", "size", "media_type", "status", "done", "total", "detail", "pages", "uploaded_at")}
        return cls(**fields, warnings=list(doc.warnings), file=f"/documents/{doc.id}/file", duplicate=duplicate)


class DocumentList(BaseModel):
    documents: list[DocumentOut]
