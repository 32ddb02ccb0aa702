"""Security headers on every answer, as a plain ASGI middleware around the whole app.

Starlette's ``@app.middleware("http")`` (``BaseHTTPMiddleware``) runs each request's app in a task group
and streams its body back through a memory channel; on a cached dashboard answer that machinery cost more
than the answer itself (measured under 20 concurrent clients). Setting headers needs none of it: the
``http.response.start`` message is amended on its way out.

The middleware wraps the app's whole stack (:class:`SecuredApp`), not one added by ``add_middleware``:
Starlette keeps its ``ServerErrorMiddleware`` outside every added middleware, and that layer sends the
500 answer of an unhandled exception itself, so the 500s would go out without the headers.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecuredApp", "SecurityHeaders"]


class SecurityHeaders:
    """Adds ``X-Content-Type-Options``, ``X-Frame-Options``, ``Referrer-Policy`` and a
    ``Content-Security-Policy`` (``docs_policy`` on ``docs_paths``) unless the answer set its own."""

    def __init__(self, app: ASGIApp, *, policy: str, docs_policy: str, docs_paths: frozenset[str]) -> None:
        self.app = app
        self.policy = policy
        self.docs_policy = docs_policy
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.docs_policy if scope["path"] in self.docs_paths else self.policy

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Content-Security-Policy", policy)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SecuredApp(FastAPI):
    """A FastAPI app whose outermost layer is :class:`SecurityHeaders` with the given policies: every
    answer carries the headers, the 500 of an unhandled exception included."""

    def __init__(self, *, policy: str, docs_policy: str, docs_paths: frozenset[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._policies = (policy, docs_policy, docs_paths)

    def build_middleware_stack(self) -> ASGIApp:
        policy, docs_policy, docs_paths = self._policies
        return SecurityHeaders(
            super().build_middleware_stack(), policy=policy, docs_policy=docs_policy, docs_paths=docs_paths
        )
