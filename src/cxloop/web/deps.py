"""Request dependencies as ``Annotated`` aliases: settings, app-database session, warehouse, viewer.

A route declares ``viewer: ViewerDep`` and gets the :class:`~cxloop.services.access.scope.Viewer` its
credentials stand for -- a bearer JWT from ``POST /api/v1/auth/token``, or an API key in ``X-API-Key``
(or as the bearer token) -- or the request ends with 401. ``unit_id: VisibleUnitDep`` additionally checks
the path's unit against the viewer's subtree, answering "outside your scope" exactly like "no such unit".
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated

import ibis
from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from ibis.backends import BaseBackend
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cxloop.config import Settings
from cxloop.services.access import identity
from cxloop.services.access.scope import (
    ScopeError,
    UnknownUnitError,
    Viewer,
    require_unit,
    viewer_for_user,
    visible_units,
)
from cxloop.store import units as unit_store
from cxloop.store.api_keys import KEY_PREFIX
from cxloop.store.db import session_factory
from cxloop.warehouse.connection import connect
from cxloop.web.errors import ApiError
from cxloop.web.security import TokenError, read_access_token

__all__ = [
    "SessionDep",
    "WarehouseConnections",
    "SettingsDep",
    "ViewerDep",
    "VisibleUnitDep",
    "WarehouseDep",
    "get_session",
    "get_settings",
    "get_viewer",
    "get_warehouse",
]

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="A key from `cxloop apikeys create`.")


async def get_settings(request: Request) -> Settings:
    """The settings the app was built with (``async``: nothing to wait for, so no trip to the thread pool)."""
    return request.app.state.settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """An app-database session for the request (committed at the end, rolled back on error).

    ``async``: making the session does no I/O (it connects on its first statement), so only the commit
    and close go to the thread pool -- each trip there costs a cached request a noticeable share.
    """
    engine: Engine = request.app.state.engine
    session = session_factory(engine)()
    session.begin()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_finish, session, False)
        raise
    await run_in_threadpool(_finish, session, True)


def _finish(session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


class WarehouseConnections:
    """Warehouse connections for requests, one per request at a time, safe under concurrency.

    DuckDB: the database file is opened once per app and each request gets its own cursor (a connection
    to the same database); opening the file from several threads at once fails with DuckDB's "Unique file
    handle conflict". Requests *borrow* a cursor from a pool (:meth:`borrow`) and give it back at the
    end: wrapping a new cursor in an Ibis backend costs 10-40 ms (a package-metadata lookup and two
    ``SET`` statements), more than a cached dashboard answer. A cursor serves one request at a time, so
    no two threads of uvicorn's pool ever share one. Other backends: a new connection per request.
    """

    #: Idle cursors kept for reuse (uvicorn's thread pool runs at most 40 requests at once).
    MAX_IDLE = 48

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._shared = settings.resolved_warehouse_url.startswith("duckdb://")
        self._root: BaseBackend | None = None
        self._idle: list[BaseBackend] = []
        self._lock = threading.Lock()

    def open(self) -> BaseBackend:
        """A connection of its own (not pooled); close it with ``disconnect()``."""
        if not self._shared:
            return connect(self._settings)
        with self._lock:
            if self._root is None:
                self._root = connect(self._settings)
            cursor = self._root.con.cursor()
        return ibis.duckdb.from_connection(cursor)

    def take(self) -> BaseBackend | None:
        """An idle pooled connection, or ``None`` (then :meth:`open` one). Never blocks on I/O."""
        if not self._shared:
            return None
        with self._lock:
            return self._idle.pop() if self._idle else None

    def give_back(self, con: BaseBackend) -> BaseBackend | None:
        """Return a connection after a request: kept for the next one, or handed back to be disconnected
        (a full pool, or a backend without pooling). Never blocks on I/O."""
        with self._lock:
            if self._shared and self._root is not None and len(self._idle) < self.MAX_IDLE:
                self._idle.append(con)
                return None
        return con

    @contextmanager
    def borrow(self) -> Iterator[BaseBackend]:
        """A connection for one request, from the pool when one is idle, back to it afterwards."""
        con = self.take() or self.open()
        try:
            yield con
        finally:
            if (spare := self.give_back(con)) is not None:
                spare.disconnect()

    def dispose(self) -> None:
        """Close the pooled cursors and the shared database (at app shutdown)."""
        with self._lock:
            idle, self._idle = self._idle, []
            for con in idle:
                con.disconnect()
            if self._root is not None:
                self._root.disconnect()
                self._root = None


async def get_warehouse(request: Request) -> AsyncIterator[BaseBackend]:
    """A warehouse connection for the request, borrowed from the app's pool (``async``: an idle pooled
    connection is handed over without a trip to the thread pool; opening or closing one takes that trip)."""
    pool: WarehouseConnections = request.app.state.warehouse
    con = pool.take() or await run_in_threadpool(pool.open)
    try:
        yield con
    finally:
        if (spare := pool.give_back(con)) is not None:
            await run_in_threadpool(spare.disconnect)


SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": the commit runs before the response is sent. With the default ("request") it ran after,
# so a browser following a POST's redirect could read before the POST's transaction was committed (a newly
# created action answered "Not found" in the browser test under load).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
WarehouseDep = Annotated[BaseBackend, Depends(get_warehouse)]


def _unauthorised(message: str) -> ApiError:
    return ApiError(401, "not_authenticated", message, headers={"WWW-Authenticate": "Bearer"})


def get_viewer(
    settings: SettingsDep,
    session: SessionDep,
    token: Annotated[str | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Viewer:
    """The viewer the request's credentials stand for (401 when there are none or they are not valid)."""
    key = api_key or (token if token and token.startswith(KEY_PREFIX) else None)
    if key is not None:
        viewer = identity.viewer_for_api_key(session, key)
        if viewer is None:
            raise _unauthorised("the API key is not valid (unknown or revoked)")
        return viewer
    if not token:
        raise _unauthorised(
            "log in: send a bearer token from POST /api/v1/auth/token, or an X-API-Key header"
        )
    try:
        user_id = read_access_token(settings, token)
    except TokenError:
        raise _unauthorised("the bearer token is not valid or has expired; get a new one") from None
    viewer = viewer_for_user(session, user_id)
    if viewer is None:
        raise _unauthorised("this account is disabled or no longer exists")
    return viewer


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


def visible_unit(
    unit_id: Annotated[str, Path(min_length=1, max_length=64, description="A unit id, e.g. br-0001.")],
    viewer: ViewerDep,
    session: SessionDep,
) -> str:
    """The path's ``unit_id`` once it is known to be in the viewer's subtree.

    A unit outside the subtree is answered like an unknown one (:class:`UnknownUnitError`, 404), with
    suggestions drawn only from the units the viewer can see, so existence does not leak.
    """
    visible = visible_units(session, viewer)
    try:
        require_unit(session, viewer, unit_id, visible)
    except ScopeError:
        close = difflib.get_close_matches(unit_id, sorted(visible), n=5, cutoff=0.5)
        nearby = close or [viewer.unit_id, *unit_store.children_ids(session, viewer.unit_id)[:8]]
        raise UnknownUnitError(unit_id, nearby) from None
    return unit_id


VisibleUnitDep = Annotated[str, Depends(visible_unit)]
