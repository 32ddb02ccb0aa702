"""Assigning comments to themes with a confidence, and scoring their sentiment, over many comments at once.

How a comment is tagged
-----------------------
1. The comment is split into sentences; each sentence is normalised (lower case, ``n't`` -> ``not``,
   anything but letters and digits -> one space).
2. Each theme's keywords become one regular expression (an alternation): words of four letters or more
   also match their inflections (``charge`` -> "charges", "charged", "charging"; ``reply`` -> "replies"),
   shorter ones their plural, and ``*`` up to three words. A second expression finds the same keywords
   preceded by a negation (``not``, ``no``, ``never``, ``nobody``, ``nothing``, ``without``, ``hardly``)
   within two words. Both are counted per sentence with Arrow's RE2 kernels (``count_substring_regex``):
   one vectorised pass per theme over all sentences, never a Python loop per comment.
3. A sentence's matches for a theme are the plain matches minus the negated ones; a comment's are the sum
   over its sentences. A comment carries the theme when it has at least one, with
   ``confidence = 1 - 0.4 ** matches`` (0.6 for one match, 0.84 for two, 0.94 for three): a monotone
   score for ranking and thresholds, not a calibrated probability.
4. A parent theme is present when it or any of its children is (confidence: the largest).
5. Sentiment: VADER's compound score of the whole comment, and of each theme as the mean compound of the
   comment's sentences that carry it (a comment praising staff and blaming fees gets a positive staff
   sentiment and a negative fees sentiment).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cxloop.text.codebook import Codebook
from cxloop.text.sentiment import sentiment

__all__ = ["CommentTags", "keyword_pattern", "normalise", "tag_comments"]

NEGATIONS = ("not", "no", "never", "nobody", "nothing", "without", "hardly")
CONFIDENCE_BASE = 0.4
_WILDCARD = r" (?:[a-z0-9]+ ){0,3}"


def normalise(texts: pa.Array) -> pa.Array:
    """Lower case, ``n't``/``cannot`` -> `` not``, runs of other characters -> one space."""
    out = pc.utf8_lower(texts)
    out = pc.replace_substring_regex(out, pattern=r"n['’]t\b", replacement=" not")
    out = pc.replace_substring_regex(out, pattern=r"\bcannot\b", replacement="can not")
    out = pc.replace_substring_regex(out, pattern=r"[^a-z0-9]+", replacement=" ")
    return pc.utf8_trim(out, characters=" ")


def _inflect(word: str) -> str:
    if not word.isalpha() or word in NEGATIONS or len(word) <= 2:
        return re.escape(word)
    if word.endswith("ee"):
        return word + "(?:s|d)?"
    if word.endswith("e"):
        return word[:-1] + "(?:e|es|ed|ing)"
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "(?:y|ies|ied)"
    return word + "(?:s|es|ed|ing|ly)?"


def keyword_pattern(keyword: str) -> str:
    """The regular expression (RE2 syntax, on normalised text) of one keyword or phrase."""
    words = re.sub(r"[^a-z0-9* ]+", " ", keyword.lower().replace("n't", " not")).split()
    while words and words[0] == "*":
        words.pop(0)
    while words and words[-1] == "*":
        words.pop()
    parts: list[str] = []
    for word in words:
        if word == "*":
            if parts and not parts[-1].endswith(_WILDCARD):
                parts[-1] += _WILDCARD
            continue
        parts.append(_inflect(word))
    return " ".join(parts).replace(_WILDCARD + " ", _WILDCARD)


@dataclass(frozen=True)
class _ThemePatterns:
    plain: str
    negated: str | None


@lru_cache(maxsize=32)
def _patterns(codebook: Codebook) -> tuple[_ThemePatterns | None, ...]:
    negation = "(?:" + "|".join(NEGATIONS) + ")"
    out: list[_ThemePatterns | None] = []
    for theme in codebook.themes:
        if not theme.keywords:
            out.append(None)
            continue
        alternatives = [keyword_pattern(k) for k in theme.keywords]
        plain = r"\b(?:" + "|".join(alternatives) + r")\b"
        negatable = [keyword_pattern(k) for k in theme.keywords if k.split()[0] not in (*NEGATIONS, "*")]
        negated = (
            rf"\b{negation} (?:[a-z0-9]+ ){{0,2}}(?:" + "|".join(negatable) + r")\b" if negatable else None
        )
        out.append(_ThemePatterns(plain, negated))
    return tuple(out)


def _split_sentences(comments: pa.Array) -> tuple[pa.Array, np.ndarray]:
    marked = pc.replace_substring_regex(comments, pattern=r"([.!?]+)\s+", replacement="\\1\x1f")
    lists = pc.split_pattern(marked, pattern="\x1f")
    return pc.list_flatten(lists), np.asarray(pc.list_parent_indices(lists))


