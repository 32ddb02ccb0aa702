"""Redaction of personal data in comments before they are shown or exported.

:func:`redact` replaces e-mail addresses with ``[email]``, payment card numbers (13-19 digits, spaces or
hyphens allowed, Luhn-checked) with ``[card]``, IBANs (ISO 13616 mod-97 checked) and numbers introduced by
"account"/"acct"/"a/c"/"sort code" with ``[account]``, and phone numbers (international ``+``, national
trunk ``0``, or ``(555) 123-4567`` / ``555-123-4567``) with ``[phone]``.

The checks keep false positives down: dates (``2026-11-23``, ``23/11/2026``), amounts (``£1,234.56``),
order and reference numbers that fail the Luhn or mod-97 check stay as they are. A number with no
checksum and no context (``12345678``) is left alone: redaction favours keeping the comment readable over
guessing. Card numbers are replaced whether or not they look like a known issuer's.

References
----------
.. [1] ISO/IEC 7812-1 (Luhn check digit); ISO 13616-1:2020 (IBAN and its mod-97 check).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["iban_valid", "luhn_valid", "redact", "redact_many"]

EMAIL = "[email]"
PHONE = "[phone]"
CARD = "[card]"
ACCOUNT = "[account]"

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b", re.IGNORECASE)
_CARD = re.compile(r"(?<![\d.,/-])\d(?:[ -]?\d){12,18}(?![\d/]|[.,]\d)")
_ACCOUNT = re.compile(
    r"\b(?P<lead>(?:account|acct|a/c)(?:\s+(?:number|num|no\.?))?|sort\s+code)\s*(?:[:#]|is)?\s*"
    r"(?P<number>\d(?:[ -]?\d){5,17})(?![\d/]|[.,]\d)",
    re.IGNORECASE,
)
_PHONE = re.compile(
    r"(?<![\w+/.,-])(?:"
    r"\+\d{1,3}[ .-]?(?:\(0?\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"  # +44 20 7946 0958
    r"|\(0\d{1,4}\)[ .-]?\d{3,4}[ .-]?\d{3,4}"  # (020) 7946 0958
    r"|0\d{2,4}[ .-]?\d{3,4}[ .-]?\d{3,4}"  # 020 7946 0958, 07700 900123, 07700900123
    r"|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}"  # (555) 123-4567
    r"|\d{3}[.-]\d{3}[.-]\d{4}"  # 555-123-4567
    r")(?![\w/]|[.,-]\d)"
)


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check (ISO/IEC 7812-1)."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """Whether ``text`` (spaces allowed) is an IBAN with a correct mod-97 check (ISO 13616)."""
    compact = text.replace(" ", "").upper()
    if not (15 <= len(compact) <= 34) or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return CARD if luhn_valid(digits) else match.group(0)


def _iban(match: re.Match[str]) -> str:
    return ACCOUNT if iban_valid(match.group(0)) else match.group(0)


def _account(match: re.Match[str]) -> str:
    return match.group(0)[: match.start("number") - match.start(0)] + ACCOUNT


def _phone(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    return PHONE if 7 <= digits <= 15 else match.group(0)


def redact(text: str | None) -> str | None:
    """``text`` with e-mail addresses, card, account and phone numbers replaced by placeholders.

    Examples
    --------
    >>> redact("Call me on +44 20 7946 0958 or mail jo@example.com about order 20261123")
    'Call me on [phone] or mail [email] about order 20261123'
    """
    if not text:
        return text
    text = _EMAIL.sub(EMAIL, text)
    text = _IBAN.sub(_iban, text)
    text = _CARD.sub(_card, text)
    text = _ACCOUNT.sub(_account, text)
    return _PHONE.sub(_phone, text)


def redact_many(texts: Iterable[str | None]) -> list[str | None]:
    """:func:`redact` over many texts (None stays None)."""
    return [redact(text) for text in texts]
