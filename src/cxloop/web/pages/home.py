"""Server-rendered pages: login (CSRF-protected form, secure session cookie), logout, and the home page.

Pages read without JavaScript; plotly.js (served from the plotly package, never a CDN) draws the charts.
Every page resolves the viewer from the session cookie and calls the same services as the API.

Cookies: ``cxloop_session`` holds a signed JWT (user id + random session id), HttpOnly, SameSite=Lax and
Secure outside development. CSRF: every form carries an HMAC of a random id (the session id, or before
login the ``cxloop_login`` cookie) under a key derived from the secret key; a POST without the matching
token is refused with 403.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import plotly
from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from ibis.backends import BaseBackend
from markupsafe import escape
from sqlalchemy.orm import Session

from cxloop.config import Settings
from cxloop.services.access import identity
from cxloop.services.access.scope import ScopeError, UnknownUnitError, Viewer, require_unit
from cxloop.services.understand.dashboard import home_tiles
from cxloop.services.understand.metrics import MetricsQuery, NoDataError, metrics
from cxloop.store import units as unit_store
from cxloop.store.models import Unit, User
from cxloop.web.deps import SessionDep, SettingsDep, WarehouseDep
from cxloop.web.security import (
    SESSION_MINUTES,
    LoginThrottle,
    TokenError,
    check_csrf_token,
    create_session_token,
    csrf_token,
    read_session_token,
)

__all__ = [
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "breadcrumbs",
    "PageViewer",
    "current_user",
    "not_found_page",
    "page_viewer",
    "page_for_unit",
    "router",
    "templates",
    "to_login",
]

SESSION_COOKIE = "cxloop_session"
LOGIN_COOKIE = "cxloop_login"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
_STATIC = Path(__file__).resolve().parents[1] / "static"

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")


def _one_decimal(value: float) -> str:
    """``12.3``; never ``-0.0``."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _difference(value: float) -> str:
    """``+1.2`` / ``-1.2``; never ``-0.0`` or ``+0.0``."""
    text = f"{value:+.1f}"
    return "0.0" if text in ("-0.0", "+0.0") else text


templates.env.filters["num"] = _one_decimal
templates.env.filters["difference"] = _difference


def _secure(settings: Settings) -> bool:
    return settings.environment != "development"


def current_user(request: Request, settings: Settings, session: Session) -> tuple[User, str] | None:
    """The logged-in, active user and their session id, or ``None``."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        user_id, session_id = read_session_token(settings, token)
    except TokenError:
        return None
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        return None
    return user, session_id


def to_login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


@dataclass(frozen=True)
class PageViewer:
    """The logged-in user of a page request: who they are, what they may see, and the page's base context.

    Every page starts from :func:`page_viewer`, so the header (e-mail, role, own unit), the logout form's
    CSRF token and the anonymity threshold are the same on every page.
    """

    user: User
    viewer: Viewer
    session_id: str
    settings: Settings
    unit_name: str

    def context(self, **extra: Any) -> dict[str, Any]:
        """What base.html needs, plus ``extra``."""
        return {
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


def page_viewer(request: Request, settings: Settings, session: Session) -> PageViewer | None:
    """The page's :class:`PageViewer`, or ``None`` when nobody is logged in (then :func:`to_login`)."""
    current = current_user(request, settings, session)
    if current is None:
        return None
    user, session_id = current
    viewer = Viewer.for_user(user)
    own = session.get(Unit, viewer.unit_id)
    return PageViewer(user, viewer, session_id, settings, own.name if own else viewer.unit_id)


def page_for_unit(
    request: Request, settings: Settings, session: Session, unit_id: str
) -> tuple[PageViewer, Unit] | Response:
    """The viewer and a unit of their subtree, or the login redirect, or the 404 page (outside scope and
    unknown read the same)."""
    page = page_viewer(request, settings, session)
    if page is None:
        return to_login()
    try:
        require_unit(session, page.viewer, unit_id)
    except (ScopeError, UnknownUnitError):
        return not_found_page(f"No unit {unit_id} among the units you can see.")
    unit = session.get(Unit, unit_id)
    assert unit is not None  # require_unit found it
    return page, unit


