"""A text file's encoding, decided over the whole file, and its bytes as UTF-8.

Every text import (a plain CSV or JSON Lines file, a survey-tool export) asks :func:`detect_encoding`
before it reads a row, so the encoding is a property of the file, never of a row:

1. a byte-order mark says UTF-8, UTF-16 LE or UTF-16 BE; no mark but NUL bytes in every other position
   of the first kilobyte says UTF-16 without a mark;
2. a file that is valid UTF-8 throughout is UTF-8 (plain ASCII included);
3. otherwise each line that is not ASCII is read on its own: as UTF-8 when it is valid UTF-8, else as the
   best-scoring of the legacy single-byte code pages :data:`CANDIDATES` (Windows-1252, Latin-1, DOS code
   page 850, Mac Roman). Files written by several programs mix them (a French R export of Latin-1 rows
   with some rows from a DOS tool in code page 850); the report counts the lines read with each;
4. a line that no candidate reads as credible text stops the import before anything is stored
   (:class:`EncodingRefused`, naming the line and what to do).

The score (:func:`line_score`) is over a line's non-ASCII characters, each classed once per code page
(:data:`_CLASSES`): a frequent accented lower-case letter (``é è à ç ê ô ü ö ä ñ ß``...) +3, another
Western European lower-case letter +2; an upper-case one +2 at the start of a word or in an upper-case
word, -2 after a lower-case letter; typographic punctuation (curly quotes, dashes, the euro sign,
guillemets...) +2, 0 alone between spaces (where a one-letter word such as ``à`` would be), -2 wedged
between two letters (where a code page 850 ``é`` lands when read as Windows-1252: ``r‚server``); the
right single quote is an apostrophe there and scores +4 (``d’or``), else +2; an accented letter
standing alone scores -1 (French ``à`` aside) and an ellipsis after a space 0 (both are how one code
page's signs look in another's reading); common symbols (``£ § ° µ ² ½ © ®``...) 0; any other symbol
(box drawing, mathematical signs, Greek capitals)
-2; a control character (Latin-1's reading of bytes 0x80-0x9F) or an undefined byte rules the code page
out for that line. The highest score wins, earlier candidates on a tie; a line whose best score is below
zero is not credible text. Lines holding only bytes 0xA0-0xFF read the same in Windows-1252 and Latin-1
and are counted as Latin-1. The work is linear in the file's size: one pass over the bytes, a table
look-up per non-ASCII byte.

A mapping's ``encoding:`` replaces the guess with that codec for every line; a line it cannot decode
is refused the same way (never a ``UnicodeDecodeError`` part-way through the file).
"""

from __future__ import annotations

import codecs
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

__all__ = [
    "CANDIDATES",
    "EncodingRefused",
    "FileEncoding",
    "detect_encoding",
    "line_score",
    "utf8_stream",
]

CANDIDATES: tuple[tuple[str, str], ...] = (
    ("cp1252", "Windows-1252"),
    ("latin-1", "Latin-1"),
    ("cp850", "DOS code page 850"),
    ("mac_roman", "Mac Roman"),
)
"""The legacy single-byte code pages a line may be read in, in the order that wins a tie."""

LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16 LE (no BOM)",
    "utf-16-be": "UTF-16 BE (no BOM)",
    **dict(CANDIDATES),
}

_SNIFF = 1 << 16
_CHUNK = 1 << 20
_HIGH = re.compile(rb"[\x80-\xff]")
_GOOD_PUNCTUATION = set("‘“”–—…€«»¿¡°\u00a0")
_APOSTROPHE = "’"
# The letters of the Western European languages these code pages were made for; any other letter one of
# them can hold (a dotless i, Greek capitals, a hooked f) is more likely a misreading than the text.
_WESTERN_LETTERS = {chr(c) for c in range(0xC0, 0x100) if chr(c).isalpha()} | set("ŒœŠšŽžŸ")
# The accented letters most frequent in French, German, Spanish, Portuguese and Italian text: a reading
# made of them beats one made of rarer letters (Mac Roman reads Windows-1252's quotes as "í", "ì").
_COMMON_LOWER = set("éèàçêôüöäñßïîûâùœëíóúáã")
_NEUTRAL = set("£§µ²³¹½¼¾©®±×÷·¢¥ºª•™¶")
_ELLIPSIS = {"cp1252": 0x85, "mac_roman": 0xC9}
_INVALID, _LOWER, _UPPER, _PUNCT, _APOS, _NEUTRAL_SYMBOL, _BAD, _COMMON = range(8)


