"""What a request's path and query parameters may hold: no control characters, on every route.

No parameter of the app (unit and case ids, filters such as ``touchpoint`` and ``segment``, dates, the
comment search) can hold a control character (NUL, a line break, ESC ...): stored ids refuse them at import,
so such a value would match nothing, and NUL cannot even be written in the SQL text an engine is sent.
:func:`printable_parameters` is a dependency of the whole app (``create_app``), so every route refuses one
with the standard 422 ``validation_error`` naming the parameter, before it runs any of its own
dependencies. :func:`with_printable_parameters` states the same rule in the OpenAPI schema, as the
``pattern`` :data:`PRINTABLE` of every text parameter that has no pattern of its own, for clients and for
the schemathesis tests (which would otherwise count the 422 as a valid request refused).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import Field, StrictInt

__all__ = ["MAX_ID", "PRINTABLE", "IdPath", "RecordId", "printable_parameters", "with_printable_parameters"]

#: The largest id of a record of the app database (ids are 32-bit integers on PostgreSQL; a larger number
#: asked for was an overflow in the database driver, a 500, rather than "no such record").
MAX_ID = 2**31 - 1
#: A record's id in a path (a case, action, pilot, target, rule), on the API and the pages alike.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
#: A record's id in a request body (strict: ``true`` or ``"7"`` is not an id).
RecordId = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]

#: No control character (C0, DEL, C1): the ``pattern`` of a parameter's OpenAPI schema.
PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f]*$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _problem(location: str, name: str, value: str) -> dict[str, object] | None:
    found = _CONTROL.search(value)
    if found is None:
        return None
    return {
        "type": "value_error",
        "loc": (location, name),
        "msg": f"holds a control character (U+{ord(found.group()):04X}); no value of it can",
        "input": value,
    }


async def printable_parameters(request: Request) -> None:
    """Refuse (422) a path or query parameter holding a control character (``async``: no I/O)."""
    problems = [
        problem
        for location, items in (
            ("path", list(request.path_params.items())),
            ("query", request.query_params.multi_items()),
        )
        for name, value in items
        if isinstance(value, str) and (problem := _problem(location, name, value)) is not None
    ]
    if problems:
        raise RequestValidationError(problems)


def _constrain(schema: Any) -> None:
    if isinstance(schema, list):
        for part in schema:
            _constrain(part)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "string" and not {"pattern", "enum", "const", "format"} & schema.keys():
        schema["pattern"] = PRINTABLE
    for key in ("anyOf", "oneOf", "allOf", "items"):
        if key in schema:
            _constrain(schema[key])


def with_printable_parameters(openapi: dict[str, Any]) -> dict[str, Any]:
    """``openapi`` (an OpenAPI document) with :data:`PRINTABLE` as the pattern of every path and query
    parameter of type string that has no pattern, enum or format of its own (changed in place)."""
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") in ("path", "query"):
                    _constrain(parameter.get("schema"))
    return openapi
