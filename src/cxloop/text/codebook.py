"""A codebook of comment themes: names, descriptions, keywords or phrases, and a parent theme.

Keywords are phrases in plain words, matched on whole words after light normalisation (see
:mod:`cxloop.text.tagging`): ``fee`` also matches "fees", ``charge`` "charged"/"charges"/"charging",
``*`` stands for up to three words (``app * crash`` matches "the app keeps crashing"), and a phrase that
starts with a negation (``not * sort``) is matched as written. A plain keyword preceded by a negation within
two words ("not friendly", "no wait at all") does not count.

:data:`DEMO_CODEBOOK` is the default codebook for the demo bank (``cxloop.demo``): one theme per generated
theme, with keywords an analyst would write from reading comments, not the generator's sentences.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEMO_CODEBOOK", "Codebook", "CodebookError", "Theme"]


class CodebookError(ValueError):
    """A codebook that cannot be used (duplicate names, unknown or cyclic parents, empty keywords)."""


@dataclass(frozen=True)
class Theme:
    """One theme: ``name`` (unique, snake_case by convention), keywords/phrases, optional parent."""

    name: str
    keywords: tuple[str, ...]
    description: str = ""
    parent: str | None = None
    active: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "keywords", tuple(k.strip().lower() for k in self.keywords if k.strip()))


@dataclass(frozen=True)
class Codebook:
    """The active themes of a programme; ``version`` changes whenever a theme's matching changes."""

    themes: tuple[Theme, ...]
    _by_name: Mapping[str, Theme] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        active = tuple(t for t in self.themes if t.active)
        object.__setattr__(self, "themes", active)
        names = [t.name for t in active]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise CodebookError(f"duplicate theme names: {', '.join(duplicates)}")
        by_name = {t.name: t for t in active}
        for theme in active:
            if theme.parent is not None and theme.parent not in by_name:
                raise CodebookError(f"theme {theme.name!r}: parent {theme.parent!r} is not an active theme")
            if not theme.keywords and not any(t.parent == theme.name for t in active):
                raise CodebookError(f"theme {theme.name!r} has no keywords and no child themes")
        for theme in active:  # a parent chain must end
            seen = {theme.name}
            parent = theme.parent
            while parent is not None:
                if parent in seen:
                    raise CodebookError(f"theme {theme.name!r}: its parents form a cycle")
                seen.add(parent)
                parent = by_name[parent].parent
        object.__setattr__(self, "_by_name", by_name)

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, object]]) -> Codebook:
        """From dicts with ``name``, ``keywords`` (a list, or comma/newline separated text) and the rest."""
        themes = []
        for record in records:
            raw: Any = record.get("keywords", ())
            if isinstance(raw, str):
                raw = [k for line in raw.splitlines() for k in line.split(",")]
            parent = record.get("parent")
            themes.append(
                Theme(
                    name=str(record["name"]),
                    keywords=tuple(str(k) for k in raw),
                    description=str(record.get("description") or ""),
                    parent=str(parent) if parent else None,
                    active=bool(record.get("active", True)),
                )
            )
        return cls(tuple(themes))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.themes)

    def __getitem__(self, name: str) -> Theme:
        return self._by_name[name]

    def __len__(self) -> int:
        return len(self.themes)

    def children(self, name: str) -> tuple[str, ...]:
        return tuple(t.name for t in self.themes if t.parent == name)

    @property
    def version(self) -> str:
        """A short hash of what decides matching (names, keywords, parents): tags made with another
        version are re-tagged by the incremental tagger."""
        canonical = [
            [t.name, sorted(t.keywords), t.parent] for t in sorted(self.themes, key=lambda t: t.name)
        ]
        return hashlib.sha256(json.dumps(canonical).encode()).hexdigest()[:12]

    def to_records(self) -> list[dict[str, object]]:
        return [
            {"name": t.name, "description": t.description, "keywords": list(t.keywords), "parent": t.parent}
            for t in self.themes
        ]


DEMO_CODEBOOK = Codebook(
    (
        Theme(
            "long_wait",
            ("wait", "queue", "slow", "took ages", "delay", "too long", "half an hour", "hold"),
            "Waiting, queues and slowness.",
        ),
        Theme(
            "unresolved_issue",
            (
                "not * sort",
                "not * resolve",
                "not * fix",
                "nothing * fix",
                "nobody * resolve",
                "still open",
                "same problem",
                "passed from",
                "unresolved",
                "call back * times",
            ),
            "Problems that were not solved, repeat contacts.",
        ),
        Theme(
            "high_fees",
            ("fee", "charge", "expensive", "poor value", "overpriced", "cost too much", "interest rate"),
            "Fees, charges and value for money.",
        ),
        Theme(
            "app_problems",
            (
                "app * crash",
                "app * confusing",
                "app * log * out",
                "logged me out",
                "app update",
                "app * harder",
                "not * app * work",
                "app * not work",
                "app * broken",
                "glitch",
                "bug",
            ),
            "The mobile app failing, confusing or getting worse.",
            parent="digital",
        ),
        Theme(
            "unhelpful_staff",
            (
                "unhelpful",
                "dismissive",
                "rude",
                "wrong information",
                "not * know",
                "not answer",
                "nobody * understand",
            ),
            "Staff who lacked knowledge or care.",
            parent="staff",
        ),
        Theme(
            "poor_communication",
            (
                "nobody told",
                "not told",
                "letter",
                "email",
                "never received",
                "promised",
                "not explained",
                "unclear",
                "contradictory",
            ),
            "Letters, e-mails, explanations and promised call-backs.",
        ),
        Theme(
            "friendly_staff",
            ("friendly", "lovely", "warm welcome", "welcome", "polite", "kind", "courteous"),
            "Friendly, polite, welcoming staff.",
            parent="staff",
        ),
        Theme(
            "personal_service",
            (
                "took the time",
                "knows me",
                "personal",
                "tailored",
                "looked after",
                "individual",
                "my situation",
                "my needs",
            ),
            "Being known and treated as an individual.",
        ),
        Theme(
            "easy_app",
            (
                "app * easy",
                "easy to use",
                "app * simple",
                "love the app",
                "in the app",
                "effortless",
                "app * brilliant",
                "app * work",
            ),
            "The app is easy, quick and works.",
            parent="digital",
        ),
        Theme(
            "quick_resolution",
            (
                "straight away",
                "one call",
                "resolved quickly",
                "first time",
                "on the spot",
                "there and then",
                "problem solved",
                "fixed it",
            ),
            "Problems solved quickly and first time.",
        ),
        Theme("staff", (), "Anything about staff (parent of the staff themes)."),
        Theme("digital", (), "Anything about the app and online banking (parent of the app themes)."),
    )
)
"""The demo bank's default codebook: the ten generated themes plus two parent themes."""
