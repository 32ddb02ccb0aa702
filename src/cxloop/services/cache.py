"""An in-process cache of service results, keyed by the viewer's scope and the query, and checked against
the warehouse's data version.

A dashboard asks the same questions again and again between two imports; each answer costs a warehouse
query, Ibis compiling it, and the statistics on top (hundreds of milliseconds at 10M responses, seconds
for the home tiles), while looking it up costs microseconds. An entry's key (the *question*) is::

    (service, warehouse id, viewer's unit, the units the viewer can see, the query, settings that
     change the numbers)

and it holds one :class:`Answer`: the result, the data version it was computed at and when.

* **Fresh by default.** The data version (:mod:`cxloop.warehouse.derived.data_version`) changes in the
  same transaction as every write through the ingest layer, so outside a dashboard read the first read
  after a new response, a re-imported hierarchy or new comment tags recomputes; nothing has to be
  invalidated by hand. A warehouse without a version (written around the ingest layer) is never cached.
* **Dashboard reads may be a few seconds old** (:func:`stale_while_recomputing`, which the web app turns
  on for every GET: ``CXLOOP_DASHBOARD_STALENESS_SECONDS``). Under a steady stream of posted responses the
  version changes every second; recomputing the tiles (seconds at 10M responses) for every write made
  every reader pay for every write. Inside a dashboard read an answer of an older version is served as
  it is while it is younger than the interval; once older, *one* request recomputes it while every other
  reader keeps getting the older answer -- each question is recomputed at most once per interval however
  many writes arrive. Alert rules, imports, the command line and background jobs never see an older
  answer.
* **Never shared across scopes.** The viewer's unit and the set of units they can see (read from the
  app database on every request, before the cache is consulted) are part of the key: a branch manager
  can never be handed a result computed for the executive, and a change to the hierarchy or to a
  user's unit changes the key. Scope checks (:func:`~cxloop.services.access.scope.require_unit`) run before
  the lookup, so an out-of-scope request fails exactly as without the cache.
* **Bounded in entries and in bytes.** A least-recently-used dictionary of at most :data:`DEFAULT_SIZE`
  entries and ``CXLOOP_RESULT_CACHE_MB`` (:data:`DEFAULT_MAX_BYTES`) of results, sized by
  :func:`approximate_size` when stored; an answer bigger than the whole budget is not kept. One entry per
  question: a newer answer replaces the older one, so old versions do not pile up under writes. Guarded
  by a lock for uvicorn's thread pool.
* **Single flight.** Requests that need the same question computed at the same time (every open
  dashboard right after a write) compute it once; the others wait for that result (or, in a dashboard
  read holding an older answer, take that at once).
* **Read-only results.** A cached object is shared by every request that hits it: services hand out
  copies of anything mutable (DataFrames, lists of dicts).

:func:`configure` replaces the process's cache (``0`` turns caching off, e.g. to compare against it).
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from enum import Enum
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend

from cxloop.warehouse.derived.data_version import DataVersion, data_version

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_SIZE",
    "MISSING",
    "Answer",
    "DashboardRead",
    "ResultCache",
    "approximate_size",
    "cached",
    "clock",
    "configure",
    "freeze",
    "release",
    "results",
    "stale_while_recomputing",
    "warehouse_tables",
]

T = TypeVar("T")
DEFAULT_SIZE = 1024  # one entry per question
#: The byte budget of the process's result cache when nothing sets one (``CXLOOP_RESULT_CACHE_MB``).
DEFAULT_MAX_BYTES = 256 << 20
_MISSING = object()
MISSING = _MISSING
"""What :meth:`ResultCache.get` answers for a key it does not hold."""

#: The clock answers are aged by (seconds; a test may replace it).
clock: Callable[[], float] = time.monotonic


class ResultCache:
    """A thread-safe LRU mapping of hashable keys to results, bounded in entries and (approximate) bytes,
    with hit and miss counts."""

    def __init__(self, maxsize: int = DEFAULT_SIZE, max_bytes: int | None = DEFAULT_MAX_BYTES) -> None:
        if maxsize < 0 or (max_bytes is not None and max_bytes < 0):
            raise ValueError("maxsize and max_bytes must not be negative")
        self.maxsize = maxsize
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.stale_served = 0
        self.too_large = 0

    def get(self, key: Hashable) -> Any:
        """The entry (marking it recently used, counted as a hit), or the module's missing marker (a miss)."""
        value = self.peek(key)
        with self._lock:
            if value is _MISSING:
                self.misses += 1
            else:
                self.hits += 1
        return value

    def peek(self, key: Hashable) -> Any:
        """The entry (marking it recently used) or the missing marker, counting nothing."""
        with self._lock:
            held = self._entries.get(key)
            if held is None:
                return _MISSING
            self._entries.move_to_end(key)
            return held[0]

    def count(self, what: str) -> None:
        """Count a hit, a miss or an older answer served (``hits``, ``misses``, ``stale_served``)."""
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)

    def put(self, key: Hashable, value: Any) -> None:
        """Keep ``value`` under ``key`` (replacing what was there), evicting the least recently used entries
        until both bounds hold; a value bigger than the whole byte budget is not kept (nor the old one)."""
        if self.maxsize == 0:
            return
        size = approximate_size(value) if self.max_bytes is not None else 0
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            if self.max_bytes is not None and size > self.max_bytes:
                self.too_large += 1
                return
            self._entries[key] = (value, size)
            self.bytes += size
            self._evict()

    def limit(self, *, max_bytes: int | None) -> None:
        """Change the byte budget (``None``: entries only), evicting until it holds."""
        with self._lock:
            self.max_bytes = max_bytes
            if max_bytes is None:
                return
            self._entries = OrderedDict(
                (key, (value, approximate_size(value))) for key, (value, _) in self._entries.items()
            )
            self.bytes = sum(size for _, size in self._entries.values())
            self._evict()

    def _evict(self) -> None:
        while self._entries and (
            len(self._entries) > self.maxsize or (self.max_bytes is not None and self.bytes > self.max_bytes)
        ):
            _, (_, size) = self._entries.popitem(last=False)
            self.bytes -= size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0
            self.hits = self.misses = self.stale_served = self.too_large = 0

    def __len__(self) -> int:
        return len(self._entries)


