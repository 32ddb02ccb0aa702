"""Finished JSON bodies of the dashboard's hot routes, kept like the service results they are built from.

A dashboard re-reads the same metrics and comments between two imports. The service result is cached
(:mod:`cxloop.services.cache`), but turning it into the API's models and JSON again cost more than
everything else in a warm request (pydantic models for every cell, then FastAPI validating and
serialising them). The body is kept instead, under the same guarantees:

* **Never stale**: kept under the warehouse's data version (:func:`cxloop.services.cache.cached`), or for
  answers read from the app database only, under its scope stamp (:func:`cxloop.services.scope.scope_cached`).
* **Never shared across scopes**: the key holds the viewer's unit and the set of units they can see, the
  route and its whole query string, and the settings that change the numbers. The route's scope check
  (:data:`~cxloop.web.deps.VisibleUnitDep`) runs before the lookup, so an out-of-scope request fails
  exactly as without it.
* **Right after a write**, the first request for a body recomputes it and answers the new data; requests
  for the same body that arrive while it is at work take the previous version's body at once instead of
  queueing behind it (:func:`~cxloop.services.cache.stale_while_recomputing`), so a stream of posted
  responses costs the readers one slow request per question and write, not one per reader.
* **Same bytes**: the body is the route's response model serialised as FastAPI would (by alias); the
  OpenAPI schema still names that model.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from fastapi import Request, Response
from ibis.backends import BaseBackend
from pydantic import BaseModel
from sqlalchemy.orm import Session

from cxloop.config import Settings
from cxloop.services.cache import cached, stale_while_recomputing
from cxloop.services.scope import Viewer, scope_cached, visible_units

__all__ = ["json_response", "warehouse_json", "app_db_json"]


def json_response(body: bytes) -> Response:
    return Response(content=body, media_type="application/json")


def _key(request: Request, session: Session, viewer: Viewer, settings: Settings) -> Hashable:
    query = tuple(sorted(request.query_params.multi_items()))
    scope = (viewer.unit_id, visible_units(session, viewer))
    return (request.url.path, query, scope, settings.min_n, settings.confidence)


def _render(build: Callable[[], BaseModel]) -> Callable[[], bytes]:
    return lambda: build().model_dump_json(by_alias=True).encode()


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
        return json_response(render())
    with stale_while_recomputing():
        return json_response(cached("api.json", con, _key(request, session, viewer, settings), render))


def app_db_json(
    request: Request, *, viewer: Viewer, settings: Settings, session: Session, build: Callable[[], BaseModel]
) -> Response:
    """``build()``'s model as JSON for an answer read from users and units only: kept under the scope
    stamp."""
    key = ("api.json", _key(request, session, viewer, settings))
    return json_response(scope_cached(session, key, _render(build)))
