"""Checks on an ``.xlsx`` file before openpyxl parses any of it: a hostile or damaged workbook is refused
with a sentence instead of exhausting memory or answering 500.

An ``.xlsx`` is a zip of XML parts. Three things about it are checked from the zip's directory alone (no
part is unpacked):

* it is a zip at all, with the parts every workbook has (random bytes or a cut-off file are "not an Excel
  workbook");
* it numbers at most :data:`MAX_PARTS` parts (the directory of a zip with millions of empty entries costs
  gigabytes to load; a zip too big to number without ZIP64 is refused from its last bytes);
* no part unpacks beyond its cap. openpyxl streams the worksheets in read-only mode but reads every other
  part whole, the shared-strings table above all (every distinct text of the file becomes a Python string:
  several times the XML's size in memory, and a few seconds of CPU per MB). So worksheets may unpack to
  :data:`MAX_SHEET_BYTES` each, every other part to :data:`MAX_TABLE_BYTES`, and all parts together to
  :data:`MAX_UNPACKED_BYTES`. The sizes are the directory's declared ones, and they hold: Python's
  :mod:`zipfile` never hands out more bytes of a part than its declared size (a part that lies about it fails
  its CRC check, answered "not a readable workbook").

Entity expansion and external entities are handled by the XML parser: openpyxl parses through defusedxml
when it is installed (it is a dependency), which refuses any entity declaration;
:func:`require_defused_xml` refuses to read a workbook if that has been switched off
(``OPENPYXL_DEFUSEDXML=False``).
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

__all__ = [
    "MAX_PARTS",
    "MAX_SHEET_BYTES",
    "MAX_TABLE_BYTES",
    "MAX_UNPACKED_BYTES",
    "WorkbookRefused",
    "check_workbook",
    "require_defused_xml",
]

MAX_PARTS = 10_000
"""Most parts (zip entries) a workbook may have; a survey export has about a dozen."""
MAX_SHEET_BYTES = 1 << 30
"""Largest unpacked worksheet (1 GiB): read as a stream, so this bounds time, not memory."""
MAX_TABLE_BYTES = 32 << 20
"""Largest unpacked part that openpyxl reads whole (32 MiB): shared strings, styles, the workbook."""
MAX_UNPACKED_BYTES = 2 << 30
"""Largest unpacked workbook, all parts together (2 GiB)."""

_REQUIRED = ("[Content_Types].xml", "xl/workbook.xml")
_END_OF_DIRECTORY = b"PK\x05\x06"
_END_RECORD = struct.Struct("<4s4H2LH")
_ZIP64_COUNT = 0xFFFF
_ADVICE = "open it in Excel and save it again as .xlsx, or export the survey as CSV"


class WorkbookRefused(ValueError):
    """The file is not a workbook cxloop will read; the message says why and what to do."""


def _megabytes(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MB" if size >= 1 << 20 else f"{size / 1024:,.0f} KB"


def _declared_parts(path: Path) -> int | None:
    """The number of entries the zip's end-of-directory record declares (``None``: no such record, so
    not a zip). Read from the file's last bytes, before :mod:`zipfile` loads the directory."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(max(0, size - (_END_RECORD.size + 0xFFFF)))  # the record plus its longest comment
        tail = handle.read()
    at = tail.rfind(_END_OF_DIRECTORY)
    if at < 0 or len(tail) - at < _END_RECORD.size:
        return None
    return int(_END_RECORD.unpack_from(tail, at)[4])  # total entries


def _is_sheet(name: str) -> bool:
    return name.startswith("xl/worksheets/") and name.endswith(".xml")


def check_workbook(path: Path) -> None:
    """Refuse ``path`` (:class:`WorkbookRefused`) unless it is a zip holding a workbook within the caps."""
    name = path.name
    not_a_workbook = f"{name} is not an Excel workbook (.xlsx)"
    count = _declared_parts(path)
    if count is None:
        raise WorkbookRefused(f"{not_a_workbook}: it is not a zip archive; {_ADVICE}")
    if count == _ZIP64_COUNT or count > MAX_PARTS:
        raise WorkbookRefused(
            f"{name} has more parts than a workbook has (more than {MAX_PARTS:,}): a damaged or hostile "
            f"file; {_ADVICE}"
        )
    try:
        with zipfile.ZipFile(path) as book:
            parts = book.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise WorkbookRefused(f"{not_a_workbook}: its zip directory is damaged ({exc}); {_ADVICE}") from None
    names = {part.filename for part in parts}
    missing = [required for required in _REQUIRED if required not in names]
    if missing:
        raise WorkbookRefused(f"{not_a_workbook}: it has no {', '.join(missing)}; {_ADVICE}")
    total = 0
    for part in parts:
        cap = MAX_SHEET_BYTES if _is_sheet(part.filename) else MAX_TABLE_BYTES
        if part.file_size > cap:
            raise WorkbookRefused(
                f"{name}: its part {part.filename} unpacks to {_megabytes(part.file_size)}, more than the "
                f"{_megabytes(cap)} cxloop reads from one part (a zip bomb, or a workbook too big for the "
                "page); export the survey as CSV instead"
            )
        total += part.file_size
    if total > MAX_UNPACKED_BYTES:
        raise WorkbookRefused(
            f"{name} unpacks to {_megabytes(total)}, more than the {_megabytes(MAX_UNPACKED_BYTES)} cxloop "
            "reads from one workbook; export the survey as CSV instead"
        )


def require_defused_xml() -> None:
    """Refuse to parse workbooks when openpyxl would not parse them through defusedxml."""
    import openpyxl  # imported here: only .xlsx exports need it

    if not openpyxl.DEFUSEDXML:
        raise WorkbookRefused(
            "reading .xlsx needs openpyxl to parse through defusedxml (entity expansion off), which is "
            "switched off (OPENPYXL_DEFUSEDXML=False or defusedxml missing); export the survey as CSV"
        )
