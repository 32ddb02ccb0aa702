"""Keyword matching, negation, parents, confidence and per-theme sentiment of the tagger."""

import numpy as np
import pyarrow as pa
import pytest

from cxloop.text.codebook import DEMO_CODEBOOK, Codebook, CodebookError, Theme
from cxloop.text.tagging import keyword_pattern, normalise, tag_comments

BOOK = Codebook(
    (
        Theme("fees", ("fee", "charge", "poor value")),
        Theme("wait", ("wait", "queue")),
        Theme("app_crash", ("app * crash",), parent="digital"),
        Theme("app_good", ("app * work",), parent="digital"),
        Theme("unsolved", ("not * fix",)),
        Theme("friendly", ("friendly", "reply")),
        Theme("digital", ()),
    )
)


def themes_of(text):
    tags = tag_comments([text], BOOK, with_sentiment=False)
    return {name for name, present in zip(tags.themes, tags.presence[0], strict=True) if present}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The fees are high", {"fees"}),
        ("I was charged twice", {"fees"}),
        ("Charging me for nothing", {"fees"}),
        ("It's poor value.", {"fees"}),
        ("I waited and waited in the queue", {"wait"}),
        ("The APP keeps on CRASHING!", {"app_crash", "digital"}),
        ("The app just works", {"app_good", "digital"}),
        ("They never replied", set()),  # negated
        ("They replied kindly", {"friendly"}),
        ("it's not fixed now", {"unsolved"}),
        ("nothing was fixed", set()),  # "nothing" is not the keyword's "not"
        ("The staff weren't friendly", set()),  # n't -> not, negation within two words
        ("Not at all friendly", set()),
        ("There was no wait at all", set()),
        ("Not friendly. But no fees!", set()),
        ("No fees. Friendly staff", {"friendly"}),  # negation does not cross sentences
        ("Feedback on the waiter", set()),  # whole words only
        ("a fee, a fee and a charge", {"fees"}),
        ("", set()),
    ],
)
def test_matching(text, expected):
    assert themes_of(text) == expected


def test_confidence_grows_with_matches_and_is_zero_when_absent():
    tags = tag_comments(
        ["fee", "fee and charge", "fee, charge, poor value", "nothing"], BOOK, with_sentiment=False
    )
    j = tags.themes.index("fees")
    np.testing.assert_allclose(tags.confidence[:, j], [0.6, 0.84, 0.936, 0.0])


def test_parent_takes_largest_child_confidence():
    tags = tag_comments(["app crash. app crashed. the app works"], BOOK, with_sentiment=False)
    c = dict(zip(tags.themes, tags.confidence[0], strict=True))
    assert c["digital"] == pytest.approx(max(c["app_crash"], c["app_good"])) == pytest.approx(0.84)


def test_theme_sentiment_comes_from_the_theme_sentences():
    tags = tag_comments(["The staff were friendly and great. The fees are a horrible rip off!"], BOOK)
    s = dict(zip(tags.themes, tags.theme_sentiment[0], strict=True))
    assert s["friendly"] > 0.5 and s["fees"] < -0.5
    assert np.isnan(s["wait"])
    assert -1 <= tags.sentiment[0] <= 1


def test_nulls_arrow_input_and_long_frame():
    tags = tag_comments(pa.chunked_array([["fee"], [None, "queue"]]), BOOK)
    assert np.isnan(tags.sentiment[1]) and not tags.presence[1].any()
    frame = tags.to_frame(["a", "b", "c"])
    assert sorted(zip(frame.id, frame.theme, strict=True)) == [("a", "fees"), ("c", "wait")]
    assert "3 comments" in tags.summary()


def test_keyword_pattern_and_normalise():
    assert keyword_pattern("reply") == "repl(?:y|ies|ied)"
    assert keyword_pattern("fee") == "fee(?:s|d)?"
    crash = "app(?:s|es|ed|ing|ly)? (?:[a-z0-9]+ ){0,3}crash(?:s|es|ed|ing|ly)?"
    assert keyword_pattern("* app * crash *") == crash
    assert normalise(pa.array(["Don't   STOP!", None])).to_pylist() == ["do not stop", None]


def test_codebook_validation_and_version():
    with pytest.raises(CodebookError, match="duplicate"):
        Codebook((Theme("a", ("x",)), Theme("a", ("y",))))
    with pytest.raises(CodebookError, match="parent"):
        Codebook((Theme("a", ("x",), parent="b"),))
    with pytest.raises(CodebookError, match="no keywords"):
        Codebook((Theme("a", ()),))
    with pytest.raises(CodebookError, match="cycle"):
        Codebook((Theme("a", ("x",), parent="b"), Theme("b", ("y",), parent="a")))
    base = Codebook((Theme("a", ("x",)), Theme("b", ("y",))))
    same = Codebook.from_records([{"name": "b", "keywords": "y"}, {"name": "a", "keywords": ["X"]}])
    changed = Codebook((Theme("a", ("x", "z")), Theme("b", ("y",))))
    assert base.version == same.version != changed.version
    inactive = Codebook((Theme("a", ("x",)), Theme("b", ("y",), active=False)))
    assert inactive.names == ("a",)


def test_demo_codebook_is_valid():
    assert len(DEMO_CODEBOOK) == 12
    assert set(DEMO_CODEBOOK.children("staff")) == {"unhelpful_staff", "friendly_staff"}


def test_comment_sentiment_equals_vader_on_the_whole_comment():
    from cxloop.text import sentiment

    texts = ["The book was good.", "Today SUX! The book was good.", None, "", "  Fine.  ", "a. b.  c"]
    tags = tag_comments(texts, BOOK)
    np.testing.assert_allclose(tags.sentiment, sentiment(texts), equal_nan=True)


def test_no_comments():
    tags = tag_comments([], BOOK)
    assert tags.confidence.shape == (0, len(BOOK)) and tags.sentiment.shape == (0,)
