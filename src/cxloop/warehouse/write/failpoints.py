"""Failpoints: deterministic hooks that make an import stop at a chosen spot, for crash tests.

Set ``CXLOOP_FAILPOINT`` to a failpoint's name (``import.inside_batch``: after a batch's rows are
written, before its transaction commits). When reached (on the ``CXLOOP_FAILPOINT_AFTER``-th time,
default the first), the failpoint writes the file ``CXLOOP_FAILPOINT_MARKER`` (if set) and then, per
``CXLOOP_FAILPOINT_ACTION``, sleeps until the process is killed (``sleep``, the default), raises
:class:`FailpointError` (``raise``), or fails as the disk would: ``OSError`` ``ENOSPC`` (``disk-full``) or
``EROFS`` (``read-only``). Unset, a failpoint costs one comparison.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["INSIDE_BATCH", "FailpointError", "Failpoints"]

INSIDE_BATCH = "import.inside_batch"

#: The actions that fail as the disk would, and the ``errno`` each raises.
_DISK_FAILURES = {"disk-full": errno.ENOSPC, "read-only": errno.EROFS}


class FailpointError(RuntimeError):
    """Raised by a failpoint whose action is ``raise``."""


@dataclass
class Failpoints:
    name: str | None = None
    action: str = "sleep"
    after: int = 1
    marker: Path | None = None
    _hits: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Failpoints:
        env = os.environ if environ is None else environ
        marker = env.get("CXLOOP_FAILPOINT_MARKER")
        return cls(
            name=env.get("CXLOOP_FAILPOINT") or None,
            action=env.get("CXLOOP_FAILPOINT_ACTION", "sleep"),
            after=int(env.get("CXLOOP_FAILPOINT_AFTER", "1")),
            marker=Path(marker) if marker else None,
        )

    def hit(self, name: str) -> None:
        if name != self.name:
            return
        self._hits[name] = self._hits.get(name, 0) + 1
        if self._hits[name] != self.after:
            return
        if self.marker is not None:
            self.marker.write_text(f"{name} reached in process {os.getpid()}\n", encoding="utf-8")
        if self.action == "raise":
            raise FailpointError(f"failpoint {name} reached")
        if self.action in _DISK_FAILURES:
            code = _DISK_FAILURES[self.action]
            raise OSError(code, f"{os.strerror(code)} (failpoint {name})")
        while True:  # until killed
            time.sleep(3600)
