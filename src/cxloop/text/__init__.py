"""Verbatims: sentiment, redaction of personal data, theme codebooks, tagging and theme suggestions."""

from cxloop.text.redact import redact, redact_many
from cxloop.text.sentiment import sentence_sentiment, sentiment, split_sentences

__all__ = ["redact", "redact_many", "sentence_sentiment", "sentiment", "split_sentences"]
