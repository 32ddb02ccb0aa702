"""Finished JSON bodies of the dashboard's hot routes, kept like the service results they are built from.

A dashboard re-reads the same metrics and comments between two imports. The service result is cached
(:mod:`cxloop.services.cache`), but turning it into the API's models and JSON again cost more than
everything else in a warm request (pydantic models for every cell, then FastAPI validating and
serialising them). The body is kept instead, under the same guarantees:

* **Checked against the data version**: kept with the warehouse's data version
  (:func:`cxloop.services.cache.cached`), or for answers read from the app database only, under its scope
  stamp (:func:`cxloop.services.access.scope.scope_cached`).
* **Never shared across scopes**: the key holds the viewer's unit and the set of units they can see, the
  route and its whole query string, and the settings that change the numbers. The route's scope check
  (:data:`~cxloop.web.deps.VisibleUnitDep`) runs before the lookup, so an out-of-scope request fails
  exactly as without it.
* **Under writes**, a GET is a dashboard read (:mod:`cxloop.web.freshness`): a body computed before the
  latest writes is served while it is younger than ``CXLOOP_DASHBOARD_STALENESS_SECONDS``; after that one
  request recomputes it while the others keep getting the previous body at once
  (:func:`~cxloop.services.cache.stale_while_recomputing`), so a stream of posted responses costs the
  readers one slow request per question and interval, not one per write or per reader.
* **Same bytes**: the body is the route's response model serialised as FastAPI would (by alias); the
  OpenAPI schema still names that model.
* **Conditional GETs**: each body carries an ``ETag`` (a hash of its bytes); a client that sends it back
  in ``If-None-Match`` gets ``304 Not Modified`` and no body while the answer is unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from ibis.backends import BaseBackend
from pydantic import BaseModel
from sqlalchemy.orm import Session

from cxloop.config import Settings
from cxloop.services.access.scope import Viewer, scope_cached, visible_units
from cxloop.services.cache import cached

__all__ = ["NOT_MODIFIED", "Body", "app_db_json", "json_response", "warehouse_json"]

#: For the routes' ``responses=``: what a conditional GET may answer.
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: `If-None-Match` named the answer's current `ETag` (no body)."}
}


@dataclass(frozen=True)
class Body:
    """A finished JSON answer and its entity tag (a hash of the bytes, so equal answers share one)."""

    content: bytes
    etag: str

    @classmethod
    def of(cls, model: BaseModel) -> Body:
        content = model.model_dump_json(by_alias=True).encode()
        return cls(content, '"' + hashlib.blake2b(content, digest_size=16).hexdigest() + '"')


def json_response(body: Body, request: Request | None = None) -> Response:
    """The body with its ``ETag``, or ``304 Not Modified`` when the request's ``If-None-Match`` names it.

    ``Cache-Control: private, no-cache``: a browser or proxy may keep the answer for this user only and must
    ask again each time (the ``ETag`` makes asking cheap); answers are scoped to the viewer.
    """
    headers = {"ETag": body.etag, "Cache-Control": "private, no-cache"}
    if request is not None and _matches(request.headers.get("if-none-match"), body.etag):
        return Response(status_code=304, headers=headers)
    return Response(content=body.content, media_type="application/json", headers=headers)


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


def _key(request: Request, session: Session, viewer: Viewer, settings: Settings) -> Hashable:
    query = tuple(sorted(request.query_params.multi_items()))
    scope = (viewer.unit_id, visible_units(session, viewer))
    return (request.url.path, query, scope, settings.min_n, settings.confidence)


def _render(build: Callable[[], BaseModel]) -> Callable[[], Body]:
    return lambda: Body.of(build())


def warehouse_json(
    request: Request,
    *,
    viewer: Viewer,
    settings: Settings,
    session: Session,
    con: BaseBackend,
    build: Callable[[], BaseModel],
    keep: bool = True,
) -> Response:
    """``build()``'s model as JSON, kept under the warehouse's data version (``keep=False``: a body that
    also depends on app-database rows other than users and units, e.g. stored targets, is built anew)."""
    render = _render(build)
    if not keep:
        return json_response(render(), request)
    body = cached("api.json", con, _key(request, session, viewer, settings), render)
    return json_response(body, request)


def app_db_json(
    request: Request, *, viewer: Viewer, settings: Settings, session: Session, build: Callable[[], BaseModel]
) -> Response:
    """``build()``'s model as JSON for an answer read from users and units only: kept under the scope
    stamp."""
    key = ("api.json", _key(request, session, viewer, settings))
    return json_response(scope_cached(session, key, _render(build)), request)