@dataclass(frozen=True)
class CommentTags:
    """Themes and sentiment of ``n`` comments against a codebook of ``k`` themes.

    Attributes
    ----------
    themes : tuple of str
        Theme names, the columns of the matrices.
    confidence : ndarray (n, k)
        0 where the comment does not carry the theme, else ``1 - 0.4 ** matches``.
    sentiment : ndarray (n,)
        VADER compound of each comment (NaN: no text).
    theme_sentiment : ndarray (n, k)
        Mean compound of the comment's sentences carrying the theme (NaN where absent).
    codebook_version : str
    """

    themes: tuple[str, ...]
    confidence: np.ndarray
    sentiment: np.ndarray
    theme_sentiment: np.ndarray
    codebook_version: str

    @cached_property
    def presence(self) -> np.ndarray:
        """Boolean (n, k): the comment carries the theme."""
        return self.confidence > 0

    def __len__(self) -> int:
        return len(self.sentiment)

    def to_frame(self, ids: Iterable[object] | None = None) -> pd.DataFrame:
        """Long form, one row per theme present: ``id``, ``theme``, ``confidence``, ``sentiment``."""
        ids = np.arange(len(self)) if ids is None else np.asarray(list(ids), dtype=object)
        rows, cols = np.nonzero(self.presence)
        return pd.DataFrame(
            {
                "id": ids[rows],
                "theme": np.asarray(self.themes, dtype=object)[cols],
                "confidence": self.confidence[rows, cols],
                "sentiment": self.theme_sentiment[rows, cols],
            }
        )

    def summary(self) -> str:
        share = self.presence.mean(axis=0) if len(self) else np.zeros(len(self.themes))
        lines = [f"{len(self)} comments, codebook {self.codebook_version}"]
        lines += [f"  {name:<24} {s:6.1%}" for name, s in zip(self.themes, share, strict=True)]
        return "\n".join(lines)


def tag_comments(
    comments: Iterable[str | None] | pa.Array | pa.ChunkedArray,
    codebook: Codebook,
    *,
    with_sentiment: bool = True,
    n_jobs: int = 1,
) -> CommentTags:
    """Tag each comment with the codebook's themes (with a confidence) and score its sentiment.

    Parameters
    ----------
    comments : iterable of str or None, or a pyarrow string array
    codebook : Codebook
    with_sentiment : bool
        Also score sentiment (VADER, the slower part); ``False`` leaves NaN.
    n_jobs : int
        Processes for VADER (see :func:`cxloop.text.sentiment`).

    Examples
    --------
    >>> from cxloop.text.codebook import DEMO_CODEBOOK
    >>> tags = tag_comments(["The fees are too high. Staff were not friendly."], DEMO_CODEBOOK)
    >>> [t for t, p in zip(tags.themes, tags.presence[0]) if p]
    ['high_fees']
    """
    if isinstance(comments, pa.ChunkedArray):
        comments = comments.combine_chunks()
    array = (
        comments
        if isinstance(comments, pa.Array)
        else pa.array(list(comments), type=pa.large_string(), from_pandas=True)
    )
    array = array.cast(pa.large_string())
    n, k = len(array), len(codebook)
    sentences, parent = _split_sentences(pc.fill_null(array, ""))
    # Comments repeat sentences ("Fine.", stock phrases): match each distinct sentence once.
    encoded = pc.dictionary_encode(sentences)
    normalised = normalise(encoded.dictionary)
    distinct_counts = np.zeros((len(normalised), k), dtype=np.int32)
    for j, patterns in enumerate(_patterns(codebook)):
        if patterns is None:
            continue
        plain = np.asarray(pc.count_substring_regex(normalised, pattern=patterns.plain))
        if patterns.negated is not None:
            plain = plain - np.asarray(pc.count_substring_regex(normalised, pattern=patterns.negated))
        distinct_counts[:, j] = np.maximum(plain, 0)
    counts = distinct_counts[np.asarray(encoded.indices).astype(np.int64)]
    # Every comment has at least one (maybe empty) sentence and parents come in order: segment sums.
    starts = np.r_[0, np.flatnonzero(np.diff(parent)) + 1] if n else np.zeros(0, dtype=np.int64)
    per_comment = (
        np.add.reduceat(counts, starts, axis=0).astype(np.int64) if n else np.zeros((0, k), np.int64)
    )
    confidence = np.where(per_comment > 0, 1.0 - CONFIDENCE_BASE ** per_comment.astype(float), 0.0)

    comment_scores = np.full(n, np.nan)
    theme_sentiment = np.full((n, k), np.nan)
    if with_sentiment and n:
        # Score sentences; a one-sentence comment's score is its sentence's, so only longer comments are
        # scored again as a whole (VADER's compound is not an average of its sentences').
        # Sentences of longer comments that carry no theme need no score of their own.
        per = np.bincount(parent, minlength=n)
        single = per[parent] == 1
        needed = np.flatnonzero(single | (counts > 0).any(axis=1))
        raw = np.full(len(sentences), np.nan)
        raw[needed] = sentiment(sentences.take(pa.array(needed)), n_jobs=n_jobs)
        comment_scores[parent[single]] = raw[single]
        longer = np.flatnonzero(per > 1)
        if len(longer):
            comment_scores[longer] = sentiment(array.take(pa.array(longer)), n_jobs=n_jobs)
        sentence_scores = np.nan_to_num(raw)
        has = counts > 0
        sums = np.add.reduceat(has * sentence_scores[:, None], starts, axis=0)
        hits = np.add.reduceat(has.astype(np.float64), starts, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            theme_sentiment = np.where(hits > 0, sums / hits, np.nan)

    # Parents: present when any child is; deepest first so grandparents see their children's children.
    names = codebook.names
    index = {name: j for j, name in enumerate(names)}
    for name in sorted(names, key=lambda nm: -_depth(codebook, nm)):
        children = [index[c] for c in codebook.children(name)]
        if not children:
            continue
        j = index[name]
        block = confidence[:, [j, *children]]
        confidence[:, j] = block.max(axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: the answer is NaN
            theme_sentiment[:, j] = np.nanmean(theme_sentiment[:, [j, *children]], axis=1)
    return CommentTags(
        themes=names,
        confidence=confidence,
        sentiment=comment_scores,
        theme_sentiment=theme_sentiment,
        codebook_version=codebook.version,
    )


def _depth(codebook: Codebook, name: str) -> int:
    depth, parent = 0, codebook[name].parent
    while parent is not None:
        depth, parent = depth + 1, codebook[parent].parent
    return depth
