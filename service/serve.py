"""``touyan serve``: open (or first build) the index with progress in the log, then serve HTTP."""
from __future__ import annotations

import logging
import socket

import uvicorn

from service.api.app import create_app
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
    log.info("opening the index in %s (corpus %s, embedder %s)", settings.index_dir, settings.corpus_dir, settings.embedder)
    searcher = open_searcher(settings, progress=log.info)
    app = create_app(settings, searcher)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host  # an IPv6 address in a URL
    log.info("serving on http://%s:%d (API docs at /docs)", host, settings.port)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
