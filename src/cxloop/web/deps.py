"""Request dependencies as ``Annotated`` aliases: settings, app-database session, warehouse, viewer.

A JSON route declares ``viewer: ViewerDep`` and gets the :class:`~cxloop.services.access.scope.Viewer` its
credentials stand for -- a bearer JWT from ``POST /api/v1/auth/token``, or an API key in ``X-API-Key``
(or as the bearer token) -- or the request ends with 401. ``unit_id: VisibleUnitDep`` additionally checks
the path's unit against the viewer's subtree, answering "outside your scope" exactly like "no such unit".

An HTML page declares ``page: PageViewerDep`` and gets the :class:`PageViewer` of its session cookie, or
the request is redirected to the login page (:class:`~cxloop.web.errors.LoginRequired`); a form POST
declares ``page: FormViewerDep`` instead, which also checks the form's CSRF token (403 without it);
``unit: PageUnitDep`` is the path's unit once it is known to be in the viewer's subtree (else the 404 page).
A route calling a service that takes its stores declares ``stores: StoresDep`` (the request's settings,
session and warehouse connection as one :class:`~cxloop.services.stores.Stores`).

Cookies: ``cxloop_session`` holds a signed JWT (user id + random session id), HttpOnly, SameSite=Lax and
Secure outside development. CSRF: every form carries an HMAC of a random id (the session id, or before
login the ``cxloop_login`` cookie) under a key derived from the secret key.

A bearer token or session cookie is accepted only while the server-side session it names lives
(:func:`~cxloop.services.access.identity.session_is_live`: ended by logout, a password change or disabling
the user). Every rejected token is logged as a warning with the reason, the client and the path, never
the token.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import ibis
from fastapi import Depends, Form, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from ibis.backends import BaseBackend
from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from cxloop.config import Settings
from cxloop.services.access import identity
from cxloop.services.access.identity import KEY_PREFIX, User, get_user
from cxloop.services.access.scope import (
    ScopeError,
    UnknownUnitError,
    Viewer,
    nearby_units,
    require_unit,
    viewer_for_user,
    visible_units,
)
from cxloop.services.access.units import Unit, get_unit
from cxloop.services.formatting import number_format
from cxloop.services.labels import Labels
from cxloop.services.stores import Stores, connect_warehouse, session_factory
from cxloop.web.errors import ApiError, CsrfRefused, LoginRequired
from cxloop.web.security import (
    TokenError,
    check_csrf_token,
    csrf_token,
    read_access_token,
    read_session_token,
)

__all__ = [
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "FormViewerDep",
    "PageUnitDep",
    "PageViewer",
    "PageViewerDep",
    "SessionDep",
    "WarehouseConnections",
    "SettingsDep",
    "StoresDep",
    "ViewerDep",
    "VisibleUnitDep",
    "WarehouseDep",
    "check_api_credentials",
    "client_address",
    "current_user",
    "form_viewer",
    "get_page_viewer",
    "get_session",
    "get_settings",
    "get_stores",
    "get_viewer",
    "get_warehouse",
    "page_unit",
    "session_claims",
]

_log = logging.getLogger("cxloop.auth")

SESSION_COOKIE = "cxloop_session"
LOGIN_COOKIE = "cxloop_login"

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
            try:
                session.commit()
            except sa_exc.PendingRollbackError:
                # The route answered a write the database refused (a failed flush, e.g. a NUL in a
                # text): nothing of the transaction can be kept, and the answer is the route's own.
                session.rollback()
        else:
            session.rollback()
    finally:
        session.close()


class WarehouseConnections:
    """Warehouse connections for requests, one per request at a time, safe under concurrency.

    DuckDB: the database file is opened once per app and each request gets its own cursor (a connection
    to the same database); opening the file from several threads at once fails with DuckDB's "Unique file
    handle conflict". Requests *borrow* a cursor from a pool (:meth:`borrow`) and give it back at the
    end: wrapping a new cursor in an Ibis backend (a package-metadata lookup and two ``SET`` statements)
    costs more than a cached dashboard answer (measured in ``docs/web.md``). A cursor serves one request at
    a time, so no two threads of uvicorn's pool ever share one. Other backends: a new connection per
    request.
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
            return connect_warehouse(self._settings)
        with self._lock:
            if self._root is None:
                self._root = connect_warehouse(self._settings)
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


