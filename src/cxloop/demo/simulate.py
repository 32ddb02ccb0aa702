"""The month-by-month simulation of the demo company's customers.

The window is run one calendar month at a time for a chunk of customers (vectorised numpy). Each month:
customers active at its start may churn, with a hazard set by their state; every active customer answers
surveys, buys and contacts the bank at rates set by their state at the start of the month; the latest
answer of the month sets the state for the next. New customers join during the window (one onboarding
survey each, for some). A :class:`Tally` collects the exact sums the ground truth needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np

from cxloop.demo.experience import Experience, ExperienceArrays, draw_experience, nps_category
from cxloop.demo.model import DemoModel
from cxloop.demo.org import Org

__all__ = ["Context", "Customers", "Pieces", "Tally", "build_context", "draw_customers", "simulate_chunk"]

_DAY = 86_400


@dataclass
class Tally:
    """Sums the generator collects for the ground truth (exact pilot effects, marginal theme effects)."""

    n_segments: int
    n_touchpoints: int
    n_themes: int
    responses: np.ndarray = field(init=False)  # [S, T] responses
    theme_variance: np.ndarray = field(init=False)  # [S, T, J] sums of p(1-p)
    theme_present: np.ndarray = field(init=False)  # [S, T, J] counts of present themes
    pilot: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.responses = np.zeros((self.n_segments, self.n_touchpoints))
        self.theme_variance = np.zeros((self.n_segments, self.n_touchpoints, self.n_themes))
        self.theme_present = np.zeros((self.n_segments, self.n_touchpoints, self.n_themes))

    def add(self, key: str, value: float) -> None:
        self.pilot[key] = self.pilot.get(key, 0.0) + float(value)

    def count(self, kind: str, n: int) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + int(n)


@dataclass(frozen=True)
class _Calendar:
    bounds: np.ndarray  # [M + 1] epoch seconds of month starts (and the window's end)
    calendar_month: np.ndarray  # [M] 0 = January
    pilot_month: int  # first month under the pilot (months since the window opened)
    pilot_start: int  # epoch seconds

    @classmethod
    def from_model(cls, model: DemoModel) -> _Calendar:
        start = model.window_start
        bounds, months = [], []
        year, month = start.year, start.month
        for _ in range(model.months + 1):
            bounds.append(_epoch(date(year, month, 1)))
            months.append(month - 1)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        pilot_start = _epoch(model.pilot.start)
        bounds_arr = np.array(bounds, dtype=np.int64)
        pilot_month = int(np.searchsorted(bounds_arr, pilot_start, side="right") - 1)
        return cls(bounds_arr, np.array(months[:-1]), pilot_month, pilot_start)


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@dataclass(frozen=True)
class Context:
    """Everything a chunk needs, derived once from the model and the org."""

    model: DemoModel
    org: Org
    arrays: ExperienceArrays
    calendar: _Calendar
    pilot_branch: np.ndarray  # [branch] bool
    touchpoint_cum: np.ndarray  # [S, T] cumulative probabilities of the touchpoints (onboarding = 0)
    channel_cum: np.ndarray  # [T, channels]
    channels: tuple[str, ...]
    category_cum: np.ndarray  # [S, categories]
    margin_rate: np.ndarray  # [categories]
    categories: tuple[str, ...]
    contact_channel_cum: np.ndarray
    contact_channel_cost: np.ndarray
    contact_reason_cum: np.ndarray  # [state, reasons]
    segment_cum_by_region: np.ndarray  # [region, S] segment probabilities by region


def _cumulative(weights: np.ndarray) -> np.ndarray:
    cum = np.cumsum(weights, axis=-1) / np.sum(weights, axis=-1, keepdims=True)
    cum[..., -1] = 1.0
    return cum


def _choose(rng: np.random.Generator, cum: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One categorical draw per entry of ``rows``: from ``cum`` if it is one distribution (``[K]``), else
    from the distribution ``cum[row]`` (``cum`` is ``[groups, K]``)."""
    u = rng.random(len(rows))
    if cum.ndim == 1:
        return np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1).astype(np.int16)
    return (u[:, None] >= cum[rows]).sum(axis=1).astype(np.int16)


