"""Uploaded documents: kept on disk by report, indexed in the background, one build at a time.

``POST /documents`` reads the file at once (a bad one is refused with the reader's reason and
nothing is written), stores it as ``<documents_dir>/<report>/<id><suffix>`` and queues a build;
the build re-reads the corpus and encodes only what its cache lacks (index/build.py), so the
cost is the new document's passages. The running server serves the new build from its next
request (service/live.py). A document's id is its content's SHA-256, so the same file uploaded
twice is recognised. A delete hides the document's passages at once and queues a build
without it. The registry (``documents.json``) is written atomically.
"""
from __future__ import annotations

import hashlib
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path, PurePath
from typing import Literal

from index.atomic import write_atomic
from index.build import ensure_index
from index.corpus import UPLOADS
from index.readers import DocumentError, read_document
from service.search import Searcher
from touyan.settings import Settings

log = logging.getLogger("touyan.documents")

Status = Literal["queued", "indexing", "ready", "failed"]
REGISTRY = "documents.json"
# A report is a folder: letters (any script), digits, _ . - ; no path separators, not hidden.
REPORT_ID = re.compile(r"^[^\W_][\w.-]{0,63}$")
MEDIA_TYPES = {".pdf": "application/pdf", ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
               ".html": "text/html", ".htm": "text/html", ".md": "text/markdown", ".txt": "text/plain"}


@dataclass(frozen=True)
class Document:
    id: str
    name: str
    report: str
    size: int
    media_type: str
    source: str  # the corpus source name passages cite: uploads/<report>/<id><suffix>
    uploaded_at: str
    status: Status = "queued"
    done: int = 0  # texts encoded so far by the build indexing it
    total: int = 0
    detail: str | None = None  # why it failed, or what it is doing
    pages: int | None = None  # of a PDF
    warnings: tuple[str, ...] = ()


class DocumentStore:
    """The uploaded documents of one server and the background builds that index them."""

    def __init__(self, settings: Settings, searcher: Callable[[], Searcher | None], hide: Callable[[str], None]) -> None:
        self.settings = settings
        self.folder = settings.documents_dir
        self._searcher = searcher  # the live searcher: its encoders index the uploads
        self._hide = hide
        self._lock = threading.Lock()
        self._jobs: queue.Queue[None] = queue.Queue()
        self._docs: dict[str, Document] = {}
        path = self.folder / REGISTRY
        if path.is_file():
            for d in json.loads(path.read_text(encoding="utf-8")):
                doc = Document(**{**d, "warnings": tuple(d.get("warnings", ()))})
                # A build the server did not finish (it stopped) is queued again.
                self._docs[doc.id] = replace(doc, status="queued") if doc.status in ("queued", "indexing") else doc
        self._worker = threading.Thread(target=self._run, name="touyan-documents", daemon=True)
        self._worker.start()
        if any(d.status == "queued" for d in self._docs.values()):
            self._jobs.put(None)

    def list(self) -> list[Document]:
        with self._lock:
            return sorted(self._docs.values(), key=lambda d: d.uploaded_at)

    def get(self, document_id: str) -> Document | None:
        with self._lock:
            return self._docs.get(document_id)

    def path(self, doc: Document) -> Path:
        return self.folder / PurePath(doc.source).relative_to(UPLOADS)

    def add(self, data: bytes, name: str, report: str) -> tuple[Document, bool]:
        """Store and queue a document; (the existing one, True) when the same content was uploaded
        before. DocumentError when the file cannot be read, ValueError for a bad report name."""
        if not REPORT_ID.match(report):
            raise ValueError(f"report {report!r} is not a report name: letters, digits, _ . - (up to 64), starting with a letter or digit")
        suffix = PurePath(name).suffix.lower()
        read = read_document(data, name)  # refuses a bad file (under this name) before anything is written
        if not read.text.strip():
            raise DocumentError("; ".join(read.warnings) or "the file has no text")
        doc_id = hashlib.sha256(data).hexdigest()[:16]
        with self._lock:
            if (known := self._docs.get(doc_id)) is not None and known.status != "failed":
                return known, True
        doc = Document(
            id=doc_id, name=PurePath(name).name, report=report, size=len(data), media_type=MEDIA_TYPES.get(suffix, "application/octet-stream"),
            source=f"{UPLOADS}/{report}/{doc_id}{suffix}", uploaded_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            pages=len(read.pages) or None, warnings=tuple(read.warnings),
        )
        target = self.path(doc)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data)
        with self._lock:
            self._docs[doc.id] = doc
            self._save()
        self._jobs.put(None)
        return doc, False

    def delete(self, document_id: str) -> Document | None:
        with self._lock:
            doc = self._docs.pop(document_id, None)
            if doc is None:
                return None
            self._save()
        self._hide(doc.source)
        self.path(doc).unlink(missing_ok=True)
        self._jobs.put(None)
        return doc

    def _save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        data = json.dumps([asdict(d) for d in self._docs.values()], ensure_ascii=False, indent=1).encode()
        write_atomic(self.folder / REGISTRY, data)

    def _set(self, ids: list[str], **changes) -> None:
        with self._lock:
            for doc_id in ids:
                if doc_id in self._docs:
                    self._docs[doc_id] = replace(self._docs[doc_id], **changes)
            self._save()

    def _run(self) -> None:
        while True:
            self._jobs.get()
            while not self._jobs.empty():  # uploads queued meanwhile go into the same build
                self._jobs.get_nowait()
            pending = [d.id for d in self.list() if d.status in ("queued", "indexing")]
            self._set(pending, status="indexing", detail="reading the corpus")
            try:
                corpus = self._build(pending)
            except Exception as e:  # a failed build leaves the live one serving; say why on each document
                log.exception("indexing the uploaded documents failed")
                self._set(pending, status="failed", detail=f"indexing failed: {type(e).__name__}: {e}")
                continue
            failed = {err.source: err.reason for err in corpus.errors}
            for doc_id in pending:
                doc = self.get(doc_id)
                if doc is not None and doc.source in failed:
                    self._set([doc_id], status="failed", detail=failed[doc.source])
                elif doc is not None:
                    self._set([doc_id], status="ready", detail=None)

    def _build(self, pending: list[str]):
        while (searcher := self._searcher()) is None:  # the server's first build is still running
            time.sleep(1)

        def progress(done: int, total: int) -> None:
            self._set(pending, done=done, total=total, detail=f"indexing: {done} of {total} texts encoded")

        s = self.settings
        _, corpus, _ = ensure_index(s.corpus_dir, s.index_dir, searcher.embedder, s.chunk_chars, progress, tokens=searcher.tokens,
                                 uploads=self.folder, encode=s.encode_plan)
        return corpus