async def get_stores(settings: SettingsDep, session: SessionDep, warehouse: WarehouseDep) -> Stores:
    """The request's settings, session and warehouse connection as one :class:`Stores` for a service.

    ``async``: it only bundles what the three dependencies above opened (FastAPI hands a route that also
    asks for one of them the same object), so it costs no trip to the thread pool.
    """
    return Stores(settings=settings, session=session, warehouse=warehouse)


StoresDep = Annotated[Stores, Depends(get_stores)]


def _unauthorised(message: str) -> ApiError:
    return ApiError(401, "not_authenticated", message, headers={"WWW-Authenticate": "Bearer"})


def client_address(request: Request) -> str:
    """The client's address (behind a proxy on loopback, uvicorn takes it from ``X-Forwarded-For``)."""
    return request.client.host if request.client else "unknown"


def _rejected(request: Request, what: str, reason: str) -> None:
    _log.warning("rejected %s from %s on %s: %s", what, client_address(request), request.url.path, reason)


_LOG_IN = "log in: send a bearer token from POST /api/v1/auth/token, or an X-API-Key header"
_BAD_KEY = "the API key is not valid (unknown or revoked)"


def _api_credentials(token: str | None, api_key: str | None) -> tuple[str | None, str | None]:
    """``(API key, bearer JWT)`` among a request's credentials: ``X-API-Key``, or a bearer token that is a
    key (``cxk_...``); else the bearer token as a JWT. 401 when there are none."""
    key = api_key or (token if token and token.startswith(KEY_PREFIX) else None)
    if key is None and not token:
        raise _unauthorised(_LOG_IN)
    return key, None if key is not None else token


def _token_claims(request: Request, settings: Settings, token: str) -> tuple[int, str]:
    """``(user_id, session_id)`` a bearer JWT names, its signature and expiry checked (else 401, logged)."""
    try:
        return read_access_token(settings, token)
    except TokenError as exc:
        _rejected(request, "bearer token", str(exc))
        raise _unauthorised("the bearer token is not valid or has expired; get a new one") from None


def _token_session(request: Request, settings: Settings, session: Session, token: str) -> tuple[int, str]:
    """``(user_id, session_id)`` of a valid bearer token whose session lives (else 401, logged)."""
    user_id, session_id = _token_claims(request, settings, token)
    if not identity.session_is_live(session, user_id, session_id):
        _rejected(request, "bearer token", f"its session has ended (user {user_id})")
        raise _unauthorised("the bearer token's session has ended (logged out); get a new one")
    return user_id, session_id


def _bad_key(request: Request) -> ApiError:
    _rejected(request, "API key", "unknown or revoked")
    return _unauthorised(_BAD_KEY)


