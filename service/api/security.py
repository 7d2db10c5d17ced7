"""Who may call the API, and what a browser may do with its pages.

API keys are OpenAI's way: ``Authorization: Bearer <key>``, any of the keys in
``TOUYAN_API_KEY``. The chat page, its assets, the API docs and /health stay open, so a
supervisor can probe the server and a user can reach the page that asks for the key.
"""
from __future__ import annotations

import hmac

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import error_response

OPEN_PATHS = frozenset({"/", "/health", "/docs", "/openapi.json", "/favicon.ico"})
OPEN_PREFIXES = ("/static/", "/docs/")

# The page loads only its own files; no other site may frame it (clickjacking).
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)
# Swagger UI sets style attributes from its script; its scripts are files as well.
DOCS_POLICY = PAGE_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


class ApiKeys:
    """Refuses requests without one of ``keys`` (401, with ``WWW-Authenticate: Bearer``) on all but the open paths."""

    def __init__(self, app: ASGIApp, keys: tuple[str, ...]) -> None:
        self.app = app
        self.keys = [k.encode() for k in keys]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys or scope["method"] == "OPTIONS" or is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
        given = token.strip().encode()
        # Compared in constant time, with every key, so the time taken tells nothing about them.
        if scheme.lower() == "bearer" and sum(hmac.compare_digest(given, k) for k in self.keys):
            await self.app(scope, receive, send)
            return
        message = "a wrong API key" if token.strip() else "no API key"
        detail = f"{message}: send `Authorization: Bearer <key>` with one of the server's keys (TOUYAN_API_KEY)"
        await error_response(scope["path"], 401, detail, headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)


class SecurityHeaders:
    """``nosniff``, no referrer and no framing on every response, and a content security policy
    (no inline script) on the pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope["path"].startswith("/docs") else PAGE_POLICY

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Frame-Options"] = "SAMEORIGIN"
                headers["Content-Security-Policy"] = policy
            await send(message)

        await self.app(scope, receive, with_headers)