class EncodingRefused(ValueError):
    """No reading of the file is credible text; the message names the line and what to do."""


def _classify(ch: str | None) -> int:
    if ch is None or unicodedata.category(ch) == "Cc":
        return _INVALID
    if ch in _COMMON_LOWER:
        return _COMMON
    if ch in _WESTERN_LETTERS:
        return _LOWER if ch.islower() else _UPPER
    if ch == _APOSTROPHE:
        return _APOS
    if ch in _GOOD_PUNCTUATION:
        return _PUNCT
    if ch in _NEUTRAL:
        return _NEUTRAL_SYMBOL
    return _BAD


def _table(codec: str) -> tuple[list[str | None], list[int]]:
    chars: list[str | None] = []
    for byte in range(128, 256):
        try:
            chars.append(bytes([byte]).decode(codec))
        except UnicodeDecodeError:
            chars.append(None)
    return chars, [_classify(ch) for ch in chars]


_CLASSES: dict[str, list[int]] = {codec: _table(codec)[1] for codec, _ in CANDIDATES}
_ONE_LETTER = {byte for byte in range(128, 256) if bytes([byte]).decode("latin-1") == "à"} | {0x85, 0x88}
"""The bytes of French "à" in Latin-1 / Windows-1252 (0xE0), code page 850 (0x85) and Mac Roman (0x88)."""


def _letter(byte: int, classes: list[int]) -> tuple[bool, bool]:
    """(is a letter, is lower case) of ``byte`` read through ``classes``."""
    if byte < 128:
        ch = chr(byte)
        return ch.isalpha(), ch.islower()
    kind = classes[byte - 128]
    return kind in (_LOWER, _UPPER, _COMMON), kind in (_LOWER, _COMMON)


def line_score(line: bytes, codec: str) -> int | None:
    """How much ``line`` reads like text in the single-byte ``codec`` (one of :data:`CANDIDATES`);
    ``None`` when the code page cannot read it (an undefined byte, a control character)."""
    classes = _CLASSES[codec]
    score = 0
    for match in _HIGH.finditer(line):
        at = match.start()
        kind = classes[line[at] - 128]
        if kind == _INVALID:
            return None
        before = _letter(line[at - 1], classes) if at else (False, False)
        after = _letter(line[at + 1], classes) if at + 1 < len(line) else (False, False)
        if (
            kind in (_COMMON, _LOWER, _UPPER)
            and not before[0]
            and not after[0]
            and line[at] not in _ONE_LETTER
        ):
            score -= 1  # an accented letter standing alone is a misread sign (French "à" aside)
        elif kind == _COMMON:
            score += 3
        elif kind == _LOWER:
            score += 2
        elif kind == _UPPER:
            score += -2 if before[0] and before[1] else 2
        elif kind == _APOS:
            score += 4 if before[0] and after[0] else 2
        elif kind == _PUNCT:
            if before[0] and after[0]:
                score -= 2  # a quote or dash wedged inside a word is a misread letter
            elif line[at] == _ELLIPSIS.get(codec) and at and line[at - 1] == 0x20:
                score += 0  # an ellipsis after a space: more often code page 850's "à"
            else:
                score += 2
        elif kind == _BAD:
            score -= 2
    return score


def _best(line: bytes) -> str | None:
    """The code page that reads ``line`` best, or None when none reads it as credible text."""
    best, best_score = None, -1
    for codec, _ in CANDIDATES:
        score = line_score(line, codec)
        if score is not None and score > best_score:
            best, best_score = codec, score
    if best == "cp1252" and not re.search(rb"[\x80-\x9f]", line):
        return "latin-1"  # the same text either way: name the plainer code page
    return best


