"""The point-in-time guard: a feature that reads at or after the scoring time fails the build."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from cxloop.warehouse.queries.churn_features import (
    DEFAULT_GROUPS,
    FeatureContext,
    FeatureGroup,
    FeatureLeakageError,
    build_features,
)

AS_OF = datetime(2026, 3, 1)


def _planted(ctx: FeatureContext):
    """Purchases in the 30 days *after* the scoring time: a leak."""
    tx = ctx.in_population(ctx.con.table("transactions"))
    after = tx.filter((tx.occurred_at >= ctx.as_of) & (tx.occurred_at < ctx.as_of + timedelta(days=30)))
    return after.group_by("customer_id").aggregate(
        future_purchases=after.count().cast("float64"), _at=after.occurred_at.max()
    )


def test_a_post_scoring_feature_fails_the_build(churn_demo) -> None:
    leak = FeatureGroup("future", ("future_purchases",), _planted, "planted leak")
    with pytest.raises(FeatureLeakageError, match="group 'future'") as caught:
        build_features(churn_demo.con, AS_OF, groups=(*DEFAULT_GROUPS[:1], leak))
    assert caught.value.offenders["future"][0] >= AS_OF


def test_default_features_use_only_the_past(churn_demo) -> None:
    built = build_features(churn_demo.con, AS_OF)
    print(f"\n[predict] latest event read per group at {AS_OF:%Y-%m-%d}: {built.event_times}")  # noqa: T201
    assert all(at is None or at < AS_OF for at in built.event_times.values())
    assert built.frame.as_of.eq(AS_OF).all() and built.frame.customer_id.is_unique
    # a customer's features do not change when the scoring time moves but nothing happened in between
    later = build_features(churn_demo.con, AS_OF + timedelta(seconds=1))
    assert len(later.frame) >= len(built.frame) - 5
