"""Every routine that reads a comment does work linear in its length, on the nastiest texts we know.

A comment is user input with a length limit (``CXLOOP_MAX_COMMENT_CHARS``) but comments stored before the
limit, and the command line, can be longer: one text must never hold a process for minutes. Each routine is
run on texts made to make regular expressions and tokenisers backtrack (runs without spaces, runs of ``@``,
``.``, ``-``, digits, white space after a keyword, unicode), at n and 8n characters; the CPU time may grow
at most 16-fold (linear: ~8, quadratic: ~64). No clock limit: growth, not speed (``support.work_growth``).
Before this test, redaction's e-mail pattern grew ~60-fold (0.06 s at 10,000 characters, 3.5 s at 80,000)
and VADER ~60-fold on texts with "but" (its checks copy the word list for every sentiment-laden word).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxloop.services.act.rules.keywords import COMMENT_KEYWORDS
from cxloop.services.act.rules.kind import ResponseFacts
from cxloop.text import sentence_sentiment, sentiment, split_sentences, tag_comments
from cxloop.text.codebook import DEMO_CODEBOOK
from cxloop.text.redact import redact
from cxloop.text.suggest import suggest_themes
from support.work_growth import LINEAR_ENOUGH, work_growth


def _repeat(unit: str, lead: str = "", tail: str = "") -> Callable[[int], str]:
    def make(n: int) -> str:
        return lead + unit * max(1, n // len(unit)) + tail

    return make


ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "letters without spaces": _repeat("a"),
    "at signs": _repeat("@"),
    "letter and at sign": _repeat("a@"),
    "dots": _repeat("a."),
    "hyphens": _repeat("a-"),
    "an address's domain": _repeat(".c", lead="jo@b"),
    "domain hyphens and dots": _repeat("-c.", lead="jo@b"),
    "digits": _repeat("1"),
    "spaced digits": _repeat("1 "),
    "hyphenated digits": _repeat("1-"),
    "dotted digits": _repeat("1."),
    "international prefixes": _repeat("+1 "),
    "brackets and trunk zeros": _repeat("(0"),
    "IBAN-like groups": _repeat("AB12"),
    "spaces after 'account'": _repeat(" ", lead="account", tail="x"),
    "spaces after 'account no'": _repeat(" ", lead="account no", tail="x"),
    "spaces after 'sort'": _repeat("\t", lead="sort", tail="x"),
    "accents": _repeat("é"),
    "combining marks": _repeat("e\u0301"),
    "emoji": _repeat("\N{GRINNING FACE}"),
    "CJK": _repeat("漢字"),
    "square brackets": _repeat("["),
    "sentence ends": _repeat(". "),
    "exclamation marks": _repeat("!"),
    "spaces after a full stop": _repeat(" ", lead=".", tail="x"),
    "negations": _repeat("not "),
    "contractions": _repeat("isn't "),
    "praise then but": _repeat("x good great ", lead="but "),
    "but after neutral words": _repeat("x ", tail=" but good bad great love hate"),
    "keyword phrase halves": _repeat("close  ", tail="x"),
}


_KEYWORDS = {"keywords": ["complaint", "close my account", "fraud"]}


def _keyword_rule(text: str) -> object:
    response = ResponseFacts("r1", datetime(2026, 1, 1, tzinfo=UTC), "b01", comment=text)
    return COMMENT_KEYWORDS.evaluate(_KEYWORDS, [response], None)  # the kind reads nothing from the context


ROUTINES: dict[str, Callable[[str], object]] = {
    "redact": redact,
    "sentiment": lambda text: sentiment([text]),
    "split_sentences": split_sentences,
    "sentence_sentiment": sentence_sentiment,
    "tag_comments": lambda text: tag_comments([text], DEMO_CODEBOOK),
    "comment_keywords rule": _keyword_rule,
    "suggest_themes": lambda text: suggest_themes(
        [text, text + " x", "fees were too high", "friendly staff"], n_themes=2, min_df=1
    ),
}


# The two that were quadratic run in the fast tier; the others (linear when written) with the slow tests.
_FAST = ("redact", "sentiment")


@pytest.mark.parametrize(
    "routine", [pytest.param(name, marks=() if name in _FAST else pytest.mark.slow) for name in ROUTINES]
)
@pytest.mark.parametrize("text", list(ADVERSARIAL))
def test_work_grows_linearly_on_adversarial_text(routine: str, text: str) -> None:
    growth = work_growth(ROUTINES[routine], ADVERSARIAL[text])
    assert growth.ratio < LINEAR_ENOUGH, f"{routine} on {text}: x{growth.ratio:.1f} ({growth})"


# Characters the patterns treat specially (address, number and phone separators, brackets, white space),
# and a few outside ASCII: hypothesis builds short units from them and the text repeats a unit.
_RISKY = "a1@.-+_%:#/()[] \t\nZé\N{GRINNING FACE}"


@functools.cache
def _sample_routines() -> tuple[Callable[[str], object], ...]:
    return (redact, lambda text: sentiment([text]), lambda text: tag_comments([text], DEMO_CODEBOOK))


@pytest.mark.slow
@settings(deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(
    unit=st.text(alphabet=_RISKY, min_size=1, max_size=5),
    lead=st.sampled_from(["", "account ", "mail jo", "+44 ", "call 0"]),
)
def test_work_grows_linearly_on_any_repeated_unit(unit: str, lead: str) -> None:
    for routine in _sample_routines():
        growth = work_growth(routine, _repeat(unit, lead=lead), start=2_000)
        assert growth.ratio < LINEAR_ENOUGH, f"{unit!r} after {lead!r}: x{growth.ratio:.1f} ({growth})"