@dataclass(frozen=True)
class FileEncoding:
    """How a text file is decoded. ``codec`` is a Python codec, or ``"mixed"``: each line as
    :data:`lines` counts (UTF-8 or one of :data:`CANDIDATES`). ``declared``: named in the mapping."""

    codec: str
    lines: Mapping[str, int] = field(default_factory=dict)
    declared: bool = False

    @property
    def legacy(self) -> bool:
        """Not a Unicode encoding: the text was converted and the person importing should check it."""
        return self.codec == "mixed" or not self.codec.startswith("utf")

    @property
    def label(self) -> str:
        if self.codec != "mixed":
            return LABELS.get(self.codec, self.codec)
        legacy = [codec for codec, _ in CANDIDATES if self.lines.get(codec)]
        if len(legacy) == 1 and not self.lines.get("utf-8"):
            return LABELS[legacy[0]]
        return "mixed single-byte code pages"

    @property
    def identity(self) -> bool:
        """The bytes are UTF-8 already (no transcoding needed)."""
        return self.codec in ("utf-8", "utf-8-sig")

    def report(self) -> dict[str, int]:
        """Lines read with each encoding (non-ASCII lines only), by label."""
        return {LABELS.get(codec, codec): n for codec, n in self.lines.items() if n}

    def note(self, name: str) -> str | None:
        """The warning for the summary, or None for a Unicode file."""
        if not self.legacy:
            return None
        if self.declared:
            return f"{name} read as {self.label}, as the mapping's `encoding:` says"
        counts = ", ".join(f"{n:,} line(s) as {label}" for label, n in self.report().items())
        return (
            f"{name} is not UTF-8: read line by line as {counts} (the other lines are plain ASCII); "
            "check accented letters in the comments, or save the file as UTF-8 to avoid the guess"
        )

    def decoder(self) -> Callable[[bytes], str]:
        """Decode one line (as split at ``\\n``) the way the file was detected."""
        if self.codec != "mixed":
            return lambda line: line.decode(self.codec)

        def decode(line: bytes) -> str:
            if line.isascii():
                return line.decode("ascii")
            try:
                return line.decode("utf-8")
            except UnicodeDecodeError:
                return line.decode(_best(line) or "latin-1")

        return decode


def _refuse(name: str, number: int, line: bytes, tried: str) -> EncodingRefused:
    at = _HIGH.search(line)
    start = max(0, (at.start() if at else 0) - 20)
    shown = line[start : start + 50].decode("ascii", errors="backslashreplace").strip()
    return EncodingRefused(
        f"{name}: line {number} cannot be read as text in {tried} (near {shown!r}); nothing was "
        "imported. If the file is a text export, save it again as UTF-8 (Excel: Save As > 'CSV UTF-8') "
        "or name its encoding in a mapping file (`encoding: cp1252`); if it is not text (a workbook, a "
        "zip, a damaged file), export the data again as CSV"
    )


def _utf8_throughout(stream: BinaryIO) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := stream.read(_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _unicode_by_mark(head: bytes) -> str | None:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:1024]
    if len(sample) >= 4:
        odd_nul = sample[1::2].count(0) > len(sample) // 4
        even_nul = sample[0::2].count(0) > len(sample) // 4
        if odd_nul and not even_nul:
            return "utf-16-le"
        if even_nul and not odd_nul:
            return "utf-16-be"
    return None


def detect_encoding(
    open_binary: Callable[[], BinaryIO], name: str, declared: str | None = None
) -> FileEncoding:
    """The encoding of the text file that ``open_binary`` opens (decompressed), read whole (see the module
    notes); :class:`EncodingRefused` when a line cannot be read. ``declared``: the mapping's codec."""
    with open_binary() as stream:
        head = stream.read(_SNIFF)
    marked = _unicode_by_mark(head)
    if declared is not None:
        codec = codecs.lookup(declared).name
        if codec.startswith("utf-16") or codec.startswith("utf-32"):
            return _whole_unicode(open_binary, name, codec, declared=True)
        if codec == "utf-8" and marked == "utf-8-sig":
            codec = "utf-8-sig"
        return _per_line(open_binary, name, codec, declared=True)
    if marked is not None and marked.startswith("utf-16"):
        return _whole_unicode(open_binary, name, marked)
    with open_binary() as stream:
        if _utf8_throughout(stream):
            return FileEncoding(marked or "utf-8")
    return _per_line(open_binary, name, "mixed")


