"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served with no request
leaving the machine.

FastAPI's own pages load Swagger UI and ReDoc from a CDN (and ReDoc its fonts from Google), so on a
machine without internet they were blank. The same pages (FastAPI's ``get_swagger_ui_html`` and
``get_redoc_html``) now point at copies served from the package under ``/static/vendor/``: the files are
those of the npm packages ``swagger-ui-dist`` 5.31.0 (Apache-2.0) and ``redoc`` 2.5.0 (MIT), unchanged,
with their licence files beside them (``*.LICENSE.txt``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

__all__ = ["DOCS_PATHS", "VENDORED", "router"]

_VENDOR = Path(__file__).resolve().parents[1] / "static" / "vendor"
VENDOR_URL = "/static/vendor"

#: Every vendored file served, with its media type (nothing else under /static/vendor/ is served).
VENDORED: dict[str, str] = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
    "redoc.standalone.js": "text/javascript",
    "swagger-ui-bundle.js.LICENSE.txt": "text/plain; charset=utf-8",
    "swagger-ui-dist.LICENSE.txt": "text/plain; charset=utf-8",
    "redoc.standalone.js.LICENSE.txt": "text/plain; charset=utf-8",
    "redoc.LICENSE.txt": "text/plain; charset=utf-8",
}

OAUTH2_REDIRECT = "/docs/oauth2-redirect"
#: The pages that bootstrap their viewer with an inline script (their own Content-Security-Policy).
DOCS_PATHS = frozenset({"/docs", OAUTH2_REDIRECT, "/redoc"})

router = APIRouter(include_in_schema=False)


@router.get("/static/vendor/{name}")
def vendored(name: str) -> FileResponse:
    """A vendored file (cached for a day: its name changes with nothing but a cxloop release)."""
    if name not in VENDORED:
        raise HTTPException(404, "Not Found")
    return FileResponse(
        _VENDOR / name, media_type=VENDORED[name], headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - API",
        swagger_js_url=f"{VENDOR_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{VENDOR_URL}/swagger-ui.css",
        swagger_favicon_url=f"{VENDOR_URL}/favicon-32x32.png",
        oauth2_redirect_url=OAUTH2_REDIRECT,
    )


@router.get(OAUTH2_REDIRECT)
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - API",
        redoc_js_url=f"{VENDOR_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{VENDOR_URL}/favicon-32x32.png",
        with_google_fonts=False,
    )
