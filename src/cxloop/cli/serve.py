"""``cxloop serve``: run the web app (API at /api/v1, docs at /docs) with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from cxloop.cli._console import fail
from cxloop.cli._context import command_settings

__all__ = ["EXIT_NO_SECRET_KEY", "serve_command"]

#: Refused to listen beyond this machine without a secret key.
EXIT_NO_SECRET_KEY = 2


def serve_command(
    host: Annotated[
        str,
        typer.Option(
            help=(
                "Address to listen on. The default, 127.0.0.1, is reachable from this machine only. Any "
                "other address (0.0.0.0: every interface) needs CXLOOP_SECRET_KEY set, else cxloop refuses "
                "to start."
            )
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Serve the web app and API over the stores named by the CXLOOP_* settings.

    The API is documented at http://HOST:PORT/docs.

    CXLOOP_SECRET_KEY signs sessions and tokens; set it to a long random value (required outside
    development). Without it (development only) cxloop signs with a random key kept in
    DATA_DIR/secret_key and serves on a loopback address only. Behind a reverse proxy on this machine,
    uvicorn takes client addresses (for login throttling) from X-Forwarded-For.

    Probes: GET /healthz (the process is alive) and GET /readyz (the stores can be used; 503 says why not).
    On start it closes import runs a stopped process left running and opens the cases of posted responses
    whose rules failed (docs/operations.md).
    """
    from cxloop.web.exposure import KEY_ADVICE, is_loopback

    settings = command_settings()
    if not settings.has_secret_key:
        if not is_loopback(host):
            raise fail(
                f"refusing to serve on {host}: CXLOOP_SECRET_KEY is not set, so tokens are signed with a "
                f"development key and cookies are not Secure. Serve on 127.0.0.1, or {KEY_ADVICE}",
                EXIT_NO_SECRET_KEY,
            )
        Console(stderr=True, soft_wrap=True).print(
            "[bold yellow]warning:[/] CXLOOP_SECRET_KEY is not set: signing with a random development key "
            f"kept in {escape(str(settings.development_secret_path))}; serving on this machine only "
            f"({escape(host)}).",
            highlight=False,
        )

    import uvicorn

    from cxloop.web.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