def _whole_unicode(
    open_binary: Callable[[], BinaryIO], name: str, codec: str, *, declared: bool = False
) -> FileEncoding:
    decoder = codecs.getincrementaldecoder(codec)()
    line = 1
    with open_binary() as stream:
        try:
            while chunk := stream.read(_CHUNK):
                line += decoder.decode(chunk).count("\n")
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise _refuse(
                name, line, exc.object[exc.start : exc.start + 8], LABELS.get(codec, codec)
            ) from None
    return FileEncoding(codec, declared=declared)


def _per_line(
    open_binary: Callable[[], BinaryIO], name: str, codec: str, *, declared: bool = False
) -> FileEncoding:
    counts: Counter[str] = Counter()
    with open_binary() as stream:
        for number, line in enumerate(_lines(stream), start=1):
            if line.isascii():
                continue
            if codec != "mixed":
                try:
                    line.decode(codec)
                except UnicodeDecodeError:
                    raise _refuse(name, number, line, LABELS.get(codec, codec)) from None
                counts[codec] += 1
                continue
            try:
                line.decode("utf-8")
                counts["utf-8"] += 1
                continue
            except UnicodeDecodeError:
                pass
            chosen = _best(line)
            if chosen is None:
                tried = "UTF-8 or any of " + ", ".join(label for _, label in CANDIDATES)
                raise _refuse(name, number, line, tried)
            counts[chosen] += 1
    if codec == "mixed" and not any(counts[c] for c, _ in CANDIDATES):
        return FileEncoding("utf-8")  # pragma: no cover - a file valid line by line is valid whole
    return FileEncoding(codec, dict(counts), declared=declared)


def _lines(stream: BinaryIO) -> Iterator[bytes]:
    """The lines of ``stream`` split at ``\\n``, a line longer than a megabyte in pieces (the same pieces
    for the detection and the reading: memory stays bounded whatever the file holds)."""
    while line := stream.readline(_CHUNK):
        yield line


class _Utf8Pieces(io.RawIOBase):
    """A read-only stream of UTF-8 bytes made of the pieces :meth:`_piece` gives (``b""`` at the end);
    closing it closes the underlying file."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._pending = b""

    def _piece(self) -> bytes:
        raise NotImplementedError

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        wanted = len(buffer)
        while len(self._pending) < wanted:
            piece = self._piece()
            if not piece:
                break
            self._pending += piece
        n = min(wanted, len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._stream.close()
        super().close()


class _Utf8Reader(_Utf8Pieces):
    """The lines of a binary stream, each decoded as its :class:`FileEncoding` says."""

    def __init__(self, stream: BinaryIO, encoding: FileEncoding) -> None:
        super().__init__(stream)
        self._lines = _lines(stream)
        self._decode = encoding.decoder()

    def _piece(self) -> bytes:
        for line in self._lines:  # a line may decode to nothing (a byte-order mark alone)
            if piece := self._decode(line).encode("utf-8"):
                return piece
        return b""


def utf8_stream(stream: BinaryIO, encoding: FileEncoding) -> BinaryIO:
    """``stream`` (the file's bytes) as UTF-8 bytes, for readers that take UTF-8 only."""
    if encoding.identity:
        return stream
    if encoding.codec.startswith("utf-16") or encoding.codec.startswith("utf-32"):
        text = _EncodedText(codecs.getreader(encoding.codec)(stream), stream)
        return io.BufferedReader(text, buffer_size=_CHUNK)
    return io.BufferedReader(_Utf8Reader(stream, encoding), buffer_size=_CHUNK)


class _EncodedText(_Utf8Pieces):
    """Text read by a codec's stream reader."""

    def __init__(self, reader: Any, stream: BinaryIO) -> None:
        super().__init__(stream)
        self._reader = reader

    def _piece(self) -> bytes:
        text = self._reader.read(_CHUNK)
        return text.encode("utf-8") if text else b""
