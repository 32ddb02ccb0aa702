"""VADER compound scores against the published examples.

Source: the vaderSentiment README (cjhutto/vaderSentiment, release 3.3.2), "Python demo and code
examples" section, which prints ``polarity_scores`` of these sentences; Hutto & Gilbert (2014) ICWSM.
Tolerance: the README prints four decimals, so scores must agree to 5e-5.
"""

import numpy as np
import pyarrow as pa
import pytest

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
