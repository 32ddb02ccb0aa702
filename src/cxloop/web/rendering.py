"""What every HTML page renders with: the Jinja templates and their number filters, and the small pages
the error mapping answers with (login redirect, not found, an error in a sentence).

The template filters are all registered here, once, so a template renders the same whichever page module
was imported first.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from cxloop.services.formatting import MISSING, NumberFormat, number_format
from cxloop.services.labels import Labels, measure

__all__ = ["LOGIN_PATH", "error_page", "not_found_page", "templates", "to_login"]

LOGIN_PATH = "/login"

templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")


def _spark_points(values: list[float | None], width: int = 160, height: int = 32) -> str:
    """SVG polyline points of a sparkline (gaps for suppressed periods are skipped)."""
    shown = [(i, v) for i, v in enumerate(values) if v is not None]
    if not shown:
        return ""
    low, high = min(v for _, v in shown), max(v for _, v in shown)
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}" for i, v in shown)


def _scaled(value: Any, factor: float) -> Any:
    """``value * factor``; a missing value stays missing (an interval a method cannot give, e.g. the wild
    cluster bootstrap's with one pilot unit)."""
    return None if value is None else value * factor


def _format(context: Any) -> NumberFormat:
    """The page's formatter (the settings' locale and currency), or the defaults on a page without one."""
    shown = context.get("number_format")
    if isinstance(shown, NumberFormat):
        return shown
    request = context.get("request")
    settings = getattr(getattr(getattr(request, "app", None), "state", None), "settings", None)
    if settings is not None:
        return number_format(settings.locale, settings.currency)
    return number_format()


def _labels(context: Any) -> Labels:
    labels = context.get("names")
    return labels if isinstance(labels, Labels) else Labels(None)


def _number_filter(method: str) -> Callable[..., str]:
    """A filter calling ``NumberFormat.<method>`` of the page's formatter."""

    @pass_context
    def apply(context: Any, value: Any, *args: Any) -> str:
        return str(getattr(_format(context), method)(value, *args))

    apply.__name__ = method
    return apply


def _label_filter(method: str) -> Callable[..., str]:
    """A filter calling ``Labels.<method>`` of the page's labels."""

    @pass_context
    def apply(context: Any, value: Any, *args: Any) -> str:
        return str(getattr(_labels(context), method)(value, *args))

    apply.__name__ = method
    return apply


@pass_context
def _measure(context: Any, value: Any, key: str, signed: bool = False) -> str:
    """``value`` formatted the way metric ``key`` reads: a rate as a percentage, money with its currency,
    a score with one decimal (``signed``: a difference, with its sign)."""
    fmt, kind = _format(context), measure(key).kind
    if kind == "rate":
        return fmt.signed_percent(value, 1) if signed else fmt.percent(value, 1)
    if kind == "money":
        return fmt.signed_money(value) if signed else fmt.money(value)
    if kind == "percent":  # already 0-100
        text = fmt.signed(value) if signed else fmt.number(value)
        return text if text == MISSING else text + (" pts" if signed else "%")
    if kind == "count":
        return fmt.count(value)
    return fmt.signed(value) if signed else fmt.number(value)


@pass_context
def _axis(context: Any, key: str) -> str:
    """An axis title for metric ``key``: its name and unit (money in the settings' currency)."""
    shown = measure(key)
    if shown.kind == "money":
        return f"{shown.label} ({_format(context).currency})"
    if shown.kind in ("rate", "percent"):
        return f"{shown.label} (%)"
    return shown.axis


# Numbers (cxloop.services.formatting): every page writes them through these, in the settings' locale.
templates.env.filters.update(
    num=_number_filter("number"),  # 2,132.1 (digits=1)
    count=_number_filter("count"),  # 6,034
    difference=_number_filter("signed"),  # +2.1
    signed=_number_filter("signed"),  # +2.13 with signed(2)
    percent=_number_filter("percent"),  # a ratio as 71% (percent(1): 71.4%)
    pct=_number_filter("signed_percent"),  # a change as +12%
    money=_number_filter("money"),  # EUR 2,132 as the locale writes it
    signed_money=_number_filter("signed_money"),
    pvalue=_number_filter("p_value"),  # < 0.001
    date=_number_filter("date"),
    datetime=_number_filter("datetime"),
    measure=_measure,  # value|measure("p_alive") -> 71.4%
    axis=_axis,
    spark_points=_spark_points,
    scaled=_scaled,
)
# Names for ids (cxloop.services.labels): ids stay in URLs and CSV id columns.
templates.env.filters.update(
    touchpoint=_label_filter("touchpoint"),
    segment=_label_filter("segment"),
    item=_label_filter("item"),
    unit_name=_label_filter("unit"),
    user_name=_label_filter("user"),
    theme=_label_filter("theme"),
    metric=_label_filter("metric"),
    inference=_label_filter("inference"),
    audit_field=_label_filter("field"),
    audit_value=_label_filter("change"),
)


def to_login() -> RedirectResponse:
    """The answer to a page request without a valid session: see other, the login page."""
    return RedirectResponse(LOGIN_PATH, status_code=303)


#: What a person can do next, by status: said under the error's own message.
_HINTS = {
    403: "Your login does not allow this. If you need it, ask an administrator of your unit.",
    404: (
        "It may never have existed, or it belongs to a part of the organisation outside what your login "
        "can see. Links from your own pages always work."
    ),
    500: "Something went wrong on our side; nothing you did caused it. Try again in a moment.",
    503: "The service cannot store or read data right now. Try again in a moment.",
}


def error_page(status: int, title: str, message: str) -> HTMLResponse:
    """An error as a page of the site: its layout, a title, a heading, the message in a sentence, what to
    do next and a way back (title and message escaped by the template)."""
    html = templates.get_template("error.html").render(
        status=status, title=title, message=message, hint=_HINTS.get(status)
    )
    return HTMLResponse(html, status)


def not_found_page(message: str) -> HTMLResponse:
    """The 404 page of something that does not exist or is outside the viewer's scope (told apart by none)."""
    return error_page(404, "Not found", message)