def breadcrumbs(session: Session, viewer: Viewer, unit_id: str) -> list[Unit]:
    """The path from the viewer's own unit down to ``unit_id``: nothing above the viewer is shown."""
    ancestors = unit_store.ancestor_ids(session, unit_id)
    first = ancestors.index(viewer.unit_id) if viewer.unit_id in ancestors else len(ancestors)
    return [unit for u in ancestors[first:] if (unit := session.get(Unit, u)) is not None]


def not_found_page(message: str) -> HTMLResponse:
    """The 404 page of something that does not exist or is outside the viewer's scope (told apart by none)."""
    return HTMLResponse(f"<h1>Not found</h1><p>{escape(message)}</p>", 404)


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
    wait = throttle.retry_after(email)
    if wait > 0:
        message = f"Too many failed logins; try again in {math.ceil(wait / 60)} min."
        return _login_page(request, settings, status=429, email=email, error=message)
    user = identity.authenticate(session, email, password)
    if user is None:
        throttle.failed(email)
        return _login_page(request, settings, status=401, email=email, error="Wrong email or password.")
    throttle.succeeded(email)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        create_session_token(settings, user.id, secrets.token_urlsafe(16)),
        max_age=SESSION_MINUTES * 60,
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    token: Annotated[str, Form(alias="csrf_token", max_length=128)] = "",
) -> Response:
    page = page_viewer(request, settings, session)
    if page is None:
        return to_login()
    if not page.csrf_ok(token):
        return Response("CSRF token missing or wrong", status_code=403, media_type="text/plain")
    response = to_login()
    response.delete_cookie(SESSION_COOKIE)
    return response


def _spark_points(values: list[float | None], width: int = 160, height: int = 32) -> str:
    """SVG polyline points of a sparkline (gaps for suppressed periods are skipped)."""
    shown = [(i, v) for i, v in enumerate(values) if v is not None]
    if not shown:
        return ""
    low, high = min(v for _, v in shown), max(v for _, v in shown)
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}" for i, v in shown)


templates.env.filters["spark_points"] = _spark_points


def _home_data(viewer: Viewer, settings: Settings, session: Session, con: BaseBackend) -> dict[str, Any]:
    tiles = [tile.to_dict() for tile in home_tiles(viewer, settings=settings, session=session, con=con)]
    query = MetricsQuery(unit=viewer.unit_id, grain="month", metrics=("nps",))
    records = metrics(viewer, query, settings=settings, session=session, con=con).to_records()
    nps = [r for r in records if r["metric"] == "nps" and not r["suppressed"]]
    trend = {
        "x": [r["period_start"] for r in nps],
        "y": [r["estimate"] for r in nps],
        "low": [r["ci_low"] for r in nps],
        "high": [r["ci_high"] for r in nps],
        "confidence": f"{settings.confidence:.0%}",
    }
    return {"tiles": tiles, "trend": trend, "message": None}


@router.get("/")
def home(request: Request, settings: SettingsDep, session: SessionDep, con: WarehouseDep) -> Response:
    page = page_viewer(request, settings, session)
    if page is None:
        return to_login()
    try:
        data = _home_data(page.viewer, settings, session, con)
    except NoDataError:
        empty = {"x": [], "y": [], "low": [], "high": [], "confidence": ""}
        data = {"tiles": [], "trend": empty, "message": "No survey responses in your scope yet."}
    return templates.TemplateResponse(request, "home.html", page.context(**data, grain="month"))


@router.get("/static/plotly.min.js")
def plotly_js() -> FileResponse:
    """plotly.js from the installed plotly package (cached for a day)."""
    return FileResponse(
        PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/static/home.js")
def home_js() -> FileResponse:
    return FileResponse(
        _STATIC / "home.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )
