"""What every HTML page renders with: the Jinja templates and their number filters, and the small pages
the error mapping answers with (login redirect, not found, an error in a sentence).

The template filters are all registered here, once, so a template renders the same whichever page module
was imported first.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import escape

__all__ = ["LOGIN_PATH", "error_page", "not_found_page", "templates", "to_login"]

LOGIN_PATH = "/login"

templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")


def _one_decimal(value: float) -> str:
    """``12.3``; never ``-0.0``."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _difference(value: float) -> str:
    """``+1.2`` / ``-1.2``; never ``-0.0`` or ``+0.0``."""
    text = f"{value:+.1f}"
    return "0.0" if text in ("-0.0", "+0.0") else text


def _spark_points(values: list[float | None], width: int = 160, height: int = 32) -> str:
    """SVG polyline points of a sparkline (gaps for suppressed periods are skipped)."""
    shown = [(i, v) for i, v in enumerate(values) if v is not None]
    if not shown:
        return ""
    low, high = min(v for _, v in shown), max(v for _, v in shown)
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}" for i, v in shown)


def _pct(value: Any) -> str:
    """``+12%``; ``-`` for a missing value."""
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.0%}"


def _signed(value: Any, digits: int = 2) -> str:
    """``+1,234.50``; ``-`` for a missing or infinite value; never ``-0.00``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    text = f"{value:+,.{digits}f}"
    return text.replace("-0.00", "0.00").replace("+0.00", "0.00")


def _scaled(value: Any, factor: float) -> Any:
    """``value * factor``; a missing value stays missing (an interval a method cannot give, e.g. the wild
    cluster bootstrap's with one pilot unit)."""
    return None if value is None else value * factor


templates.env.filters.update(
    num=_one_decimal,
    difference=_difference,
    spark_points=_spark_points,
    pct=_pct,
    signed=_signed,
    scaled=_scaled,
)


def to_login() -> RedirectResponse:
    """The answer to a page request without a valid session: see other, the login page."""
    return RedirectResponse(LOGIN_PATH, status_code=303)


def error_page(status: int, title: str, message: str) -> HTMLResponse:
    """A one-sentence error page (title and message escaped)."""
    return HTMLResponse(f"<h1>{escape(title)}</h1><p>{escape(message)}</p>", status)


def not_found_page(message: str) -> HTMLResponse:
    """The 404 page of something that does not exist or is outside the viewer's scope (told apart by none)."""
    return error_page(404, "Not found", message)
