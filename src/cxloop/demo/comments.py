"""Free-text comments written from the known themes' phrase templates.

A comment is the phrases of the themes present in the response (one phrase per theme, chosen at random),
sometimes opened by a short sentence that matches the customer's NPS category. Responses with no theme get
a generic comment now and then, else none. Assembly is vectorised with Arrow compute, so ten million
comments take seconds, not minutes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["GENERIC", "OPENERS", "PHRASES", "build_comments"]

PHRASES: dict[str, tuple[str, ...]] = {
    "long_wait": (
        "I had to wait far too long to be seen.",
        "The queue was ridiculous and nobody explained the delay.",
        "It took ages to get through to anyone.",
        "Waited over half an hour, which is not acceptable.",
        "Everything was so slow.",
    ),
    "unresolved_issue": (
        "My problem still has not been sorted out.",
        "I was passed from one person to another and nothing got fixed.",
        "Nobody could actually resolve my issue.",
        "I had to call back three times about the same problem.",
        "The issue is still open weeks later.",
    ),
    "high_fees": (
        "The fees are far too high for what you get.",
        "I was charged a fee I did not expect.",
        "Your charges are much higher than other banks.",
        "Too many hidden charges on my account.",
        "Paying a monthly fee for this feels like poor value.",
    ),
    "app_problems": (
        "The app keeps crashing when I log in.",
        "The app is confusing and I could not find what I needed.",
        "The app logged me out in the middle of a payment.",
        "The latest app update made everything harder.",
        "I could not get the app to work at all.",
    ),
    "unhelpful_staff": (
        "The staff did not seem to know the answer.",
        "The person I spoke to was unhelpful and dismissive.",
        "Staff gave me the wrong information.",
        "Nobody seemed to understand the products.",
        "The advisor could not answer simple questions.",
    ),
    "poor_communication": (
        "Nobody told me what was happening.",
        "The letters and emails were confusing.",
        "I never received the call back I was promised.",
        "The terms were not explained clearly.",
        "Information was contradictory and unclear.",
    ),
    "friendly_staff": (
        "The staff were lovely and really friendly.",
        "Such a warm welcome at the branch.",
        "The person I spoke to was polite and kind.",
        "Friendly, helpful people as always.",
        "Staff were courteous and made me feel welcome.",
    ),
    "personal_service": (
        "They really took the time to understand my situation.",
        "My advisor knows me and my family, which I value.",
        "It felt like a personal service, not a call centre.",
        "They tailored the advice to my needs.",
        "I felt looked after as an individual.",
    ),
    "easy_app": (
        "The app is brilliant and so easy to use.",
        "I can do everything I need in the app in seconds.",
        "Love the app, it is simple and quick.",
        "Paying and transferring in the app is effortless.",
        "The app just works.",
    ),
    "quick_resolution": (
        "My problem was fixed straight away.",
        "They sorted everything out in one call.",
        "The issue was resolved quickly and first time.",
        "Problem solved on the spot, great job.",
        "They fixed it there and then.",
    ),
}
"""Phrase templates per theme. Every phrase names its theme's subject only."""

OPENERS: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] = (
    ("Great bank.", "Really happy overall.", "Excellent as always.", "Very pleased."),
    ("It was okay.", "Mostly fine.", "Average experience.", "Not bad."),
    ("Very disappointed.", "Not happy at all.", "Poor experience.", "Really frustrating."),
)
"""Opening sentences for promoters, passives and detractors."""

GENERIC: tuple[str, ...] = ("Fine.", "No complaints.", "Nothing to add.", "All good.", "OK.")

OPENER_RATE = 0.4  # share of comments that start with an opener
GENERIC_RATE = 0.12  # share of theme-less responses that still leave a (generic) comment


def build_comments(
    rng: np.random.Generator, themes: np.ndarray, theme_names: tuple[str, ...], category: np.ndarray
) -> pa.Array:
    """Comments for ``themes`` ``[response, theme]`` (booleans) and NPS ``category`` (0/1/2).

    Returns a string array with nulls where the customer left no comment.
    """
    n = len(category)
    any_theme = themes.any(axis=1)
    generic = ~any_theme & (rng.random(n) < GENERIC_RATE)
    opener = (any_theme | generic) & (rng.random(n) < OPENER_RATE)

    # Every sentence any comment can hold, in one list; each comment part is an index into it (-1: none).
    sentences: list[str] = []
    parts: list[np.ndarray] = []

    def part(options: tuple[str, ...], offsets: np.ndarray, present: np.ndarray) -> None:
        first = len(sentences)
        sentences.extend(options)
        parts.append(np.where(present, first + offsets, -1))

    openers = [sentence for options in OPENERS for sentence in options]
    starts = np.cumsum([0, *(len(options) for options in OPENERS)])[:-1]
    sizes = np.array([len(options) for options in OPENERS])
    category = category.astype(np.int64)
    part(tuple(openers), starts[category] + rng.integers(0, 1 << 30, n) % sizes[category], opener)
    for j, theme in enumerate(theme_names):
        options = PHRASES[theme]
        part(options, rng.integers(0, len(options), n), themes[:, j])
    part(GENERIC, rng.integers(0, len(GENERIC), n), generic)

    # Row-major flattening keeps each comment's parts in order; a list array joined by spaces is the text.
    matrix = np.stack(parts, axis=1)
    present = matrix >= 0
    offsets = np.r_[0, np.cumsum(present.sum(axis=1))].astype(np.int64)
    values = pa.DictionaryArray.from_arrays(
        pa.array(matrix[present].astype(np.int32)), pa.array(sentences, type=pa.string())
    ).cast(pa.string())
    joined = pc.binary_join(pa.LargeListArray.from_arrays(pa.array(offsets), values), " ")
    return pc.if_else(pc.equal(joined, ""), pa.scalar(None, pa.string()), joined)
