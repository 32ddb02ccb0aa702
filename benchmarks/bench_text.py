"""Verbatims throughput: tag comments (VADER sentiment + keyword themes) with ``cxloop.text.tag_comments``
beside the obvious alternative, a Python loop per comment with VADER and ``in`` checks per keyword.

Comments are written like the demo's (``cxloop.demo.comments``: the phrases of 0-4 themes, sometimes an
opening sentence) from the demo's theme model. Two inputs: the demo's own comments, which repeat (the
same phrases recombined), and the same comments each made unique by a reference token in the last
sentence (no sentiment), so that nothing can be reused between comments. Tagging uses the demo codebook.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from benchmarks._harness import table
from cxloop.demo.comments import PHRASES, build_comments
from cxloop.text.codebook import DEMO_CODEBOOK
from cxloop.text.sentiment import sentiment
from cxloop.text.tagging import tag_comments

TITLE = "Verbatims: tagging comments (sentiment + themes)"

THEMES = tuple(PHRASES)
SHARES = np.array([0.075, 0.065, 0.08, 0.045, 0.045, 0.05, 0.07, 0.05, 0.07, 0.05])


def comments(n: int, *, unique: bool, seed: int = 5) -> pa.Array:
    rng = np.random.default_rng(seed)
    responses = int(n * 2.2)  # about 48% of responses leave a comment
    themes = rng.random((responses, len(THEMES))) < SHARES
    category = rng.integers(0, 3, responses)
    texts = pc.drop_null(build_comments(rng, themes, THEMES, category)).slice(0, n)
    if unique:
        ref = pa.array(np.char.add(" #", np.arange(len(texts)).astype(str)))
        texts = pc.binary_join_element_wise(texts, ref, "")
    return texts.cast(pa.large_string())


def _loop(texts: list[str]) -> int:
    """The obvious alternative: per comment, VADER and substring checks of each theme's keywords."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    score = SentimentIntensityAnalyzer().polarity_scores
    keywords = [
        (theme.name, [k.replace("*", " ").split()[0] for k in theme.keywords])
        for theme in DEMO_CODEBOOK.themes
    ]
    found = 0
    for text in texts:
        score(text)["compound"]
        lower = text.lower()
        for _name, words in keywords:
            if any(word in lower for word in words):
                found += 1
    return found


def _timed(fn):  # noqa: ANN001, ANN202
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def run(quick: bool) -> str:
    load_before = os.getloadavg()[0]
    n = 20_000 if quick else 1_000_000
    loop_n = 20_000 if quick else 200_000
    rows = []
    notes = []
    for label, unique in (("demo comments (repeating)", False), ("unique comments", True)):
        texts = comments(n, unique=unique)
        m = len(texts)
        distinct = len(pc.unique(texts))
        wall1, cpu1, tags1 = _timed(lambda texts=texts: tag_comments(texts, DEMO_CODEBOOK, n_jobs=1))
        wall2, _, _ = _timed(lambda texts=texts: tag_comments(texts, DEMO_CODEBOOK, n_jobs=2))
        wall3, _, _ = _timed(lambda texts=texts: tag_comments(texts, DEMO_CODEBOOK, with_sentiment=False))
        wall5, _, _ = _timed(
            lambda texts=texts: (
                sentiment(texts, n_jobs=2),
                tag_comments(texts, DEMO_CODEBOOK, with_sentiment=False),
            )
        )
        rows.append([label, f"{m:,}", f"{distinct:,}", "cxloop tag_comments, themes only", wall3, m / wall3])
        rows.append([label, "", "", "cxloop tag_comments, 1 process", wall1, m / wall1])
        rows.append([label, "", "", "cxloop tag_comments, 2 processes", wall2, m / wall2])
        rows.append([label, "", "", "cxloop sentiment (2 processes) + themes only", wall5, m / wall5])
        sample = texts.slice(0, loop_n).to_pylist()
        wall4, _, _ = _timed(lambda sample=sample: _loop(sample))
        extrapolated = f" (measured on {loop_n:,}, time extrapolated)" if loop_n < m else ""
        rows.append(
            [
                label,
                "",
                "",
                "per-comment loop: VADER + `in` checks" + extrapolated,
                wall4 * m / loop_n,
                loop_n / wall4,
            ]
        )
        notes.append(f"{label}: {tags1.presence.any(axis=1).mean():.1%} of comments carry a theme")
    body = table(["input", "comments", "distinct", "method", "seconds", "comments/s"], rows)
    after = os.getloadavg()[0]
    load = f"Load average (1 min) {load_before:.1f} before and {after:.1f} after the run, on 2 cores: "
    load += "other work shared the machine, so times are upper bounds and 2 processes may not help."
    return (
        f"{n:,} comments (about {int(n * 2.2):,} simulated responses; responses without a theme rarely "
        "comment). "
        "Sentiment is VADER (pure Python): cxloop scores each distinct sentence once and each multi-sentence "
        "comment once as a whole (one-sentence comments reuse their sentence's score), optionally in 2 "
        "processes; themes are one RE2 regular-expression pass per theme over all sentences (Arrow). The "
        "loop scores every comment and checks each theme's first keyword word with `in` (no whole words, "
        "no inflections, no negation, no per-theme sentiment): it does less than cxloop.\n\n"
        + body
        + "\n\n"
        + load
        + "\n\n"
        + "; ".join(notes)
        + ".\n\nVADER (pure Python) dominates every sentiment row. The full `tag_comments` also scores "
        "each distinct sentence for the per-theme sentiment, so on unique text it makes about twice the "
        "VADER calls of the loop; 'sentiment + themes only' does the loop's work (one score per comment)."
    )
