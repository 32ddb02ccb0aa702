"""Redaction of e-mail addresses, phone, card and account numbers; dates, amounts and order numbers stay."""

import pytest

from cxloop.text.redact import iban_valid, luhn_valid, redact, redact_many


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