#: The process's cache of service results.
results = ResultCache()


def configure(maxsize: int, max_bytes: int | None = DEFAULT_MAX_BYTES) -> None:
    """Replace the process's cache (``maxsize=0`` turns caching off); its entries are dropped."""
    global results
    results = ResultCache(maxsize, max_bytes)


def approximate_size(value: Any) -> int:
    """About how many bytes ``value`` holds: DataFrames and Series by ``memory_usage(deep=True)``, numpy and
    Arrow data by ``nbytes``, text and bytes by ``sys.getsizeof``, dataclasses, mappings, sequences, sets
    and objects' attributes recursively; an object reached twice is counted once."""
    seen: set[int] = set()
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (str, bytes, bytearray, int, float, bool)) or item is None:
            total += sys.getsizeof(item)
        elif isinstance(item, (pd.DataFrame, pd.Series, pd.Index)):
            usage = item.memory_usage(deep=True)
            total += int(usage.sum()) if isinstance(usage, pd.Series) else int(usage)
        elif isinstance(item, np.ndarray):
            total += item.nbytes + (sum(sys.getsizeof(x) for x in item.flat) if item.dtype == object else 0)
        elif isinstance(item, (pa.Table, pa.RecordBatch, pa.Array, pa.ChunkedArray)):
            total += item.nbytes
        elif isinstance(item, Mapping):
            total += sys.getsizeof(item)
            for key, child in item.items():
                stack += (key, child)
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += sys.getsizeof(item)
            stack.extend(item)
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            total += sys.getsizeof(item)
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        elif hasattr(item, "__dict__") and not isinstance(item, type):
            total += sys.getsizeof(item)
            stack.append(vars(item))
        else:
            total += sys.getsizeof(item)
    return total


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


