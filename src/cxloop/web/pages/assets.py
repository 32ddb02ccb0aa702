"""The pages' scripts and stylesheets, each at its own path under ``/static/``.

plotly.js comes from the installed plotly package (never a CDN) and may be cached for a day; cxloop's own
files are revalidated on every load (``no-cache``), so a new version is picked up at once.
"""

from __future__ import annotations

from pathlib import Path

import plotly
from fastapi import APIRouter
from fastapi.responses import FileResponse

__all__ = ["PLOTLY_JS", "router"]

PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
_STATIC = Path(__file__).resolve().parents[1] / "static"
_JS = "text/javascript"
_CSS = "text/css"

router = APIRouter(include_in_schema=False)


def _own(name: str, media_type: str) -> FileResponse:
    return FileResponse(_STATIC / name, media_type=media_type, headers={"Cache-Control": "no-cache"})


@router.get("/static/plotly.min.js")
def plotly_js() -> FileResponse:
    """plotly.js from the installed plotly package (cached for a day)."""
    return FileResponse(PLOTLY_JS, media_type=_JS, headers={"Cache-Control": "public, max-age=86400"})


@router.get("/static/cxloop.css")
def stylesheet() -> FileResponse:
    return _own("cxloop.css", _CSS)


@router.get("/static/home.js")
def home_js() -> FileResponse:
    return _own("home.js", _JS)


@router.get("/static/dashboard.js")
def dashboard_js() -> FileResponse:
    return _own("dashboard.js", _JS)


@router.get("/static/pilots.js")
def pilots_js() -> FileResponse:
    return _own("pilots.js", _JS)


@router.get("/static/themes.js")
def themes_js() -> FileResponse:
    return _own("themes.js", _JS)


@router.get("/static/programme.css")
def programme_css() -> FileResponse:
    return _own("programme.css", _CSS)


@router.get("/static/cxloop.js")
def site_js() -> FileResponse:
    return _own("cxloop.js", _JS)


@router.get("/static/favicon.svg")
def favicon() -> FileResponse:
    return _own("favicon.svg", "image/svg+xml")


@router.get("/static/plans.js")
def plans_js() -> FileResponse:
    return _own("plans.js", _JS)
