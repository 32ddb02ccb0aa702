"""Dashboard reads: every GET (and HEAD) request is answered inside
:func:`~cxloop.services.cache.stale_while_recomputing` with ``CXLOOP_DASHBOARD_STALENESS_SECONDS``.

Pages and GET API routes only read; while responses keep arriving (say two posts a second) the warehouse's
data version changes with each, and recomputing the expensive answers (the home tiles, the touchpoints'
driver analyses: seconds at 10M responses) for every write made every reader pay for every write. Inside
a dashboard read an answer computed before the latest writes is served while it is younger than the
interval. After it, the request that finds it so is still answered at once with that answer, and the
answer is recomputed *in the background*: once the response is sent, the same request is replayed (its
path, query and credentials; the response is thrown away) as a *refresh* read, which recomputes every
answer past the interval that it meets -- through the route's own dependencies, so with its own
app-database session and its own pooled warehouse cursor. Meanwhile every other reader keeps getting the
older answer; each question is scheduled once, so it is recomputed at most once per interval however many
writes and readers arrive. No reader waits for a recomputation, except for an answer nobody has asked for
yet. With the setting at 0 the first reader after a write recomputes in its own request (the older answer
goes to the others only while it is at it). Posts, patches and deletes (and everything outside the web app:
alert rules, imports, the command line) always read current data.

How fresh the answer is goes in two headers, set when any cached answer was used:

* ``X-Data-Version``: the warehouse's data version of the oldest answer the response was built from;
* ``X-Data-As-Of``: when that data was read (ISO 8601, UTC): the request's own time when every answer was
  current, else when the oldest one was computed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cxloop.services.cache import DashboardRead, release, stale_while_recomputing

__all__ = ["DashboardReads", "Refreshes"]

_log = logging.getLogger("cxloop.web.freshness")
_READS = frozenset({"GET", "HEAD"})


class Refreshes:
    """The background refreshes under way (``app.state.dashboard_refreshes``): started, counted, and
    waited for (:meth:`wait`, for tests and shutdown)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = threading.Condition()
        self.started = 0
        self.failed = 0

    def start(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        with self._idle:
            self._tasks.add(task)
            self.started += 1
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        with self._idle:
            self._tasks.discard(task)
            self._idle.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block (in another thread than the event loop's) until no refresh is under way."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._tasks, timeout)

    @property
    def running(self) -> int:
        return len(self._tasks)


class DashboardReads:
    """A plain ASGI middleware: GET and HEAD requests are dashboard reads (see the module notes)."""

    def __init__(self, app: ASGIApp, *, staleness_seconds: float, refreshes: Refreshes) -> None:
        self.app = app
        self.staleness_seconds = staleness_seconds
        self.refreshes = refreshes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _READS:
            await self.app(scope, receive, send)
            return
        background = self.staleness_seconds > 0
        with stale_while_recomputing(self.staleness_seconds, background=background) as read:

            async def send_with_freshness(message: Message) -> None:
                if message["type"] == "http.response.start":
                    _freshness_headers(message, read)
                await send(message)

            try:
                await self.app(scope, receive, send_with_freshness)
            except BaseException:
                release(read.scheduled)
                raise
        if read.scheduled:
            self.refreshes.start(self._refresh(dict(scope), list(read.scheduled)))

    async def _refresh(self, scope: Scope, questions: list[object]) -> None:
        """Replay a read whose answers were past the interval, recomputing them; the response is dropped."""
        done = asyncio.Event()

        async def receive() -> Message:
            if not received:
                received.append(True)
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def discard(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                done.set()

        received: list[bool] = []
        try:
            with stale_while_recomputing(self.staleness_seconds, refresh=True):
                await self.app(scope, receive, discard)
        except Exception:  # noqa: BLE001 - a failed refresh leaves the older answer; the next read retries
            self.refreshes.failed += 1
            _log.exception("background refresh of %s failed", scope.get("path"))
        finally:
            done.set()
            release(questions)


def _freshness_headers(message: Message, read: DashboardRead) -> None:
    if read.version is None:
        return
    headers = MutableHeaders(scope=message)
    headers["X-Data-Version"] = str(read.version)
    if read.as_of is not None:
        headers["X-Data-As-Of"] = datetime.fromtimestamp(read.as_of, UTC).isoformat(timespec="milliseconds")
