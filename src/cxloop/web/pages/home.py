"""Server-rendered pages: login (CSRF-protected form, throttled, secure session cookie naming a server-side
session), logout (ends that session), and the home page.

Pages read without JavaScript; plotly.js (served from the plotly package, never a CDN) draws the charts.
Every page resolves the viewer from the session cookie (:data:`~cxloop.web.deps.PageViewerDep`) and calls
the same services as the API. The login form's CSRF token is tied to the ``cxloop_login`` cookie (there is
no session yet) and a failure re-renders the form; every later form uses
:data:`~cxloop.web.deps.FormViewerDep`.
"""

from __future__ import annotations

import math
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from cxloop.config import Settings
from cxloop.services.access import identity
from cxloop.services.access.scope import Viewer
from cxloop.services.labels import measure
from cxloop.services.prove.next_steps import next_steps
from cxloop.services.stores import Stores
from cxloop.services.understand.dashboard import home_tiles, home_trend
from cxloop.services.understand.metrics import NoDataError
from cxloop.web.deps import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    FormViewerDep,
    PageViewerDep,
    SessionDep,
    SettingsDep,
    StoresDep,
    client_address,
)
from cxloop.web.pages.dashboard import ACTION_FROM_PRIORITY, served_routes
from cxloop.web.rendering import templates, to_login
from cxloop.web.security import (
    SESSION_MINUTES,
    LoginRefused,
    LoginThrottle,
    check_csrf_token,
    create_session_token,
    csrf_token,
)

__all__ = ["router"]


router = APIRouter(include_in_schema=False)


def _secure(settings: Settings) -> bool:
    return settings.environment != "development"


def _login_page(
    request: Request, settings: Settings, *, status: int = 200, email: str = "", error: str | None = None
) -> Response:
    login_id = secrets.token_urlsafe(16)
    context = {"csrf_token": csrf_token(settings, login_id), "email": email, "error": error, "viewer": None}
    response = templates.TemplateResponse(request, "login.html", context, status_code=status)
    response.set_cookie(
        LOGIN_COOKIE, login_id, max_age=3600, httponly=True, samesite="strict", secure=_secure(settings)
    )
    return response


@router.get("/login")
def login_page(request: Request, settings: SettingsDep) -> Response:
    return _login_page(request, settings)


@router.post("/login")
def login_submit(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    token: Annotated[str, Form(alias="csrf_token", max_length=128)] = "",
) -> Response:
    login_id = request.cookies.get(LOGIN_COOKIE, "")
    if not login_id or not check_csrf_token(settings, login_id, token):
        return _login_page(
            request, settings, status=403, email=email, error="The form expired; please try again."
        )
    throttle: LoginThrottle = request.app.state.login_throttle
    try:
        with throttle.attempt(email, client_address(request)) as attempt:
            user = identity.authenticate(session, email, password)
            if user is not None:
                attempt.succeeded()
    except LoginRefused as refused:
        message = f"Too many failed logins; try again in {math.ceil(refused.retry_after / 60)} min."
        response = _login_page(request, settings, status=429, email=email, error=message)
        response.headers["Retry-After"] = str(math.ceil(refused.retry_after))
        return response
    if user is None:
        return _login_page(request, settings, status=401, email=email, error="Wrong email or password.")
    session_id = identity.start_session(session, user.id, "page", SESSION_MINUTES)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        create_session_token(settings, user.id, session_id),
        max_age=SESSION_MINUTES * 60,
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(page: FormViewerDep, session: SessionDep) -> Response:
    # Ends the session on the server: a copy of the cookie stops working too, not only this browser's.
    identity.end_session(session, page.session_id)
    response = to_login()
    response.delete_cookie(SESSION_COOKIE)
    return response


def _home_data(viewer: Viewer, stores: Stores) -> dict[str, Any]:
    tiles = [tile.to_dict() for tile in home_tiles(viewer, stores=stores)]
    trend = {**home_trend(viewer, stores=stores), "xtitle": "Month", "ytitle": measure("nps").axis}
    return {"tiles": tiles, "trend": trend, "message": None}


@router.get("/")
def home(request: Request, page: PageViewerDep, stores: StoresDep) -> Response:
    try:
        data = _home_data(page.viewer, stores)
    except NoDataError:
        empty = {"x": [], "y": [], "low": [], "high": [], "confidence": "", "lines": []}
        data = {"tiles": [], "trend": empty, "message": "No survey responses in your scope yet."}
    steps = next_steps(page.viewer, stores=stores).to_dict()
    can_act = any(
        path == ACTION_FROM_PRIORITY and "POST" in methods for path, methods in served_routes(request.app)
    )
    context = page.context(
        **data, grain="month", steps=steps, can_act=can_act, action_url=ACTION_FROM_PRIORITY
    )
    return templates.TemplateResponse(request, "home.html", context)
