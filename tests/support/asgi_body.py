"""Call an ASGI app with a request body fed from a counting ``receive``: how many body bytes the app pulled
before it answered, which is what a server would have had to take in (the memory and disk an attacker
costs it), measured without a server, a socket or the process's RSS.

The body is produced lazily (one shared chunk repeated), so a "100 MB" request allocates one chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Answer", "call", "multipart_body", "repeated"]


@dataclass
class Answer:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    consumed: int = 0
    """Body bytes the app took through ``receive`` before it finished."""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def repeated(total: int, chunk: int = 1 << 20, fill: bytes = b"x") -> Iterator[bytes]:
    """``total`` bytes as pieces of ``chunk`` bytes (the same object every time)."""
    piece = fill * chunk
    sent = 0
    while sent < total:
        size = min(chunk, total - sent)
        yield piece if size == chunk else piece[:size]
        sent += size


def multipart_body(
    boundary: str, fields: Mapping[str, str], file_name: str, file_size: int, chunk: int = 1 << 20
) -> Iterator[bytes]:
    """A multipart/form-data body: ``fields`` first (as the page's form puts them), then a file of
    ``file_size`` bytes, produced piece by piece."""
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    yield head
    yield from repeated(file_size, chunk)
    yield f"\r\n--{boundary}--\r\n".encode()


def call(
    app: Any,
    method: str,
    path: str,
    body: Iterator[bytes],
    headers: Mapping[str, str] | None = None,
    *,
    content_length: int | None = None,
) -> Answer:
    """Send one request to ``app``; ``content_length`` ``None`` sends the body chunked (no length)."""
    answer = Answer()
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if content_length is not None:
        raw_headers.append((b"content-length", str(content_length).encode()))
    else:
        raw_headers.append((b"transfer-encoding", b"chunked"))
    raw_headers.append((b"host", b"testserver"))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 443),
        "state": {},
    }
    pieces = iter(body)
    pending = next(pieces, None)
    finished = False

    async def receive() -> dict[str, Any]:
        nonlocal pending, finished
        if finished:
            return {"type": "http.disconnect"}
        chunk, pending = pending, next(pieces, None)
        if chunk is None:
            finished = True
            return {"type": "http.request", "body": b"", "more_body": False}
        answer.consumed += len(chunk)
        finished = pending is None
        return {"type": "http.request", "body": chunk, "more_body": not finished}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return answer