def build_context(model: DemoModel, org: Org) -> Context:
    touchpoints = model.touchpoint_names
    segments = model.segments
    mix = np.zeros((len(segments), len(touchpoints)))
    for s, segment in enumerate(segments):
        for name, weight in segment.touchpoint_mix:
            mix[s, touchpoints.index(name)] = weight
    channels = tuple(dict.fromkeys(c for t in model.touchpoints for c, _ in t.channels))
    channel_weights = np.zeros((len(touchpoints), len(channels)))
    for t, touchpoint in enumerate(model.touchpoints):
        for name, weight in touchpoint.channels:
            channel_weights[t, channels.index(name)] = weight
    behaviour = model.behaviour
    categories = tuple(name for name, _ in behaviour.margin_rate)
    category_weights = np.array([[dict(s.category_mix).get(c, 0.0) for c in categories] for s in segments])
    reasons = behaviour.contact_reasons
    reason_weights = np.array([[reason[1 + state] for reason in reasons] for state in range(3)])
    regions = model.hierarchy.regions
    base_share = np.array([s.share for s in segments])
    premier = np.array(
        [[region.premier_multiplier if s.value_rank < 3 else 1.0 for s in segments] for region in regions]
    )
    pilot_region = org.region_ids.index(f"reg-{model.pilot.region_id}")
    return Context(
        model=model,
        org=org,
        arrays=ExperienceArrays.from_model(model, org),
        calendar=_Calendar.from_model(model),
        pilot_branch=org.branch_region == pilot_region,
        touchpoint_cum=_cumulative(mix),
        channel_cum=_cumulative(channel_weights),
        channels=channels,
        category_cum=_cumulative(category_weights),
        margin_rate=np.array([rate for _, rate in behaviour.margin_rate]),
        categories=categories,
        contact_channel_cum=_cumulative(np.array([c[1] for c in behaviour.contact_channels])),
        contact_channel_cost=np.array([c[2] for c in behaviour.contact_channels]),
        contact_reason_cum=_cumulative(reason_weights),
        segment_cum_by_region=_cumulative(base_share * premier),
    )


@dataclass
class Customers:
    """One chunk's customers (arrays of length n)."""

    segment: np.ndarray
    branch: np.ndarray
    disposition: np.ndarray
    start_month: np.ndarray  # month the customer becomes active (0 for customers already with the bank)
    existing: np.ndarray  # already a customer when the window opens
    acquired_at: np.ndarray  # epoch seconds
    acquisition_cost: np.ndarray
    ended_at: np.ndarray  # epoch seconds, -1 while active


def draw_customers(rng: np.random.Generator, ctx: Context, n: int) -> Customers:
    model, cal = ctx.model, ctx.calendar
    behaviour = model.behaviour
    branch = rng.choice(ctx.org.n_branches, size=n, p=ctx.org.branch_share).astype(np.int32)
    segment = _choose(rng, ctx.segment_cum_by_region, ctx.org.branch_region[branch]).astype(np.int8)
    existing = rng.random(n) < behaviour.existing_share
    season = np.array(model.seasonality.acquisitions)[cal.calendar_month]
    start_month = np.where(existing, 0, rng.choice(model.months, size=n, p=season / season.sum()))
    window_open = cal.bounds[0]
    tenure = (rng.random(n) ** 1.5 * behaviour.existing_tenure_years * 365.25 * _DAY).astype(np.int64) + _DAY
    in_month = cal.bounds[start_month] + (
        rng.random(n) * (cal.bounds[start_month + 1] - cal.bounds[start_month])
    )
    acquired_at = np.where(existing, window_open - tenure, in_month.astype(np.int64))
    mean_cost = np.array([s.acquisition_cost for s in model.segments])[segment]
    sd = behaviour.acquisition_cost_sd
    cost = np.round(mean_cost * rng.lognormal(-(sd**2) / 2, sd, n), 2)
    return Customers(
        segment=segment,
        branch=branch,
        disposition=rng.standard_normal(n),
        start_month=start_month.astype(np.int32),
        existing=existing,
        acquired_at=acquired_at,
        acquisition_cost=cost,
        ended_at=np.full(n, -1, dtype=np.int64),
    )


def _experience(
    rng: np.random.Generator,
    ctx: Context,
    customers: Customers,
    who: np.ndarray,
    touchpoint: np.ndarray,
    at: np.ndarray,
    month: np.ndarray,
) -> Experience:
    branch = customers.branch[who]
    treated = ctx.pilot_branch[branch] & (at >= ctx.calendar.pilot_start)
    return draw_experience(
        rng,
        ctx.arrays,
        disposition=customers.disposition[who],
        segment=customers.segment[who],
        touchpoint=touchpoint,
        branch=branch,
        month=month.astype(float),
        calendar_month=ctx.calendar.calendar_month[month],
        treated=treated,
    )


