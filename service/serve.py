"""``touyan serve``: serve HTTP at once, and open (or first build) the index meanwhile, with progress
in the log: /health and the page answer from the first second, questions (503 and Retry-After
with the build's progress) once the index is loaded. A fatal error in the build (a damaged
index) ends the process with its one line and exit status 2, as the command line does."""
from __future__ import annotations

import logging
import os
import socket
import sys
import threading

import uvicorn

from service.api.app import create_app
from service.live import LiveIndex
from service.search import open_searcher
from touyan.settings import Settings

log = logging.getLogger("touyan.serve")


def check_address(host: str, port: int) -> None:
    """Fail before the (possibly long) index build, not after it, when the address cannot be served."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as e:
        raise ValueError(f"cannot listen on {host}:{port}: {e.strerror or e} (TOUYAN_HOST / TOUYAN_PORT, or --host / --port)") from None


def serve(settings: Settings) -> None:
    check_address(settings.host, settings.port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings, None)
    threading.Thread(target=open_index, args=(settings, app.state.live), name="touyan-open", daemon=True).start()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host  # an IPv6 address in a URL
    log.info("serving on http://%s:%d (API docs at /docs)", host, settings.port)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")


def open_index(settings: Settings, live: LiveIndex) -> None:
    log.info("opening the index in %s (corpus %s, embedder %s)", settings.index_dir, settings.corpus_dir, settings.embedder)

    def progress(message: str) -> None:
        live.progress = message
        log.info(message)

    try:
        searcher = open_searcher(settings, progress=progress)
        progress("reading the dictionary the questions are analysed with")
        searcher.analyzer.warm()
        live.install(searcher)
    except (FileNotFoundError, ValueError, ImportError, OSError) as e:  # a damaged index, a missing corpus, a store out of reach
        print(f"error: {e}", file=sys.stderr, flush=True)
        os._exit(2)  # a supervisor restarts or reports it; nothing could be served
    log.info("index loaded: answering questions")
