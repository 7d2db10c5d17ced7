"""What one client may cost the server: the size and arrival time of its body, and a place in a
bounded queue for the work that takes the CPU.

Both are plain ASGI middlewares so they act before FastAPI reads or parses anything.
"""
from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Collection

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import error_response


class BodyLimit:
    """Reads the request body whole, answering 413 past ``max_bytes`` (declared or streamed) and
    408 when it does not arrive within ``timeout`` seconds, then replays it to the app.

    A client that sends headers and then trickles (or never sends) its body would otherwise
    hold a connection and a request slot forever.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.larger = larger or {}  # paths that take larger bodies (uploads), and how large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.max_bytes) if scope["method"] == "POST" else self.max_bytes
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, receive, send, limit)
            return
        body = bytearray()
        # An upload may take longer: at least 1 MB a second on top of the usual allowance.
        deadline = self.timeout + (limit / 2**20 if limit > self.max_bytes else 0)
        try:
            async with asyncio.timeout(deadline):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    body += message.get("body", b"")
                    if len(body) > limit:
                        await self._too_large(scope, receive, send, limit)
                        return
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            detail = f"the request body did not arrive within {self.timeout:g} s"
            await error_response(scope["path"], 408, detail, headers={"Connection": "close"})(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        detail = f"request body is larger than {limit // 1024} KB"
        await error_response(scope["path"], 413, detail, headers={"Connection": "close"})(scope, receive, send)


class Admission:
    """At most ``active`` requests to ``paths`` are worked on at once and ``queue`` more wait, first
    come first served; any more are refused at once with 503 and ``Retry-After``.

    Encoding a question keeps both cores busy, so requests beyond a few only wait in line;
    an unbounded line makes every client wait for all the others (p99 over a minute at 32
    clients), a bounded one answers the accepted requests in time and tells the rest when to
    come back. Other paths (/health, /cases, the page) are never queued.

    The bookkeeping is under a thread lock and a waiter is woken in its own event loop, so
    one instance serves a server (one loop) and a test client (a loop per thread) alike.
    """

    def __init__(self, app: ASGIApp, active: int, queue: int, paths: Collection[str], retry_after: int = 1) -> None:
        self.app = app
        self.active = active
        self.queue = queue
        self.paths = frozenset(paths)
        self.retry_after = retry_after
        self.running = 0
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = deque()
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        if not await self._enter():
            detail = f"the server is busy ({self.running} requests running, {self.waiting} waiting); retry in {self.retry_after} s"
            await error_response(scope["path"], 503, detail, headers={"Retry-After": str(self.retry_after)})(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._leave()

    async def _enter(self) -> bool:
        """A slot now, or a place in the queue and a slot when one is handed over; False when the queue is full."""
        with self._lock:
            if self.running < self.active:
                self.running += 1
                return True
            if len(self._waiters) >= self.queue:
                return False
            loop = asyncio.get_running_loop()
            waiter = (loop, loop.create_future())
            self._waiters.append(waiter)
        try:
            await waiter[1]
        except asyncio.CancelledError:
            with self._lock:
                if waiter in self._waiters:  # not handed a slot yet
                    self._waiters.remove(waiter)
            raise  # a slot already on its way is passed on by _grant
        return True

    def _leave(self) -> None:
        """Hand this slot to the first waiter, or free it."""
        with self._lock:
            if self._waiters:
                loop, future = self._waiters.popleft()
                loop.call_soon_threadsafe(self._grant, future)
            else:
                self.running -= 1

    def _grant(self, future: asyncio.Future) -> None:
        if future.cancelled():  # its client went away meanwhile
            self._leave()
        else:
            future.set_result(None)
