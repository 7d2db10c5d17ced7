"""The document API: upload a PDF, Word, HTML, Markdown or text file into a report, follow its
indexing, open it, delete it (service/documents.py does the work).

Writes need an API key: on a server without TOUYAN_API_KEY they are off (403), as anyone
could fill the index otherwise.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse

from index.readers import DocumentError
from service.api.deps import SettingsDep
from service.api.errors import GUARDED, responses
from service.api.schemas import DocumentList, DocumentOut
from service.documents import DocumentStore

router = APIRouter(prefix="/documents", tags=["documents"])

WRITES_OFF = "document uploads and deletes are off: this server has no API key (set TOUYAN_API_KEY)"
UPLOAD_ERRORS = GUARDED | {
    403: WRITES_OFF,
    413: "the file is larger than TOUYAN_MAX_UPLOAD_MB",
    415: "not a PDF, Word (.docx), HTML, Markdown or text file",
    422: "the file cannot be read (damaged, encrypted, empty, its content not what its name says) or a bad report name",
}


def documents(request: Request) -> DocumentStore:
    return request.app.state.documents


def writes_allowed(settings) -> None:
    if not settings.api_keys:
        raise HTTPException(403, WRITES_OFF)


@router.post("", status_code=202, response_model=DocumentOut, responses={200: {"model": DocumentOut, "description": "the same content was uploaded before: that document"}, **responses(UPLOAD_ERRORS)})
async def upload(
    request: Request,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="the document: .pdf, .docx, .html, .htm, .md or .txt")],
    report: Annotated[str | None, Form(description="the report it belongs to (default: the bundled corpus's)")] = None,
) -> JSONResponse:
    writes_allowed(settings)
    data = await file.read()
    name = file.filename or "upload"
    try:
        doc, duplicate = await run_in_threadpool(documents(request).add, data, name, report or settings.corpus_dir.resolve().name)
    except DocumentError as e:
        status = 415 if str(e).startswith("unsupported file type") else 422
        raise HTTPException(status, f"{name}: {e}") from None
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    body = DocumentOut.of(doc, duplicate=duplicate)
    return JSONResponse(body.model_dump(), status_code=200 if duplicate else 202, headers={"Location": f"/documents/{doc.id}"})


@router.get("", response_model=DocumentList, responses=responses(GUARDED))
async def list_documents(request: Request) -> DocumentList:
    return DocumentList(documents=[DocumentOut.of(d) for d in documents(request).list()])


@router.get("/{document_id}", response_model=DocumentOut, responses=responses({**GUARDED, 404: "no document of that id"}))
async def get_document(request: Request, document_id: str) -> DocumentOut:
    doc = documents(request).get(document_id)
    if doc is None:
        raise HTTPException(404, f"no document {document_id!r}; GET /documents lists them")
    return DocumentOut.of(doc)


@router.delete("/{document_id}", response_model=DocumentOut, responses=responses({**GUARDED, 403: WRITES_OFF, 404: "no document of that id"}))
async def delete_document(request: Request, document_id: str, settings: SettingsDep) -> DocumentOut:
    writes_allowed(settings)
    doc = await run_in_threadpool(documents(request).delete, document_id)
    if doc is None:
        raise HTTPException(404, f"no document {document_id!r}; GET /documents lists them")
    return DocumentOut.of(doc)


@router.get("/{document_id}/file", response_class=FileResponse, responses={200: {"content": {"application/pdf": {}, "application/octet-stream": {}}}, **responses({**GUARDED, 404: "no document of that id"})})
async def document_file(request: Request, document_id: str) -> FileResponse:
    store = documents(request)
    doc = store.get(document_id)
    if doc is None or not store.path(doc).is_file():
        raise HTTPException(404, f"no document {document_id!r}; GET /documents lists them")
    # Inline, so a browser opens a PDF at the page a citation names (…/file#page=N).
    return FileResponse(store.path(doc), media_type=doc.media_type, filename=doc.name, content_disposition_type="inline")
