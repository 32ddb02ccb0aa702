"""An in-process cache of service results, keyed by the warehouse's data version, the viewer's scope and
the query.

A dashboard asks the same questions again and again between two imports; each answer costs a warehouse
query, Ibis compiling it, and the statistics on top (hundreds of milliseconds at 10M responses), while
looking it up costs microseconds. An entry's key is::

    (service, data version, viewer's unit, the units the viewer can see, the query, settings that
     change the numbers)

* **Never stale.** The data version (:mod:`cxloop.warehouse.derived.data_version`) changes in the same
  transaction as every write through the ingest layer, so the first read after a new response, a re-imported
  hierarchy or new comment tags misses and recomputes; nothing has to be invalidated by hand. A
  warehouse without a version (written around the ingest layer) is never cached.
* **Never shared across scopes.** The viewer's unit and the set of units they can see (read from the
  app database on every request, before the cache is consulted) are part of the key: a branch manager
  can never be handed a result computed for the executive, and a change to the hierarchy or to a
  user's unit changes the key. Scope checks (:func:`~cxloop.services.access.scope.require_unit`) run before
  the lookup, so an out-of-scope request fails exactly as without the cache.
* **Bounded.** A least-recently-used dictionary of :data:`DEFAULT_SIZE` entries per process (a results
  object is a few kB to a few hundred kB), guarded by a lock for uvicorn's thread pool. Entries of an
  older version are never read again and age out.
* **Single flight.** Requests that miss the same entry at the same time (every open dashboard right
  after a write) compute it once; the others wait for that result.
* **Read-only results.** A cached object is shared by every request that hits it: services hand out
  copies of anything mutable (DataFrames, lists of dicts).

:func:`configure` resizes the process's cache (``0`` turns caching off, e.g. to compare against it).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from enum import Enum
from typing import Any, TypeVar

from ibis.backends import BaseBackend

from cxloop.warehouse.derived.data_version import DataVersion, data_version

__all__ = [
    "DEFAULT_SIZE",
    "MISSING",
    "ResultCache",
    "cached",
    "configure",
    "freeze",
    "results",
    "stale_while_recomputing",
    "warehouse_tables",
]

T = TypeVar("T")
DEFAULT_SIZE = 1024  # two entries per question: its answer at a version, and its newest answer (shared)
_MISSING = object()
MISSING = _MISSING
"""What :meth:`ResultCache.get` answers for a key it does not hold."""


class ResultCache:
    """A thread-safe LRU mapping of hashable keys to results, with hit and miss counts."""

    def __init__(self, maxsize: int = DEFAULT_SIZE) -> None:
        if maxsize < 0:
            raise ValueError("maxsize must not be negative")
        self.maxsize = maxsize
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.stale_served = 0

    def get(self, key: Hashable) -> Any:
        """The entry (marking it recently used), or the module's missing marker."""
        with self._lock:
            value = self._entries.get(key, _MISSING)
            if value is _MISSING:
                self.misses += 1
            else:
                self.hits += 1
                self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        if self.maxsize == 0:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = self.stale_served = 0

    def __len__(self) -> int:
        return len(self._entries)


#: The process's cache of service results.
results = ResultCache()


def configure(maxsize: int) -> None:
    """Resize the process's cache (``0`` turns caching off); its entries are dropped."""
    global results
    results = ResultCache(maxsize)


def freeze(value: Any) -> Hashable:
    """A hashable, order-independent stand-in for a query: dataclasses, mappings, sets and lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__qualname__,
            tuple((f.name, freeze(getattr(value, f.name))) for f in dataclasses.fields(value)),
        )
    if isinstance(value, Mapping):
        return ("map", tuple(sorted((str(k), freeze(v)) for k, v in value.items())))
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted(freeze(v) for v in value)))  # type: ignore[type-var]
    if isinstance(value, (list, tuple)):
        return ("seq", tuple(freeze(v) for v in value))
    if isinstance(value, Enum):
        return value.value
    hash(value)  # anything else must be hashable as it is
    return value


_stale_ok: ContextVar[bool] = ContextVar("cxloop_serve_stale", default=False)


@contextmanager
def stale_while_recomputing() -> Iterator[None]:
    """Within this block, a read that finds its answer being recomputed for a newer data version (another
    request is already at it) takes the newest answer of an older version at once instead of waiting.

    For dashboard reads only (the web API turns it on): right after a write, one request per question
    recomputes -- the first reader still gets the new data -- and everyone else keeps reading what they
    saw a moment ago until that request is done. Alert rules, imports and the command line never see an
    older answer.
    """
    token = _stale_ok.set(True)
    try:
        yield
    finally:
        _stale_ok.reset(token)


def cached(
    service: str,
    con: BaseBackend,
    key: Hashable,
    compute: Callable[[], T],
    copy: Callable[[T], T] | None = None,
) -> T:
    """``compute()``'s result for ``key`` at the warehouse's current data version, from the cache when
    it is there. ``copy`` makes the object handed out (so a caller cannot change the cached one).

    The version is read *before* computing: a write that lands meanwhile gives a newer version, so the
    entry can at worst hold newer data under the older key, never older data under the newer one.
    Inside :func:`stale_while_recomputing`, a miss that another request is already computing answers the
    newest older-version result of the same question, when there is one.
    """
    version: DataVersion | None = data_version(con)
    if version is None:
        return compute()
    full = (service, version, key)
    store = results
    value = store.get(full)
    if value is _MISSING:
        newest = (_NEWEST, service, version.warehouse_id, key)
        value = _single_flight(full, store, compute, newest if _stale_ok.get() else None)
        if isinstance(value, _Older):  # another request is recomputing: an older version's answer
            store.stale_served += 1
            value = value.value
        else:
            store.put(newest, value)
    return copy(value) if copy is not None else value


@dataclasses.dataclass(frozen=True)
class _Older:
    value: Any


_NEWEST = "newest"  # key prefix of the newest answer to a question, whatever its version
_inflight: dict[Hashable, threading.Event] = {}
_inflight_lock = threading.Lock()


def _single_flight(
    key: Hashable, store: ResultCache, compute: Callable[[], T], newest: Hashable | None = None
) -> Any:
    """Compute a missing entry once however many requests miss it at the same time: after a write every
    open dashboard asks again at once, and twenty copies of the same cold query would queue behind each
    other on the same cores. The others wait for the first and take its result -- or, given ``newest``
    (the key of the newest answer to the question, at any version) and holding one, do not wait: that
    answer comes back wrapped in :class:`_Older`."""
    with _inflight_lock:
        running = _inflight.get(key)
        if running is None:
            running = _inflight[key] = threading.Event()
            leader = True
        else:
            leader = False
    if leader:
        try:
            value = compute()
            store.put(key, value)
            return value
        finally:
            with _inflight_lock:
                _inflight.pop(key, None)
            running.set()
    if newest is not None and (older := store.get(newest)) is not _MISSING:
        return _Older(older)
    running.wait()
    value = store.get(key)
    if value is _MISSING:  # the first one failed (or caching is off): compute on our own
        value = compute()
    return value


def warehouse_tables(con: BaseBackend) -> frozenset[str]:
    """The warehouse's table names, listed once per data version (a listing through Ibis is slow next to a
    cache hit, docs/architecture.md; tables are created by writes, which change the version)."""
    return cached("warehouse.tables", con, None, lambda: frozenset(con.list_tables()))