def _latest(who: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Customers with responses and the row of each one's latest response."""
    if len(who) == 0:
        return who, who
    order = np.lexsort((at, who))
    sorted_who = who[order]
    last = np.flatnonzero(np.r_[sorted_who[1:] != sorted_who[:-1], True])
    return sorted_who[last], order[last]


def _uniform_times(rng: np.random.Generator, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    return start + (rng.random(len(start)) * (end - start)).astype(np.int64)


@dataclass
class Pieces:
    """Per-month arrays of one chunk, concatenated at the end of the chunk."""

    parts: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add(self, **arrays: np.ndarray) -> None:
        for key, value in arrays.items():
            self.parts.setdefault(key, []).append(value)

    def get(self, key: str) -> np.ndarray:
        return np.concatenate(self.parts[key]) if key in self.parts else np.empty(0)


def simulate_chunk(
    rng: np.random.Generator, ctx: Context, customers: Customers, tally: Tally
) -> tuple[Pieces, Pieces, Pieces]:
    """Run the window month by month for one chunk; return response, transaction and contact pieces."""
    model, cal, behaviour = ctx.model, ctx.calendar, ctx.model.behaviour
    segments = model.segments
    n = len(customers.segment)
    seg = customers.segment
    churn_base = np.array([s.churn_hazard for s in segments])[seg]
    response_rate = np.array([s.response_rate for s in segments])[seg]
    purchase_rate = np.array([s.purchase_rate for s in segments])[seg]
    mean_spend = np.array([s.mean_spend for s in segments])[seg]
    contact_rate = np.array([s.contact_rate for s in segments])[seg]
    hazard_ratio = np.array(behaviour.churn_hazard_ratio)
    purchase_ratio = np.array(behaviour.purchase_rate_ratio)
    spend_ratio = np.array(behaviour.spend_ratio)
    contact_ratio = np.array(behaviour.contact_rate_ratio)
    cost_ratio = np.array(behaviour.contact_cost_ratio)
    resolved_p = np.array(behaviour.contact_resolved)
    mean_margin = (np.diff(np.c_[np.zeros(len(segments)), ctx.category_cum], axis=1) @ ctx.margin_rate)[seg]
    mean_contact_cost = float(np.diff(np.r_[0.0, ctx.contact_channel_cum]) @ ctx.contact_channel_cost)
    season = model.seasonality
    onboarding = model.touchpoint_names.index("onboarding")

    # Hidden first experience: the state of a customer before their first answer in the window.
    baseline_at = np.maximum(customers.acquired_at, cal.bounds[0])
    first = np.arange(n)
    touchpoint = _choose(rng, ctx.touchpoint_cum, seg)
    baseline = _experience(rng, ctx, customers, first, touchpoint, baseline_at, customers.start_month)
    state = nps_category(baseline.answers.nps)
    state_without = state.copy()
    state_without[baseline.treated] = nps_category(baseline.counterfactual.nps)

    alive = customers.existing.copy()
    responses, transactions, contacts = Pieces(), Pieces(), Pieces()
    for m in range(model.months):
        start, end = cal.bounds[m], cal.bounds[m + 1]
        calendar_month = cal.calendar_month[m]
        joined = ~customers.existing & (customers.start_month == m)
        at_start = alive
        hazard = churn_base * hazard_ratio[state] * season.churn[calendar_month]
        churn = at_start & (rng.random(n) < hazard)
        churn_at = start + (rng.random(n) * (end - start)).astype(np.int64)
        in_pilot = at_start & ctx.pilot_branch[customers.branch] & (m >= cal.pilot_month)
        if in_pilot.any():
            s1, s0 = state[in_pilot], state_without[in_pilot]
            base = churn_base[in_pilot] * season.churn[calendar_month]
            tally.add("customer_months", in_pilot.sum())
            tally.add("hazard", (base * hazard_ratio[s1]).sum())
            tally.add("hazard_without", (base * hazard_ratio[s0]).sum())
            value = (
                purchase_rate[in_pilot]
                * season.purchases[calendar_month]
                * mean_spend[in_pilot]
                * mean_margin[in_pilot]
            )
            tally.add("margin", (value * purchase_ratio[s1] * spend_ratio[s1]).sum())
            tally.add("margin_without", (value * purchase_ratio[s0] * spend_ratio[s0]).sum())
            contact_value = contact_rate[in_pilot] * mean_contact_cost
            tally.add("contact_cost", (contact_value * contact_ratio[s1] * cost_ratio[s1]).sum())
            tally.add("contact_cost_without", (contact_value * contact_ratio[s0] * cost_ratio[s0]).sum())

        active = at_start | joined
        window_start = np.where(joined, customers.acquired_at, start)
        window_end = np.where(churn, churn_at, end)
        exposure = np.where(active, (window_end - window_start) / (end - start), 0.0)

        # Survey responses: ongoing touchpoints at a Poisson rate, onboarding once for new customers.
        count = rng.poisson(response_rate * season.response_volume[calendar_month] * exposure)
        ongoing = np.repeat(np.arange(n), count)
        onboarded = np.flatnonzero(joined & (rng.random(n) < behaviour.onboarding_survey_rate))
        who = np.r_[ongoing, onboarded]
        touchpoint = np.r_[
            _choose(rng, ctx.touchpoint_cum, seg[ongoing]),
            np.full(len(onboarded), onboarding, dtype=np.int16),
        ]
        at = np.r_[
            _uniform_times(rng, window_start[ongoing], window_end[ongoing]),
            _uniform_times(
                rng,
                customers.acquired_at[onboarded],
                np.minimum(customers.acquired_at[onboarded] + 14 * _DAY, end),
            ),
        ]
        state_at_start = state.copy()
        drawn = _experience(rng, ctx, customers, who, touchpoint, at, np.full(len(who), m))
        _tally_responses(tally, ctx, seg[who], touchpoint, drawn)
        category = nps_category(drawn.answers.nps)
        latest_who, latest_row = _latest(who, at)
        state[latest_who] = category[latest_row]
        category_without = category.copy()
        category_without[drawn.treated] = nps_category(drawn.counterfactual.nps)
        state_without[latest_who] = category_without[latest_row]
        channel = _choose(rng, ctx.channel_cum, touchpoint)
        responses.add(
            who=who,
            at=at,
            touchpoint=touchpoint,
            channel=channel,
            items=drawn.answers.items,
            skipped=drawn.skipped,
            nps=drawn.answers.nps,
            csat=drawn.answers.csat,
            ces=drawn.answers.ces,
            themes=drawn.answers.themes,
        )

        # Purchases and service contacts, at rates set by the state at the start of the month.
        count = rng.poisson(
            purchase_rate * purchase_ratio[state_at_start] * season.purchases[calendar_month] * exposure
        )
        buyer = np.repeat(np.arange(n), count)
        category = _choose(rng, ctx.category_cum, seg[buyer])
        shape = behaviour.spend_shape
        amount = np.round(rng.gamma(shape, mean_spend[buyer] * spend_ratio[state_at_start[buyer]] / shape), 2)
        amount = np.maximum(amount, 0.01)
        sd = behaviour.margin_sd
        margin = np.round(amount * ctx.margin_rate[category] * rng.lognormal(-(sd**2) / 2, sd, len(buyer)), 2)
        transactions.add(
            who=buyer,
            at=_uniform_times(rng, window_start[buyer], window_end[buyer]),
            category=category,
            amount=amount,
            margin=margin,
        )

        count = rng.poisson(contact_rate * contact_ratio[state_at_start] * exposure)
        contacter = np.repeat(np.arange(n), count)
        contact_state = state_at_start[contacter]
        channel = _choose(rng, ctx.contact_channel_cum, contacter)
        sd = behaviour.contact_cost_sd
        cost = ctx.contact_channel_cost[channel] * cost_ratio[contact_state]
        cost = np.round(cost * rng.lognormal(-(sd**2) / 2, sd, len(contacter)), 2)
        contacts.add(
            who=contacter,
            at=_uniform_times(rng, window_start[contacter], window_end[contacter]),
            channel=channel,
            reason=_choose(rng, ctx.contact_reason_cum, contact_state),
            cost=cost,
            resolved=rng.random(len(contacter)) < resolved_p[contact_state],
        )

        customers.ended_at[churn] = churn_at[churn]
        alive = active & ~churn
    return responses, transactions, contacts


def _tally_responses(
    tally: Tally, ctx: Context, segment: np.ndarray, touchpoint: np.ndarray, drawn: Experience
) -> None:
    n_touchpoints = len(ctx.model.touchpoints)
    group = segment.astype(np.int64) * n_touchpoints + touchpoint
    size = tally.responses.size
    tally.responses += np.bincount(group, minlength=size).reshape(tally.responses.shape)
    for j in range(tally.n_themes):
        variance = np.bincount(group, weights=drawn.answers.theme_variance[:, j], minlength=size)
        present = np.bincount(group, weights=drawn.answers.themes[:, j], minlength=size)
        tally.theme_variance[:, :, j] += variance.reshape(tally.responses.shape)
        tally.theme_present[:, :, j] += present.reshape(tally.responses.shape)
    rows = np.flatnonzero(drawn.treated)
    if len(rows) == 0:
        return
    factual, counterfactual = drawn.answers, drawn.counterfactual
    item = ctx.model.item_names.index(ctx.model.pilot.item)
    tally.add("responses", len(rows))
    for name, with_pilot, without in (
        ("item", factual.items[rows, item], counterfactual.items[:, item]),
        ("nps", factual.nps[rows], counterfactual.nps),
        ("csat", factual.csat[rows], counterfactual.csat),
        ("ces", factual.ces[rows], counterfactual.ces),
    ):
        tally.add(name, with_pilot.astype(float).sum())
        tally.add(f"{name}_without", without.astype(float).sum())
    for name, values in (("", factual.nps[rows]), ("_without", counterfactual.nps)):
        tally.add(f"promoters{name}", (values >= 9).sum())
        tally.add(f"detractors{name}", (values <= 6).sum())