@dataclasses.dataclass(frozen=True)
class Answer:
    """One question's cached result, the data version it was computed at, and when that version was read
    (``read_at`` on :data:`clock`, ``as_of`` as a Unix time)."""

    value: Any
    version: DataVersion
    read_at: float
    as_of: float


@dataclasses.dataclass
class DashboardRead:
    """One dashboard read: how old an answer may be (``max_age`` seconds), and the oldest data among the
    answers it was given (``version``, ``as_of``: a Unix time; ``None`` until a cached answer is given) --
    the web app puts them in the ``X-Data-Version`` and ``X-Data-As-Of`` headers.

    ``background``: an answer past ``max_age`` is not recomputed by this read; it is served as it is and
    its question added to ``scheduled``, for the caller to have it recomputed after answering (the web app
    replays the request in the background, as a read with ``refresh`` set) and then to
    :func:`release` it. A ``refresh`` read recomputes every answer past ``max_age`` it meets.
    """

    max_age: float = 0.0
    background: bool = False
    refresh: bool = False
    version: int | None = None
    as_of: float | None = None
    older_answers: int = 0
    scheduled: list[Hashable] = dataclasses.field(default_factory=list)

    def note(self, answer: Answer, current: bool) -> None:
        as_of = time.time() if current else answer.as_of
        with _notes_lock:
            if self.as_of is None or as_of < self.as_of:
                self.as_of = as_of
            if self.version is None or answer.version.version < self.version:
                self.version = answer.version.version
            self.older_answers += not current


_notes_lock = threading.Lock()
_dashboard: ContextVar[DashboardRead | None] = ContextVar("cxloop_dashboard_read", default=None)


@contextmanager
def stale_while_recomputing(
    max_age: float = 0.0, *, background: bool = False, refresh: bool = False
) -> Iterator[DashboardRead]:
    """Within this block reads are dashboard reads: an answer of an older data version is served as it is
    while it is younger than ``max_age`` seconds; an older one is recomputed by the first reader that
    finds it so, while every other reader keeps getting the older answer at once (``max_age=0``: only
    while another request is recomputing it). With ``background``, not even the first reader waits: the
    older answer is served and its question scheduled (:class:`DashboardRead`). Yields the read's
    :class:`DashboardRead` (inside another such block, that block's).

    For dashboard reads only (the web app turns it on for GET requests). Alert rules, imports, the command
    line and background jobs never see an older answer; neither does a computation that a dashboard read
    set off (what it stores is current for the version it read).
    """
    current = _dashboard.get()
    if current is not None:
        yield current
        return
    read = DashboardRead(max_age=max(0.0, max_age), background=background, refresh=refresh)
    token = _dashboard.set(read)
    try:
        yield read
    finally:
        _dashboard.reset(token)


def cached(
    service: str,
    con: BaseBackend,
    key: Hashable,
    compute: Callable[[], T],
    copy: Callable[[T], T] | None = None,
) -> T:
    """``compute()``'s result for ``key`` at the warehouse's current data version, from the cache when
    it is there. ``copy`` makes the object handed out (so a caller cannot change the cached one).

    The version is read *before* computing: a write that lands meanwhile gives a newer version, so an
    answer can at worst hold newer data than its version, never older; an answer is current only for
    exactly its version (a newer one replaces an older one, never the reverse). Inside
    :func:`stale_while_recomputing`, an answer of an older version may be given (see there).
    """
    version: DataVersion | None = data_version(con)
    if version is None:
        return compute()
    question = (service, version.warehouse_id, key)
    store = results
    read = _dashboard.get()
    held = store.peek(question)
    if held is not _MISSING and held.version == version:
        store.count("hits")
        answer = held
        current = True
    elif read is not None and held is not _MISSING:
        answer, current = _dashboard_answer(question, version, held, read, store, compute)
    else:
        store.count("misses")
        answer, current = _fresh_answer(question, version, store, compute), True
    if read is not None:
        read.note(answer, current)
    value = answer.value
    return copy(value) if copy is not None else value


