"""Sentiment of customer comments with VADER, a lexicon and rule-based method (English only).

:func:`sentiment` gives one compound score in [-1, 1] per text (VADER's normalised sum of its lexicon's
valences after its rules for negation, boosters, capitals, "but" and punctuation). Each distinct text is
scored once (comments repeat: "Fine.", "All good."), and ``n_jobs=2`` spreads the distinct texts over
processes. :func:`sentence_sentiment` scores each sentence of a long comment.

**Languages.** The VADER lexicon is English (7,500 tokens rated by human raters, plus emoticons and
slang). Comments in other languages score near 0 (their words are not in the lexicon): they are not
"neutral", they are unmeasured. Translate them first, or use the embeddings extra for themes.

**Work.** VADER 3.3.2 as published costs time quadratic in a comment's words (two of its checks copy the
whole word list for every sentiment-laden word); the analyser here (:mod:`cxloop.text._vader`) gives the same
scores in linear time, so one long comment cannot hold a process.

References
----------
.. [1] Hutto, C. J. & Gilbert, E. E. (2014). VADER: A parsimonious rule-based model for sentiment analysis
   of social media text. *Eighth International AAAI Conference on Weblogs and Social Media (ICWSM-14)*.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["sentence_sentiment", "sentiment", "split_sentences"]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
_PARALLEL_MIN = 20_000  # below this, process start-up costs more than it saves


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    from cxloop.text._vader import LinearTimeAnalyzer

    return LinearTimeAnalyzer()


def _score_list(texts: Sequence[str]) -> list[float]:
    score = _analyzer().polarity_scores
    return [score(text)["compound"] for text in texts]


def _as_arrow(texts: Iterable[str | None] | pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if isinstance(texts, pa.Array):
        return texts.cast(pa.large_string()) if not pa.types.is_large_string(texts.type) else texts
    return pa.array(list(texts), type=pa.large_string(), from_pandas=True)


def sentiment(
    texts: Iterable[str | None] | pa.Array | pa.ChunkedArray, *, n_jobs: int = 1, dedupe: bool = True
) -> np.ndarray:
    """VADER compound score of each text, in [-1, 1]; NaN for a missing or blank text.

    Parameters
    ----------
    texts : iterable of str or None, or a pyarrow string array
        The comments.
    n_jobs : int
        Processes to score with (1: this process). Worth it from a few tens of thousands of distinct texts.
    dedupe : bool
        Score each distinct text once (the default). ``False`` scores every text (for benchmarks).

    Returns
    -------
    ndarray of float64, one score per text.

    Examples
    --------
    >>> sentiment(["VADER is smart, handsome, and funny.", None]).round(4).tolist()
    [0.8316, nan]
    """
    array = _as_arrow(texts)
    out = np.full(len(array), np.nan)
    if len(array) == 0:
        return out
    blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(array), ""), True)
    if dedupe:
        encoded = pc.dictionary_encode(array)
        distinct = encoded.dictionary.to_pylist()
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        scores = np.asarray(_score_many(distinct, n_jobs), dtype=np.float64)
        valid = ~np.asarray(pc.is_null(encoded.indices))
        out[valid] = scores[indices[valid].astype(np.int64)]
    else:
        values = array.to_pylist()
        present = [i for i, text in enumerate(values) if text is not None]
        out[present] = _score_many([values[i] for i in present], n_jobs)
    out[np.asarray(blank)] = np.nan
    return out


def _score_many(texts: list[str], n_jobs: int) -> list[float]:
    if n_jobs <= 1 or len(texts) < _PARALLEL_MIN:
        return _score_list(texts)
    size = -(-len(texts) // (n_jobs * 4))
    chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
    with ProcessPoolExecutor(max_workers=n_jobs) as pool:
        return [score for part in pool.map(_score_list, chunks) for score in part]


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (split after ``.``, ``!`` or ``?`` followed by white space)."""
    return [part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip()]


def sentence_sentiment(text: str) -> list[tuple[str, float]]:
    """Each sentence of ``text`` with its VADER compound score (for long comments that mix praise and blame).

    Examples
    --------
    >>> [round(s, 4) for _, s in sentence_sentiment("The book was good. Today SUX!")]
    [0.4404, -0.5461]
    """
    sentences = split_sentences(text)
    return list(zip(sentences, _score_list(sentences), strict=True))
