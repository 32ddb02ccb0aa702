"""Redaction of e-mail addresses, phone, card and account numbers; dates, amounts and order numbers stay."""

import importlib
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cxloop.text.redact import iban_valid, luhn_valid, redact, redact_many

redact_module = importlib.import_module("cxloop.text.redact")  # `cxloop.text.redact` is also the function


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me at jo.bloggs+cx@example.co.uk please", "mail me at [email] please"),
        ("JO@EXAMPLE.COM", "[email]"),
        ("two: a@b.io, c_d@mail-host.org.", "two: [email], [email]."),
        # cards (test numbers that pass Luhn), with and without separators
        ("card 4111 1111 1111 1111 was charged twice", "card [card] was charged twice"),
        ("my card 4111-1111-1111-1111", "my card [card]"),
        ("5500005555555559", "[card]"),
        ("amex 378282246310005.", "amex [card]."),
        # IBANs (mod-97 valid) and account numbers in context
        ("pay GB82 WEST 1234 5698 7654 32 now", "pay [account] now"),
        ("IBAN DE89370400440532013000", "IBAN [account]"),
        ("my account number 12345678 was frozen", "my account number [account] was frozen"),
        ("Account no. 31926819, sort code 60-16-13", "Account no. [account], sort code [account]"),
        ("acct: 00123456", "acct: [account]"),
        # phones
        ("ring +44 20 7946 0958 today", "ring [phone] today"),
        ("call 020 7946 0958", "call [phone]"),
        ("mobile 07700 900123.", "mobile [phone]."),
        ("07700900123", "[phone]"),
        ("(020) 7946 0958", "[phone]"),
        ("US line (555) 123-4567 or 555-123-4567", "US line [phone] or [phone]"),
        ("+1-202-555-0143", "[phone]"),
        ("+33 1 42 68 53 00", "[phone]"),
    ],
)
def test_personal_data_is_replaced(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Visited on 2026-11-23 at 10:30",
        "Visited on 23/11/2026 and 01.02.2025",
        "They charged £1,234.56 and then 12,500.00 more",
        "order 123456789012 never arrived",  # 12 digits: too short for a card
        "reference 4111 1111 1111 1112",  # card-like but fails Luhn
        "ticket 1234567890123456",  # 16 digits, fails Luhn
        "GB00 WEST 1234 5698 7654 32",  # IBAN shape, wrong check digits
        "waited 45 minutes, 3 times, in 2025",
        "branch 0042 in room 12",
        "version 3.3.2 of the app",
        "No personal data here.",
        "rated it 10/10",
    ],
)
def test_non_personal_numbers_are_kept(text):
    assert redact(text) == text


def test_none_and_empty_and_many():
    assert redact(None) is None
    assert redact("") == ""
    assert redact_many(["x@y.com", None, "fine"]) == ["[email]", None, "fine"]


@pytest.mark.parametrize(
    ("digits", "valid"),
    [("4111111111111111", True), ("4111111111111112", False), ("79927398713", True), ("12a4", False)],
)
def test_luhn(digits, valid):
    assert luhn_valid(digits) is valid


def test_iban_check():
    assert iban_valid("GB82 WEST 1234 5698 7654 32")
    assert iban_valid("NL91ABNA0417164300")
    assert not iban_valid("NL91ABNA0417164301")
    assert not iban_valid("GB82")


# The e-mail pattern as it was: its matches are what redaction must still replace, position for position
# (it is quadratic on a run without spaces, so only short texts are compared with it).
_TEXTBOOK_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_TEXTBOOK_ACCOUNT = re.compile(
    r"\b(?P<lead>(?:account|acct|a/c)(?:\s+(?:number|num|no\.?))?|sort\s+code)\s*(?:[:#]|is)?\s*"
    r"(?P<number>\d(?:[ -]?\d){5,17})(?![\d/]|[.,]\d)",
    re.IGNORECASE,
)
_PIECES = ["a", "b", "jo", "x.y", "@", ".", "-", "_", "+", "%", ".com", ".co.uk", ".io", "1", " ", "!", "é"]
_ACCOUNT_PIECES = ["account", "acct", "a/c", "sort", "code", "no.", "number", "is", ":", "#", " ", "\t"]


@settings(deadline=None, max_examples=1000)
@given(st.lists(st.sampled_from(_PIECES), max_size=14).map("".join))
@example("a@b.com.x@y.org")  # the scan resumes inside the run an address ended in
@example("a@b@c.com")
def test_addresses_are_the_textbook_patterns_matches(text):
    assert redact_module._replace_emails(text) == _TEXTBOOK_EMAIL.sub(redact_module.EMAIL, text)


@settings(deadline=None, max_examples=1000)
@given(
    st.lists(st.sampled_from(_ACCOUNT_PIECES), max_size=6).map("".join),
    st.sampled_from(["12345678", "60-16-13", "123", "1 2 3 4 5 6 7", "x"]),
)
def test_account_numbers_are_the_textbook_patterns_matches(lead, number):
    text = lead + number
    assert redact_module._ACCOUNT.sub("#", text) == _TEXTBOOK_ACCOUNT.sub("#", text)
