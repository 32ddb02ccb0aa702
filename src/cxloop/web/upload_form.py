"""The upload page's form, read as it arrives: the export's bytes go straight into the upload's own file in
the data directory, the small fields into a dict.

Starlette's form parser (``request.form()``, FastAPI's ``File()``) spools every file part to a temporary
file first, in the system's temporary directory, whoever sent it. Here python-multipart's parser runs over
the request's stream and hands the file part to a sink the route opens when the part begins -- after the
fields before it (the form puts ``csrf_token`` first) have been checked, so a forged form writes nothing.
The body's size is capped while it is read by :class:`~cxloop.web.limits.BodyGuard`; the file's, and the
uploads folder's quota, by the sink (:class:`~cxloop.services.listen.uploads.IncomingUpload`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from cxloop.services.listen.uploads import IncomingUpload

if TYPE_CHECKING:  # a TypedDict python-multipart defines for type checkers only
    from python_multipart.multipart import MultipartCallbacks

__all__ = ["FormRefused", "UploadForm", "read_upload_form"]

MAX_FIELDS = 16
"""Most fields besides the file (the page's form has three)."""
MAX_FIELD_BYTES = 4096
"""Longest field value (the CSRF token is 64 characters)."""
_WRITE_BYTES = 1 << 20  # written to disk in pieces of about this size, off the event loop


class FormRefused(Exception):
    """The form cannot be used: ``status`` and a sentence for the person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class UploadForm:
    """The fields of the form and the file it carried (``None``: no file part)."""

    fields: dict[str, str] = field(default_factory=dict)
    upload: IncomingUpload | None = None


@dataclass
class _Parts:
    """python-multipart's callbacks: fields are collected whole; a file part's start and data become
    events for the reading loop, which may wait (the callbacks cannot)."""

    fields: dict[str, str] = field(default_factory=dict)
    events: list[tuple[str, bytes]] = field(default_factory=list)
    _header: bytes = b""
    _value: bytes = b""
    _disposition: bytes = b""
    _name: str | None = None
    _is_file: bool = False
    _data: bytearray = field(default_factory=bytearray)

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _begin(self) -> None:
        self._disposition, self._name, self._is_file = b"", None, False
        self._data = bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            self._disposition = self._value
        self._header, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise FormRefused(400, "every part of the form needs a name")
        self._name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            self._is_file = True
            self.events.append(("file", options[b"filename"]))
        elif len(self.fields) >= MAX_FIELDS:
            raise FormRefused(400, f"the form has more than {MAX_FIELDS} fields")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.events.append(("data", data[start:end]))
            return
        self._data += data[start:end]
        if len(self._data) > MAX_FIELD_BYTES:
            raise FormRefused(400, f"the form field {self._name!r} is longer than {MAX_FIELD_BYTES} bytes")

    def _part_end(self) -> None:
        if not self._is_file and self._name is not None:
            self.fields[self._name] = self._data.decode("utf-8", "replace")

    def take(self) -> list[tuple[str, bytes]]:
        events, self.events = self.events, []
        return events


async def read_upload_form(
    request: Request, open_file: Callable[[str, dict[str, str]], IncomingUpload]
) -> UploadForm:
    """Read a ``multipart/form-data`` body with at most one file: ``open_file(file name, fields so far)``
    is called (in the thread pool) when the file part begins and returns the sink for its bytes, or raises
    to refuse it. On any failure -- a malformed body, a refusal, the body's limit, the client gone -- the
    sink is discarded (its folder removed) before the exception goes on."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise FormRefused(400, "post the upload form as multipart/form-data")
    parts = _Parts()
    form = UploadForm(parts.fields)
    pending = bytearray()
    try:
        parser = MultipartParser(options[b"boundary"], parts.callbacks())
        async for chunk in request.stream():
            parser.write(chunk)
            for event, data in parts.take():
                if event == "file":
                    if form.upload is not None:
                        raise FormRefused(400, "upload one file at a time")
                    name = data.decode("utf-8", "replace")
                    form.upload = await run_in_threadpool(open_file, name, dict(parts.fields))
                    continue
                pending += data
            if form.upload is not None and len(pending) >= _WRITE_BYTES:
                await run_in_threadpool(form.upload.write, bytes(pending))
                pending.clear()
        parser.finalize()
        if form.upload is not None:
            await run_in_threadpool(form.upload.write, bytes(pending))
            form.upload.finish()
    except FormParserError as exc:
        _discard(form)
        raise FormRefused(400, f"the form could not be read: {exc}") from None
    except BaseException:
        _discard(form)
        raise
    return form


def _discard(form: UploadForm) -> None:
    """Remove what arrived (on the event loop: one small folder, and it must happen even when the request
    is cancelled)."""
    if form.upload is not None:
        form.upload.discard()
