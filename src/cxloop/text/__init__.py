"""Verbatims: sentiment, redaction of personal data, theme codebooks, tagging, effects and suggestions.

Pure functions over text and arrays (no I/O): :mod:`cxloop.services.understand.themes` joins them to the app
database (the codebook) and the warehouse (comments, stored tags). ``docs/text.md`` describes the methods.
"""

from cxloop.text.codebook import DEMO_CODEBOOK, Codebook, CodebookError, Theme
from cxloop.text.effects import ThemeEffects, theme_effects
from cxloop.text.redact import redact, redact_many
from cxloop.text.sentiment import sentence_sentiment, sentiment, split_sentences
from cxloop.text.suggest import ThemeSuggestion, ThemeSuggestions, suggest_themes
from cxloop.text.tagging import CommentTags, tag_comments

__all__ = [
    "DEMO_CODEBOOK",
    "Codebook",
    "CodebookError",
    "CommentTags",
    "Theme",
    "ThemeEffects",
    "ThemeSuggestion",
    "ThemeSuggestions",
    "redact",
    "redact_many",
    "sentence_sentiment",
    "sentiment",
    "split_sentences",
    "suggest_themes",
    "tag_comments",
    "theme_effects",
]
