"""The ``cxloop`` command line (Typer + rich).

One module per command group (``cli/db.py``, ``cli/imports.py``, ``cli/demo.py`` ...), each a thin layer
over :mod:`cxloop.services`; this module only assembles them.
"""

from __future__ import annotations

from cxloop.cli._app import app

__all__ = ["app"]
