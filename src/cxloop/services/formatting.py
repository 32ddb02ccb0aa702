"""How numbers read: one locale-aware formatter for every page, e-mail and CSV label.

Pages, case e-mails and the human columns of downloads format every number through a :class:`NumberFormat`
built from the settings ``CXLOOP_LOCALE`` (a CLDR locale, ``en``, ``de_DE``...) and ``CXLOOP_CURRENCY`` (an
ISO 4217 code, ``EUR``). It uses Babel, so the thousands separator, the decimal mark and where the currency
goes follow the locale: ``€1,234`` in ``en``, ``1.234 €`` in ``de``.

The rules it keeps, whatever the page:

* money always carries its currency, in whole units (``€2,132``); a missing value is an en dash;
* counts and measures always group thousands (``6,034``, ``2,132.1``), never ``2132.1`` beside ``6,034``;
* rates and shares are percentages (``71.4%``), never ``0.714``;
* differences are signed (``+2.1``, ``-0.4``) and never read ``-0.0``;
* p-values and other tiny numbers never use scientific notation: below 0.001 reads ``< 0.001``.

CSV value columns keep machine-readable numbers (a spreadsheet sums them); only labels are formatted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

__all__ = ["MISSING", "NumberFormat", "number_format"]

#: What a missing, suppressed or undefined number reads as.
MISSING = "\u2013"
#: Below this a p-value (or q-value) reads "< 0.001".
_SMALLEST_P = 0.001


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


@dataclass(frozen=True)
class NumberFormat:
    """Numbers, money, rates and dates as people read them in ``locale``, money in ``currency``.

    Example
    -------
    >>> fmt = NumberFormat("en", "EUR")
    >>> fmt.money(2132.1), fmt.number(2132.14), fmt.percent(0.714, 1), fmt.signed(-0.04)
    ('€2,132', '2,132.1', '71.4%', '0.0')
    >>> fmt.p_value(9.387e-05)
    '< 0.001'
    """

    locale: str = "en"
    currency: str = "EUR"

    @property
    def _locale(self) -> Locale:
        return _parse(self.locale)

    def _decimal(self, value: float, digits: int, signed: bool) -> str:
        rounded = round(float(value), digits)
        if rounded == 0:
            rounded = 0.0  # never "-0.0", and a difference of nothing has no sign
            signed = False
        fraction = "." + "0" * digits if digits > 0 else ""
        body = f"#,##0{fraction}"
        pattern = f"+{body};-{body}" if signed else body
        return format_decimal(rounded, format=pattern, locale=self._locale, decimal_quantization=True)

    def number(self, value: Any, digits: int = 1) -> str:
        """``2,132.1``: grouped thousands, ``digits`` decimals; an en dash when missing."""
        return MISSING if _missing(value) else self._decimal(value, digits, signed=False)

    def count(self, value: Any) -> str:
        """``6,034``: a whole number with grouped thousands."""
        return MISSING if _missing(value) else self._decimal(value, 0, signed=False)

    def signed(self, value: Any, digits: int = 1) -> str:
        """``+2,132.1`` / ``-0.4``; zero reads ``0.0`` (no sign)."""
        return MISSING if _missing(value) else self._decimal(value, digits, signed=True)

    def percent(self, ratio: Any, digits: int = 0) -> str:
        """A rate or share given as a ratio: ``0.714`` -> ``71%`` (``71.4%`` with one digit)."""
        if _missing(ratio):
            return MISSING
        rounded = round(float(ratio) * 100, digits) / 100 or 0.0
        fraction = "." + "0" * digits if digits > 0 else ""
        return format_percent(rounded, format=f"#,##0{fraction}%", locale=self._locale)

    def signed_percent(self, ratio: Any, digits: int = 0) -> str:
        """A change given as a ratio: ``0.12`` -> ``+12%``; zero reads ``0%``."""
        if _missing(ratio):
            return MISSING
        text = self.percent(ratio, digits)
        return text if round(float(ratio) * 100, digits) <= 0 else "+" + text

    def money(self, value: Any, digits: int = 0) -> str:
        """``€2,132`` (``2.132 €`` in ``de``): always with the currency, whole units unless ``digits``."""
        if _missing(value):
            return MISSING
        rounded = round(float(value), digits) or 0.0
        return format_currency(
            rounded,
            self.currency,
            format=_money_pattern(self.locale, digits),
            locale=self._locale,
            currency_digits=False,
        )

    def signed_money(self, value: Any, digits: int = 0) -> str:
        """``+€2,132`` / ``-€2,132``; zero without a sign."""
        if _missing(value):
            return MISSING
        text = self.money(value, digits)
        return "+" + text if round(float(value), digits) > 0 else text

    def p_value(self, value: Any) -> str:
        """``0.012``; below 0.001 ``< 0.001`` (never ``9.387e-05``)."""
        if _missing(value):
            return MISSING
        if float(value) < _SMALLEST_P:
            return "< " + self._decimal(_SMALLEST_P, 3, signed=False)
        return self._decimal(value, 3, signed=False)

    def date(self, value: date | datetime | None) -> str:
        """``8 Dec 2026`` in the locale's medium form."""
        if value is None:
            return MISSING
        return format_date(value, format="medium", locale=self._locale)

    def datetime(self, value: datetime | None) -> str:
        """``8 Dec 2026, 14:05`` (UTC as stored)."""
        if value is None:
            return MISSING
        return format_datetime(value, format="medium", locale=self._locale)


@lru_cache(maxsize=32)
def _parse(locale: str) -> Locale:
    return Locale.parse(locale.replace("-", "_"))


@lru_cache(maxsize=64)
def _money_pattern(locale: str, digits: int) -> str:
    """The locale's own currency pattern (where the symbol goes) with ``digits`` decimals."""
    pattern = _parse(locale).currency_formats["standard"].pattern.split(";")[0]
    fraction = "." + "0" * digits if digits > 0 else ""
    return pattern.replace(".00", fraction)


@lru_cache(maxsize=32)
def number_format(locale: str = "en", currency: str = "EUR") -> NumberFormat:
    """The (shared) formatter of ``locale`` and ``currency``: build it from the settings with
    ``number_format(settings.locale, settings.currency)``."""
    return NumberFormat(locale, currency)