def _not_older(held: DataVersion, wanted: DataVersion) -> bool:
    """Whether an answer computed at ``held`` may replace one computed at ``wanted`` (same or newer)."""
    return held == wanted or held.version > wanted.version


@dataclasses.dataclass
class _Flight:
    """A question being computed: waiters wait for ``done`` and take ``answer`` (``None`` if it failed)."""

    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    answer: Answer | None = None


_inflight: dict[Hashable, _Flight] = {}
_inflight_lock = threading.Lock()


def _claim(question: Hashable) -> tuple[_Flight, bool]:
    """The question's flight and whether this caller leads it (computes it)."""
    with _inflight_lock:
        flight = _inflight.get(question)
        if flight is not None:
            return flight, False
        flight = _inflight[question] = _Flight()
        return flight, True


def _lead(
    flight: _Flight, question: Hashable, version: DataVersion, store: ResultCache, compute: Callable[[], Any]
) -> Answer:
    """Compute the question at ``version`` (as a fresh read: nothing nested in it is served older), keep
    the answer unless a newer one is there already, and hand it to the flight's waiters."""
    try:
        read_at, as_of = clock(), time.time()
        token = _dashboard.set(None)
        try:
            value = compute()
        finally:
            _dashboard.reset(token)
        answer = Answer(value, version, read_at, as_of)
        held = store.peek(question)
        if held is _MISSING or _not_older(version, held.version):
            store.put(question, answer)
        flight.answer = answer
        return answer
    finally:
        with _inflight_lock:
            _inflight.pop(question, None)
        flight.done.set()


def _fresh_answer(
    question: Hashable, version: DataVersion, store: ResultCache, compute: Callable[[], Any]
) -> Answer:
    """The answer at ``version``, computed once however many requests need it at the same time: after a
    write every open dashboard asks again at once, and twenty copies of the same cold query would queue
    behind each other on the same cores. A request that finds the question being computed waits and takes
    that answer when it is at its version (else it computes in turn)."""
    while True:
        flight, leader = _claim(question)
        if leader:
            return _lead(flight, question, version, store, compute)
        flight.done.wait()
        if flight.answer is not None and flight.answer.version == version:
            return flight.answer
        held = store.peek(question)
        if held is not _MISSING and held.version == version:
            return held


def _dashboard_answer(
    question: Hashable,
    version: DataVersion,
    held: Answer,
    read: DashboardRead,
    store: ResultCache,
    compute: Callable[[], Any],
) -> tuple[Answer, bool]:
    """A dashboard read holding an older answer: that answer while it is younger than the read's
    ``max_age`` or while another request recomputes it (or, for a ``background`` read, while its
    recomputation is scheduled); else this request recomputes it."""
    if clock() - held.read_at < read.max_age:
        store.count("stale_served")
        return held, False
    if read.background and not read.refresh:
        with _inflight_lock:
            if question not in _scheduled and question not in _inflight:
                _scheduled.add(question)
                read.scheduled.append(question)
        store.count("stale_served")
        return held, False
    flight, leader = _claim(question)
    if not leader:
        store.count("stale_served")
        return held, False
    store.count("misses")
    return _lead(flight, question, version, store, compute), True


_scheduled: set[Hashable] = set()


def release(questions: list[Hashable]) -> None:
    """Questions a ``background`` read scheduled are recomputed (or failed): the next read past the
    interval may schedule them again."""
    with _inflight_lock:
        _scheduled.difference_update(questions)


def warehouse_tables(con: BaseBackend) -> frozenset[str]:
    """The warehouse's table names, listed once per data version (a listing through Ibis is slow next to a
    cache hit, docs/architecture.md; tables are created by writes, which change the version). Always
    current, even in a dashboard read: which tables exist decides which query runs."""
    token = _dashboard.set(None)
    try:
        return cached("warehouse.tables", con, None, lambda: frozenset(con.list_tables()))
    finally:
        _dashboard.reset(token)
