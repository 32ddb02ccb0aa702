"""Hostile and broken .xlsx files, built byte by byte with :mod:`zipfile`: what an attacker (or a damaged
disk) hands the upload page. Each builder returns the file's bytes.

A workbook is a zip of XML parts; the smallest one openpyxl opens has a content-types part, the package
relationships, the workbook with its relationships, one worksheet and (here) a shared-strings table that
the worksheet's cells point into. The hostile variants change one of those parts.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping

__all__ = [
    "billion_laughs",
    "malformed_zip",
    "minimal_workbook",
    "random_bytes",
    "shared_strings_bomb",
    "too_many_parts",
    "truncated_zip",
    "xxe",
    "zip64_parts",
]

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    'Target="sharedStrings.xml"/></Relationships>'
)
# Two rows of two text cells, each pointing into the shared strings (t="s": the value is an index).
_SHEET = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
    '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row>'
    "</sheetData></worksheet>"
)
_SST_OPEN = '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'


def _shared_strings(strings: list[str], prolog: str = "") -> str:
    cells = "".join(f"<si><t>{s}</t></si>" for s in strings)
    return f'<?xml version="1.0" encoding="UTF-8"?>{prolog}{_SST_OPEN}{cells}</sst>'


def minimal_workbook(parts: Mapping[str, str | bytes] | None = None) -> bytes:
    """A small valid workbook (header ``ResponseId, Comment``, one row), with ``parts`` replacing or adding
    members by name."""
    members: dict[str, str | bytes] = {
        "[Content_Types].xml": _CONTENT_TYPES,
        "_rels/.rels": _ROOT_RELS,
        "xl/workbook.xml": _WORKBOOK,
        "xl/_rels/workbook.xml.rels": _WORKBOOK_RELS,
        "xl/worksheets/sheet1.xml": _SHEET,
        "xl/sharedStrings.xml": _shared_strings(["ResponseId", "Comment", "R_1", "fine"]),
        **(parts or {}),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as book:
        for name, body in members.items():
            book.writestr(name, body)
    return buffer.getvalue()


def billion_laughs(levels: int = 10) -> bytes:
    """Shared strings whose one entity expands to 10**levels copies of "lol" (3 GB at 9 levels)."""
    entities = ['<!ENTITY lol0 "lol">']
    entities += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)]
    prolog = f"<!DOCTYPE sst [{''.join(entities)}]>"
    return minimal_workbook(
        {"xl/sharedStrings.xml": _shared_strings(["ResponseId", f"&lol{levels - 1};", "R_1", "x"], prolog)}
    )


def xxe(target: str = "file:///etc/passwd") -> bytes:
    """Shared strings with an external entity naming a local file (its text would land in a cell)."""
    prolog = f'<!DOCTYPE sst [<!ENTITY xxe SYSTEM "{target}">]>'
    return minimal_workbook(
        {"xl/sharedStrings.xml": _shared_strings(["ResponseId", "&xxe;", "R_1", "x"], prolog)}
    )


def shared_strings_bomb(megabytes: int = 200) -> bytes:
    """A small file whose shared strings unpack to ``megabytes`` MB of one-letter strings (every one a
    Python object when read: several times the XML's size in memory)."""
    cell = "<si><t>a</t></si>"
    count = megabytes * (1 << 20) // len(cell)
    body = f'<?xml version="1.0" encoding="UTF-8"?>{_SST_OPEN}{cell * count}</sst>'
    return minimal_workbook({"xl/sharedStrings.xml": body})


def too_many_parts(count: int) -> bytes:
    """A workbook padded with ``count`` empty members."""
    return minimal_workbook({f"xl/media/pad{i}.bin": b"" for i in range(count)})


def zip64_parts() -> bytes:
    """A workbook whose end-of-directory record counts 0xFFFF entries, as a ZIP64 archive's does (more than
    65,534 entries; building a real one takes seconds)."""
    data = bytearray(minimal_workbook())
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = b"\xff\xff\xff\xff"  # entries on this disk, entries in all
    return bytes(data)


def random_bytes(size: int = 64 << 10, seed: int = 23) -> bytes:
    """Bytes that are not a zip at all (a fixed seed: the same file every run)."""
    import random

    return random.Random(seed).randbytes(size)


def malformed_zip() -> bytes:
    """A workbook whose zip directory is intact but whose worksheet's compressed data is garbage (a file
    damaged in transit): it opens as a zip and fails when the sheet is read."""
    good = minimal_workbook()
    book = zipfile.ZipFile(io.BytesIO(good))
    sheet = book.getinfo("xl/worksheets/sheet1.xml")
    # The member's data starts after its local header (30 bytes + name + extra field).
    start = sheet.header_offset + 30 + len(sheet.filename.encode()) + len(sheet.extra)
    damaged = bytearray(good)
    garbage = bytes(range(256)) * (sheet.compress_size // 256 + 1)
    damaged[start : start + sheet.compress_size] = garbage[: sheet.compress_size]
    return bytes(damaged)


def truncated_zip() -> bytes:
    """The first two thirds of a workbook: no zip directory at all."""
    good = minimal_workbook()
    return good[: len(good) * 2 // 3]