def get_viewer(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    token: Annotated[str | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Viewer:
    """The viewer the request's credentials stand for (401 when there are none or they are not valid)."""
    key, jwt_token = _api_credentials(token, api_key)
    if key is not None:
        viewer = identity.viewer_for_api_key(session, key)
        if viewer is None:
            raise _bad_key(request)
        return viewer
    assert jwt_token is not None  # _api_credentials refused a request with neither
    user_id, _session_id = _token_session(request, settings, session, jwt_token)
    viewer = viewer_for_user(session, user_id)
    if viewer is None:
        raise _unauthorised("this account is disabled or no longer exists")
    return viewer


async def check_api_credentials(request: Request, settings: Settings, engine: Engine) -> None:
    """The check :func:`get_viewer` makes, short of the database reads it can do without, for a request
    whose body is not read yet (:class:`~cxloop.web.limits.BodyGuard`): credentials sent, a JWT's
    signature and expiry valid, an API key live (one indexed read, nothing written). Raises the same 401 as
    :func:`get_viewer`; the route's dependency then checks the rest (the token's session, the user)."""
    key, jwt_token = _api_credentials(await _bearer(request), await _api_key(request))
    if key is not None:
        if not await run_in_threadpool(_key_is_live, engine, key):
            raise _bad_key(request)
    elif jwt_token is not None:
        _token_claims(request, settings, jwt_token)


def _key_is_live(engine: Engine, key: str) -> bool:
    session = session_factory(engine)()
    try:
        return identity.api_key_is_live(session, key)
    finally:
        session.close()


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
        raise UnknownUnitError(unit_id, nearby_units(session, viewer, unit_id, visible)) from None
    return unit_id


VisibleUnitDep = Annotated[str, Depends(visible_unit)]


# --- HTML pages -------------------------------------------------------------------------------------


def session_claims(request: Request, settings: Settings) -> tuple[int, str] | None:
    """``(user id, session id)`` of the request's session cookie when its signature and expiry are valid,
    else ``None`` (a bad cookie is logged). Reads no database: enough to refuse a form post before its body
    is read (:class:`~cxloop.web.limits.BodyGuard`); :func:`current_user` goes on to the session and user."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return read_session_token(settings, token)
    except TokenError as exc:
        _rejected(request, "session cookie", str(exc))
        return None


def current_user(request: Request, settings: Settings, session: Session) -> tuple[User, str] | None:
    """The logged-in, active user of the session cookie and their session id, or ``None``."""
    claims = session_claims(request, settings)
    if claims is None:
        return None
    user_id, session_id = claims
    if not identity.session_is_live(session, user_id, session_id):
        _rejected(request, "session cookie", f"its session has ended (user {user_id})")
        return None
    user = get_user(session, user_id)
    if user is None or not user.is_active:
        return None
    return user, session_id


@dataclass(frozen=True)
class PageViewer:
    """The logged-in user of a page request: who they are, what they may see, and the page's base context.

    Every page starts from :data:`PageViewerDep`, so the header (e-mail, role, own unit), the logout form's
    CSRF token and the anonymity threshold are the same on every page.
    """

    user: User
    viewer: Viewer
    session_id: str
    settings: Settings
    unit_name: str
    labels: Labels = field(default_factory=lambda: Labels(None))

    def context(self, **extra: Any) -> dict[str, Any]:
        """What base.html needs, plus ``extra``: ``names`` (names for ids, :mod:`cxloop.services.labels`)
        and ``number_format`` (the settings' locale and currency) feed the template filters."""
        return {
            "names": self.labels,
            "number_format": number_format(self.settings.locale, self.settings.currency),
            "currency": self.settings.currency,
            "viewer": self.viewer,
            "user_email": self.user.email,
            "unit_name": self.unit_name,
            "csrf_token": csrf_token(self.settings, self.session_id),
            "min_n": self.settings.min_n,
            "confidence": f"{self.settings.confidence:.0%}",
            **extra,
        }

    def csrf_ok(self, token: str | None) -> bool:
        """Whether a form's token was issued for this session."""
        return check_csrf_token(self.settings, self.session_id, token)


def get_page_viewer(request: Request, settings: SettingsDep, session: SessionDep) -> PageViewer:
    """The logged-in viewer of a page; without a valid session the request goes to the login page."""
    current = current_user(request, settings, session)
    if current is None:
        raise LoginRequired
    user, session_id = current
    viewer = Viewer.for_user(user)
    own = get_unit(session, viewer.unit_id)
    return PageViewer(
        user, viewer, session_id, settings, own.name if own else viewer.unit_id, Labels(session)
    )


PageViewerDep = Annotated[PageViewer, Depends(get_page_viewer)]


async def form_viewer(
    page: PageViewerDep, token: Annotated[str, Form(alias="csrf_token", max_length=128)] = ""
) -> PageViewer:
    """The viewer of a form POST whose ``csrf_token`` field was issued for their session (else 403)."""
    if not page.csrf_ok(token):
        raise CsrfRefused
    return page


FormViewerDep = Annotated[PageViewer, Depends(form_viewer)]


def page_unit(unit_id: str, page: PageViewerDep, session: SessionDep) -> Unit:
    """The path's unit once it is known to be in the viewer's subtree; outside it and unknown both answer
    the 404 page (through the error mapping of :class:`ScopeError` and :class:`UnknownUnitError`)."""
    require_unit(session, page.viewer, unit_id)
    unit = get_unit(session, unit_id)
    assert unit is not None  # require_unit found it
    return unit


PageUnitDep = Annotated[Unit, Depends(page_unit)]
