"""VADER compound scores against the published examples.

Source: the vaderSentiment README (cjhutto/vaderSentiment, release 3.3.2), "Python demo and code
examples" section, which prints ``polarity_scores`` of these sentences; Hutto & Gilbert (2014) ICWSM.
Tolerance: the README prints four decimals, so scores must agree to 5e-5.
"""

import functools

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cxloop.text import sentence_sentiment, sentiment, split_sentences

PUBLISHED = [
    ("VADER is smart, handsome, and funny.", 0.8316),
    ("VADER is not smart, handsome, nor funny.", -0.7424),
    ("VADER is smart, handsome, and funny!", 0.8439),
    ("VADER is very smart, handsome, and funny.", 0.8545),
    ("VADER is VERY SMART, handsome, and FUNNY.", 0.9227),
    ("VADER is VERY SMART, handsome, and FUNNY!!!", 0.9342),
    ("VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!", 0.9469),
    ("The book was good.", 0.4404),
    ("The book was kind of good.", 0.3832),
    ("The plot was good, but the characters are uncompelling and the dialog is not great.", -0.7042),
    ("At least it isn't a horrible book.", 0.431),
    ("Make sure you :) or :D today!", 0.8633),
    ("Today SUX!", -0.5461),
    # 3.3.x README value; READMEs before 3.3 printed 0.2228 (the "but"/"kinda" rules changed since).
    ("Today only kinda sux! But I'll get by, lol", 0.5249),
]


def test_published_compound_scores():
    texts = [text for text, _ in PUBLISHED]
    expected = np.array([score for _, score in PUBLISHED])
    np.testing.assert_allclose(sentiment(texts), expected, atol=5e-5, rtol=0)


def test_missing_and_blank_texts_are_nan_and_order_is_kept():
    scores = sentiment(["The book was good.", None, "  ", "Today SUX!", "The book was good."])
    assert np.isnan(scores[1]) and np.isnan(scores[2])
    np.testing.assert_allclose(scores[[0, 3, 4]], [0.4404, -0.5461, 0.4404], atol=5e-5)


def test_arrow_input_and_no_dedupe_agree():
    texts = [text for text, _ in PUBLISHED] * 3 + [None]
    arrow = pa.chunked_array([pa.array(texts[:20]), pa.array(texts[20:])])
    a = sentiment(arrow)
    b = sentiment(texts, dedupe=False)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)])


def test_empty_input():
    assert sentiment([]).shape == (0,)


def test_sentence_scores_of_a_mixed_comment():
    pairs = sentence_sentiment("The book was good.  Today SUX! At least it isn't a horrible book.")
    assert [s for s, _ in pairs] == ["The book was good.", "Today SUX!", "At least it isn't a horrible book."]
    np.testing.assert_allclose([v for _, v in pairs], [0.4404, -0.5461, 0.431], atol=5e-5)


@pytest.mark.parametrize(
    ("text", "parts"),
    [("One. Two! Three?", 3), ("No end", 1), ("Version 3.3 is out. Ok", 2), ("", 0)],
)
def test_split_sentences(text, parts):
    assert len(split_sentences(text)) == parts


# Words and phrases that exercise every VADER rule the linear-time analyser reimplements: "but", negations,
# boosters and dampeners, "least", idioms read before and after a word ("kiss of death", "yeah right"),
# capitals, repeated valences (list.index's first match), emoji and punctuation.
_VOCABULARY = (
    "but|BUT|not|no|never|without doubt|isn't|very|VERY|kind of|sort of|least|at least|the bomb|bad ass|"
    "yeah right|kiss of death|broken heart|to die for|good|GOOD|great|bad|terrible|fine|friendly|slow|rude|"
    "love|hate|so|this|nor|or|helpful|waited|x|ok|:)|\N{GRINNING FACE}|!|?|,|."
).split("|")


@functools.cache
def _analysers():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from cxloop.text._vader import LinearTimeAnalyzer

    return LinearTimeAnalyzer(), SentimentIntensityAnalyzer()


@settings(deadline=None, max_examples=500)
@given(st.lists(st.sampled_from(_VOCABULARY), max_size=30))
@example(["x", "x", "x", "kiss of death"])  # an idiom read after the word
@example(["x", "not", "x", "good", "but", "x", "yeah right"])
def test_linear_time_analyser_scores_as_vader_does(words):
    linear, published = _analysers()
    text = " ".join(words)
    assert linear.polarity_scores(text) == published.polarity_scores(text)


@settings(deadline=None, max_examples=500)
@given(
    st.lists(st.sampled_from(["but", "x"]), min_size=1, max_size=12).flatmap(
        lambda words: st.tuples(
            st.just(words),
            st.lists(
                st.sampled_from([0, 0.75, 1.5, 2.25, 3.0, 4.5, -1.5, -3.0]),
                min_size=len(words),
                max_size=len(words),
            ),
        )
    )
)
def test_but_rescaling_replays_vaders_lookups_by_value(case):
    # VADER rescales the first position holding each score's value (list.index), not the score's own
    # position: with 3.0 before "but" and 1.5 after, the 1.5 halves the first 1.5 (the halved 3.0).
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from cxloop.text._vader import LinearTimeAnalyzer

    words, scores = case
    expected = SentimentIntensityAnalyzer._but_check(words, list(scores))
    assert LinearTimeAnalyzer._but_check(words, list(scores)) == expected
