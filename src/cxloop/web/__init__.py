"""The web app: a FastAPI JSON API under ``/api/v1`` (and, later, server-rendered pages).

Build it with :func:`cxloop.web.app.create_app`; every route resolves the viewer from the request's
credentials and passes it to a service, which enforces scope.
"""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str):  # noqa: ANN202 - lazy, so importing cxloop.web does not import FastAPI
    if name == "create_app":
        from cxloop.web.app import create_app

        return create_app
    raise AttributeError(name)
