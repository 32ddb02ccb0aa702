"""VADER's analyser with the same scores in time linear in the text's words.

vaderSentiment 3.3.2 makes one long comment cost time quadratic in its words, in three checks: for every
sentiment-laden word ``_negation_check`` and ``_special_idioms_check`` copy and lower-case the comment's
whole word list to read the three words before it and two after, and ``_but_check`` looks every score up by
value with ``list.index`` (a scan from the start). A 20,000-word comment took minutes. Here the first two see
only the words they read (a slice around the word, the index shifted to match), and the third replays the
same ``list.index`` lookups with, per value, a heap of the positions that hold it: the first position holding
a value is the heap's top. VADER's own code does the rest; ``tests/text/test_text_sentiment.py`` compares the
scores with the unmodified analyser's on generated text.

Imported only when sentiment is first scored (it subclasses VADER's analyser, imported on first use too).
"""

from __future__ import annotations

import heapq
from collections.abc import MutableSequence, Sequence

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

__all__ = ["LinearTimeAnalyzer"]

_BEFORE = 3  # words VADER reads before a sentiment-laden word
_AFTER = 2  # and after it


class LinearTimeAnalyzer(SentimentIntensityAnalyzer):
    """:class:`vaderSentiment.vaderSentiment.SentimentIntensityAnalyzer`, the same scores, linear work."""

    @staticmethod
    def _negation_check(valence: float, words_and_emoticons: Sequence[str], start_i: int, i: int) -> float:
        low = max(0, i - _BEFORE)
        return SentimentIntensityAnalyzer._negation_check(
            valence, words_and_emoticons[low : i + 1], start_i, i - low
        )

    @staticmethod
    def _special_idioms_check(valence: float, words_and_emoticons: Sequence[str], i: int) -> float:
        # The slice keeps VADER's "is there a next word" tests true exactly when they are on the whole list.
        low = max(0, i - _BEFORE)
        return SentimentIntensityAnalyzer._special_idioms_check(
            valence, words_and_emoticons[low : i + _AFTER + 1], i - low
        )

    @staticmethod
    def _but_check(
        words_and_emoticons: Sequence[str], sentiments: MutableSequence[float]
    ) -> MutableSequence[float]:
        lowered = [str(word).lower() for word in words_and_emoticons]
        if "but" not in lowered:
            return sentiments
        but = lowered.index("but")
        # VADER: for each score in turn, si = sentiments.index(score) (the first position holding an equal
        # value, as the list stands then), and that position is halved before "but" or scaled by 1.5 after.
        holders: dict[float, list[int]] = {}
        for position, value in enumerate(sentiments):
            holders.setdefault(value, []).append(position)  # ascending positions: already a heap
        for k in range(len(sentiments)):
            value = sentiments[k]
            first = holders[value][0]
            if first == but:
                continue
            scaled = value * 0.5 if first < but else value * 1.5
            heapq.heappop(holders[value])
            sentiments[first] = scaled
            heapq.heappush(holders.setdefault(scaled, []), first)
        return sentiments
