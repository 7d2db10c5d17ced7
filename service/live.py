"""The searcher and answerer a running server uses, kept on the index's live build.

`touyan index` may rebuild the index while a server runs (after pages were added): the
new build goes live by an atomic replace of CURRENT, and the next request loads it with
the encoders already in memory, and lists the cases that build holds. Requests in flight
finish on the build they started with.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from index.store import live_build, load_index
from service.answer import Answerer
from service.search import Searcher, passage_store
from touyan.settings import Settings

log = logging.getLogger("touyan.live")


class LiveIndex:
    """Holds one (searcher, answerer) pair and swaps it when CURRENT names another build.

    A build made with other encoders than the loaded ones cannot be served by them: it is
    logged and the old build kept, as is one that fails to load; neither is retried until
    CURRENT changes again.
    """

    def __init__(self, settings: Settings, searcher: Searcher | None, answerer_for: Callable[[Searcher], Answerer]):
        self.settings = settings
        self._answerer_for = answerer_for
        self.pair: tuple[Searcher, Answerer] | None = None
        self.progress = "starting"  # while there is no searcher yet: what the first build is doing
        self._build: str | None = None
        self._lock = threading.Lock()
        self.hidden: set[str] = set()  # sources of deleted documents, hidden until a build leaves them out
        if searcher is not None:
            self.install(searcher)

    def install(self, searcher: Searcher) -> None:
        """Serve this searcher (the first one, once a server's first build is done)."""
        with self._lock:
            searcher.hidden = frozenset(self.hidden)
            self.pair = (searcher, self._answerer_for(searcher))
            self._build = live_build(self.settings.index_dir)

    def hide(self, source: str) -> None:
        """Take a source's passages out of answers now; the next build leaves the file out."""
        with self._lock:
            self.hidden.add(source)
            if self.pair is not None:
                self.pair[0].hidden = frozenset(self.hidden)

    def stale(self) -> bool:
        """Whether CURRENT names a build other than the one served (a file read: cheap per request)."""
        build = live_build(self.settings.index_dir)
        return self.pair is not None and build is not None and build != self._build

    def refresh(self) -> None:
        with self._lock:
            build = live_build(self.settings.index_dir)
            if build is None or build == self._build:
                return
            self._build = build
            old = self.pair[0]
            try:
                stored = load_index(self.settings.index_dir)
            except (OSError, ValueError, KeyError) as e:
                log.warning("index build %s could not be loaded (%s); still serving the previous one", build, e)
                return
            tokens = old.tokens.name if old.tokens else None
            if (stored.manifest.embedder, stored.manifest.tokens) != (old.embedder.name, tokens):
                log.warning(
                    "index build %s was made with %s / %s, not the loaded %s / %s: still serving the previous one; restart to serve it",
                    build, stored.manifest.embedder, stored.manifest.tokens or "no token encoder", old.embedder.name, tokens or "no token encoder",
                )
                return
            searcher = Searcher(stored, old.embedder, stored.cases, old.retriever, old.fusion, old.tokens)
            try:
                searcher.store = passage_store(self.settings, stored)
            except Exception as e:  # the store is unreachable or refuses the build: keep what works
                log.warning("index build %s could not be written to or read from %s (%s); still serving the previous one", build, self.settings.store, e)
                return
            self.hidden &= {c.source for c in stored.chunks}  # what this build still holds of deleted files
            searcher.hidden = frozenset(self.hidden)
            self.pair = (searcher, self._answerer_for(searcher))
            log.info("index reloaded: build %s, %d passages, %d cases", build, searcher.chunk_count, len(stored.cases))
