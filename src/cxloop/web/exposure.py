"""Who may reach a server signing with a development key: this machine only.

Without ``CXLOOP_SECRET_KEY`` (development only: config refuses it elsewhere) tokens are signed with a random
key kept in the data directory, cookies are not ``Secure``, and nobody has decided this server is meant to
be reached. ``cxloop serve`` refuses a non-loopback ``--host`` then; :class:`LoopbackOnly` covers an app
served some other way (``uvicorn --host 0.0.0.0``, a container): a request that arrived on an address other
than loopback is answered 503 with what to set.
"""

from __future__ import annotations

import ipaddress
import json
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["KEY_ADVICE", "LoopbackOnly", "is_loopback"]

_log = logging.getLogger("cxloop.auth")

#: What to do about a missing key (every refusal and warning ends with it).
KEY_ADVICE = (
    "set CXLOOP_SECRET_KEY to a long random value, e.g. "
    "export CXLOOP_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
)


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable only from this machine. Other names
    count as not loopback: they may resolve to anything."""
    name = host.strip().lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    address = _address(name)
    return address is not None and address.is_loopback


def _arrived_from_outside(scope: Scope) -> bool:
    """Whether the request came in on a local address other than loopback. ASGI servers (uvicorn,
    hypercorn...) report the socket's address; a Unix socket, or a name rather than an address (a test
    client's ``testserver``), is nothing to judge."""
    server = scope.get("server")
    if not server or server[1] is None:
        return False
    address = _address(str(server[0]))
    return address is not None and not address.is_loopback


class LoopbackOnly:
    """Answers 503 to any HTTP request that arrived on an address other than loopback (ASGI ``server``: the
    local address the connection was accepted on)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._warned = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _arrived_from_outside(scope):
            await self.app(scope, receive, send)
            return
        if not self._warned:
            self._warned = True
            _log.error(
                "refusing requests on %s: no CXLOOP_SECRET_KEY, so this server answers on loopback only; %s",
                scope["server"][0],
                KEY_ADVICE,
            )
        message = f"this cxloop server has no secret key and answers only on this machine: {KEY_ADVICE}"
        body = json.dumps({"error": {"code": "secret_key_required", "message": message}}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
