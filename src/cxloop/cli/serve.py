"""``cxloop serve``: run the web app (API at /api/v1, docs at /docs) with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from cxloop.cli._context import command_settings

__all__ = ["serve_command"]


def serve_command(
    host: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Serve the web app and API over the stores named by the CXLOOP_* settings.

    The API is documented at http://HOST:PORT/docs. Outside development set CXLOOP_SECRET_KEY.
    """
    import uvicorn

    from cxloop.web.app import create_app

    uvicorn.run(create_app(command_settings()), host=host, port=port, log_level="info")
