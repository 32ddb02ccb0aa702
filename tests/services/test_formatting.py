"""The one formatter every page, e-mail and CSV label writes numbers with (issue 17): money with its
currency, grouped thousands, rates as percentages, signed differences, no scientific notation."""

from __future__ import annotations

import math

import pytest

from cxloop.config import Settings
from cxloop.services.formatting import MISSING, NumberFormat, number_format


@pytest.fixture
def en() -> NumberFormat:
    return number_format("en", "EUR")


def test_money_always_carries_its_currency_and_groups_thousands(en: NumberFormat) -> None:
    assert en.money(2132.1) == "€2,132"
    assert en.money(1_234_567.891) == "€1,234,568"
    assert en.money(-5.2) == "-€5"
    assert en.money(0.4) == "€0"  # never "-€0"
    assert en.signed_money(2132.1) == "+€2,132"
    assert en.signed_money(-2132.1) == "-€2,132"
    assert number_format("en", "GBP").money(99.5, 2) == "£99.50"


def test_numbers_group_thousands_the_same_way_everywhere(en: NumberFormat) -> None:
    # "+2132.1" next to "6,034" was the defect: both grouped now
    assert en.signed(2132.1) == "+2,132.1"
    assert en.count(6034) == "6,034"
    assert en.number(2132.14) == "2,132.1"
    assert en.number(12.345, 2) == "12.35"


def test_rates_are_percentages(en: NumberFormat) -> None:
    assert en.percent(0.714) == "71%"
    assert en.percent(0.714, 1) == "71.4%"
    assert en.signed_percent(0.12) == "+12%"
    assert en.signed_percent(-0.12) == "-12%"
    assert en.signed_percent(0.0001) == "0%"


def test_differences_are_signed_and_never_negative_zero(en: NumberFormat) -> None:
    assert en.signed(0.04) == "0.0"
    assert en.signed(-0.04) == "0.0"
    assert en.signed(-0.4) == "-0.4"
    assert en.number(-0.01) == "0.0"


def test_no_scientific_notation_for_people(en: NumberFormat) -> None:
    assert en.p_value(9.387e-05) == "< 0.001"
    assert en.p_value(0.0) == "< 0.001"
    assert en.p_value(0.01234) == "0.012"
    assert "e" not in en.number(1e-7, 3) and en.number(1e-7, 3) == "0.000"
    assert "e" not in en.money(3.2e9)


def test_missing_values_read_as_a_dash(en: NumberFormat) -> None:
    for method in (en.number, en.count, en.signed, en.percent, en.money, en.p_value):
        assert method(None) == MISSING
        assert method(math.nan) == MISSING
        assert method(math.inf) == MISSING


def test_the_locale_decides_separators_and_where_the_currency_goes() -> None:
    de = number_format("de_DE", "EUR")
    assert de.money(2132.1) == "2.132\xa0€"
    assert de.number(2132.14) == "2.132,1"
    assert de.percent(0.714, 1) == "71,4\xa0%" or de.percent(0.714, 1) == "71,4%"
    assert de.p_value(0.0123) == "0,012"


def test_settings_name_the_locale_and_currency_and_refuse_unknown_ones(monkeypatch) -> None:
    monkeypatch.setenv("CXLOOP_LOCALE", "fr")
    monkeypatch.setenv("CXLOOP_CURRENCY", "chf")
    settings = Settings()
    assert (settings.locale, settings.currency) == ("fr", "CHF")
    assert Settings(_env_file=None, locale="en", currency="EUR").currency == "EUR"
    with pytest.raises(ValueError, match="unknown locale"):
        Settings(locale="xx_YY")
    with pytest.raises(ValueError, match="unknown currency"):
        Settings(currency="EURO")
