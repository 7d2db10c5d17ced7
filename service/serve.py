"""``touyan serve``: open (or first build) the index with progress in the log, then serve HTTP."""
from __future__ import annotations

import logging

import uvicorn

from service.api.app import create_app
from service.search import open_searcher
from touyan.settings import Settings

log = logging.getLogger("touyan.serve")


def serve(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.info("opening the index in %s (corpus %s, embedder %s)", settings.index_dir, settings.corpus_dir, settings.embedder)
    searcher = open_searcher(settings, progress=log.info)
    app = create_app(settings, searcher)
    log.info("serving on http://%s:%d (API docs at /docs)", settings.host, settings.port)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
