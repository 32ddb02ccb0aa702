"""Dashboard reads: every GET (and HEAD) request is answered inside
:func:`~cxloop.services.cache.stale_while_recomputing` with ``CXLOOP_DASHBOARD_STALENESS_SECONDS``.

Pages and GET API routes only read; while responses keep arriving (say two posts a second) the warehouse's
data version changes with each, and recomputing the expensive answers (the home tiles, the touchpoints'
driver analyses: seconds at 10M responses) for every write made every reader pay for every write. Inside
a dashboard read an answer computed before the latest writes is served while it is younger than the
interval; after it, one request recomputes it and the others keep getting the older answer meanwhile.
Posts, patches and deletes (and everything outside the web app: alert rules, imports, the command line)
always read current data.

How fresh the answer is goes in two headers, set when any cached answer was used:

* ``X-Data-Version``: the warehouse's data version of the oldest answer the response was built from;
* ``X-Data-As-Of``: when that data was read (ISO 8601, UTC): the request's own time when every answer was
  current, else when the oldest one was computed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cxloop.services.cache import stale_while_recomputing

__all__ = ["DashboardReads"]

_READS = frozenset({"GET", "HEAD"})


class DashboardReads:
    """A plain ASGI middleware: GET and HEAD requests are dashboard reads (see the module notes)."""

    def __init__(self, app: ASGIApp, *, staleness_seconds: float) -> None:
        self.app = app
        self.staleness_seconds = staleness_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _READS:
            await self.app(scope, receive, send)
            return
        with stale_while_recomputing(self.staleness_seconds) as read:

            async def send_with_freshness(message: Message) -> None:
                if message["type"] == "http.response.start" and read.version is not None:
                    headers = MutableHeaders(scope=message)
                    headers["X-Data-Version"] = str(read.version)
                    if read.as_of is not None:
                        stamp = datetime.fromtimestamp(read.as_of, UTC)
                        headers["X-Data-As-Of"] = stamp.isoformat(timespec="milliseconds")
                await send(message)

            await self.app(scope, receive, send_with_freshness)
