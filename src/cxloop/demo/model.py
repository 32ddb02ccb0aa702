"""The demo company's causal model: every parameter the generator draws from, as frozen dataclasses.

Northwind Bank is a retail bank: company -> divisions -> regions -> branches. Customers belong to a home
branch and a value segment. Each survey response is one experience at a touchpoint, generated as

1. **Items** (driver items, 1-10): a per-response latent experience with a halo shared by all items
   (partly a stable customer disposition), plus the item's mean, segment and touchpoint shifts, the home
   branch's performance on that item (region + branch + branch x item effects), calendar-month
   seasonality on the load-sensitive items, a trend, and the pilot's lift; rounded and clipped to 1-10.
2. **Themes** mentioned in the comment: each theme's presence is logistic in the (observed) score of its
   item, so low ``speed`` brings "long wait" comments and high ``personalisation`` "personal service".
3. **Scores**: NPS (0-10), CSAT (1-5) and CES (1-7, higher = easier) are linear in the observed items with
   the true weights (NPS weights differ by value segment *and* touchpoint), plus each present theme's
   direct effect, plus noise; rounded and clipped to their scales.
4. **Behaviour**: a customer's *state* is the NPS category (promoter / passive / detractor) of their
   latest answer. The state at the start of each month sets that month's churn hazard, purchase rate and
   spend, and service-contact rate, cost and resolution, with the coefficients below.
5. **Pilot**: from a fixed date, the branches of one region lift one item; NPS, churn and spend move only
   through that item, so the pilot's true effects follow from the model and are computed exactly (with
   the same random draws) by the generator.

All numbers are in the units of the scales they act on (item points, NPS 0-10 points, monthly hazards).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_SEED",
    "STATES",
    "Behaviour",
    "DemoModel",
    "Division",
    "ExperienceModel",
    "Hierarchy",
    "Item",
    "Pilot",
    "Region",
    "ScoreModel",
    "SegmentSpec",
    "Seasonality",
    "Theme",
    "TouchpointSpec",
    "item_vector",
    "nps_weights",
    "touchpoint_weights",
]

DEFAULT_SEED = 2026
STATES = ("promoter", "passive", "detractor")
"""Customer states, from the NPS category of their latest answer (9-10, 7-8, 0-6)."""


@dataclass(frozen=True)
class Item:
    """A driver item, asked on a 1-10 scale. ``mean`` is its average latent score before any shift."""

    item: str
    label: str
    mean: float


@dataclass(frozen=True)
class SegmentSpec:
    """A value segment: share of customers, value rank (1 = most valuable) and behaviour scales."""

    segment: str
    name: str
    value_rank: int
    share: float
    response_rate: float  # survey responses per active customer-month
    churn_hazard: float  # monthly churn hazard of a promoter, before seasonality
    purchase_rate: float  # transactions per active customer-month of a promoter
    mean_spend: float  # mean transaction amount of a promoter
    contact_rate: float  # service contacts per active customer-month of a promoter
    acquisition_cost: float  # mean cost to acquire
    plan: str
    plan_fee: float
    touchpoint_mix: tuple[tuple[str, float], ...]  # ongoing touchpoints (onboarding is separate)
    category_mix: tuple[tuple[str, float], ...]  # transaction categories
    item_shift: tuple[tuple[str, float], ...] = ()  # item points added for this segment
    nps_offset: float = 0.0  # added to the NPS intercept


@dataclass(frozen=True)
class TouchpointSpec:
    """A journey stage: its order, answer channels, item shifts and NPS weight multipliers."""

    touchpoint: str
    name: str
    stage_order: int
    channels: tuple[tuple[str, float], ...]
    item_shift: tuple[tuple[str, float], ...]
    weight_multiplier: tuple[tuple[str, float], ...]
    nps_intercept: float
    csat_intercept: float
    ces_intercept: float


@dataclass(frozen=True)
class Theme:
    """A comment theme tied to one item.

    Presence: ``logit P = intercept + slope * (item score - item mean)`` (slope < 0 for complaints,
    > 0 for praise). A present theme adds its direct effects to the latent NPS, CSAT and CES.
    """

    theme: str
    label: str
    item: str
    intercept: float
    slope: float
    nps_effect: float
    csat_effect: float
    ces_effect: float

    @property
    def polarity(self) -> str:
        return "positive" if self.slope > 0 else "negative"


@dataclass(frozen=True)
class Region:
    region_id: str
    name: str
    weight: float  # share of customers
    towns: tuple[str, ...]
    premier_multiplier: float = 1.0  # premier/affluent customers are over-represented where > 1


@dataclass(frozen=True)
class Division:
    division_id: str
    name: str
    regions: tuple[Region, ...]


@dataclass(frozen=True)
class Hierarchy:
    """Company -> divisions -> regions -> branches. Branch count grows with the square root of scale."""

    company_id: str = "bank"
    company_name: str = "Northwind Bank"
    levels: tuple[str, ...] = ("company", "division", "region", "branch")
    branches_at_scale_1: int = 50
    min_branches: int = 16
    branch_size_sd: float = 0.5  # lognormal sd of branch size (customers) within a region
    branch_name_suffixes: tuple[str, ...] = (
        "High Street", "Central", "Station Road", "Market Square", "Retail Park", "Old Town",
        "North", "South", "East", "West", "Riverside", "Park Lane", "Bridge Street", "University",
    )  # fmt: skip
    divisions: tuple[Division, ...] = (
        Division(
            "north",
            "Retail North",
            (
                Region(
                    "scotland", "Scotland", 0.09,
                    ("Edinburgh", "Glasgow", "Aberdeen", "Dundee", "Inverness", "Stirling", "Perth",
                     "Paisley", "Ayr", "Dumfries", "Falkirk", "Kilmarnock"),
                ),
                Region(
                    "north-east", "North East", 0.08,
                    ("Newcastle", "Sunderland", "Durham", "Middlesbrough", "Gateshead", "Darlington",
                     "Hartlepool", "Hexham", "Morpeth", "Stockton"),
                ),
                Region(
                    "north-west", "North West", 0.13,
                    ("Manchester", "Liverpool", "Preston", "Bolton", "Lancaster", "Chester", "Warrington",
                     "Blackpool", "Stockport", "Wigan", "Carlisle", "Oldham"),
                ),
            ),
        ),
        Division(
            "central",
            "Retail Central",
            (
                Region(
                    "midlands", "Midlands", 0.15,
                    ("Birmingham", "Nottingham", "Leicester", "Coventry", "Derby", "Wolverhampton", "Stoke",
                     "Northampton", "Lincoln", "Worcester", "Shrewsbury", "Walsall"),
                ),
                Region(
                    "wales-west", "Wales & West", 0.11,
                    ("Cardiff", "Swansea", "Bristol", "Newport", "Gloucester", "Bath", "Wrexham",
                     "Cheltenham", "Hereford", "Aberystwyth"),
                ),
            ),
        ),
        Division(
            "south",
            "Retail South",
            (
                Region(
                    "london", "London", 0.20,
                    ("City", "Canary Wharf", "Camden", "Islington", "Croydon", "Richmond", "Wimbledon",
                     "Stratford", "Kensington", "Hammersmith", "Greenwich", "Ealing", "Holborn", "Brixton"),
                    premier_multiplier=1.8,
                ),
                Region(
                    "south-east", "South East", 0.14,
                    ("Brighton", "Reading", "Oxford", "Guildford", "Maidstone", "Canterbury", "Southampton",
                     "Portsmouth", "Milton Keynes", "Cambridge", "Crawley", "Basingstoke"),
                    premier_multiplier=1.3,
                ),
                Region(
                    "south-west", "South West", 0.10,
                    ("Exeter", "Plymouth", "Bournemouth", "Taunton", "Truro", "Swindon", "Salisbury",
                     "Torquay", "Yeovil", "Barnstaple"),
                ),
            ),
        ),
    )  # fmt: skip

    @property
    def regions(self) -> tuple[Region, ...]:
        return tuple(region for division in self.divisions for region in division.regions)


@dataclass(frozen=True)
class ExperienceModel:
    """How item scores are drawn.

    ``item = clip(round(mean + shifts + unit effect + season + trend + pilot
    + item_sd * (halo_loading * h + sqrt(1 - halo_loading**2) * e)), 1, 10)`` with
    ``h = sqrt(customer_share) * c + sqrt(1 - customer_share) * u``: ``c`` the customer's stable
    disposition, ``u`` and ``e`` fresh standard normals per response (and per item).
    """

    item_scale: tuple[int, int] = (1, 10)
    item_sd: float = 1.9
    halo_loading: float = 0.6
    customer_share: float = 0.35
    nonresponse_rate: float = 0.02  # each item skipped at random (MCAR) with this probability
    region_sd: float = 0.25  # region effect, shared by all items
    branch_sd: float = 0.35  # branch effect, shared by all items
    branch_item_sd: float = 0.30  # branch x item effect
    trend_per_month: tuple[tuple[str, float], ...] = (("app_ease", 0.04),)  # app releases


@dataclass(frozen=True)
class ScoreModel:
    """Weights (score points per item point, on items centred at their means) and noise of a score."""

    base_weights: tuple[tuple[str, float], ...]
    noise_sd: float
    scale: tuple[int, int]


@dataclass(frozen=True)
class Seasonality:
    """Calendar-month multipliers (January first) and item shifts in item points."""

    response_volume: tuple[float, ...] = (1.15, 1.0, 1.05, 0.95, 0.95, 0.95, 0.85, 0.8, 1.0, 1.05, 1.1, 1.15)
    acquisitions: tuple[float, ...] = (1.3, 1.05, 1.0, 0.95, 0.95, 0.9, 0.85, 0.8, 1.2, 1.1, 1.0, 0.7)
    purchases: tuple[float, ...] = (0.9, 0.9, 1.0, 1.0, 1.0, 1.0, 1.1, 1.1, 1.0, 1.0, 1.05, 1.25)
    churn: tuple[float, ...] = (1.25, 1.1, 1.0, 0.95, 0.95, 0.9, 0.9, 0.95, 1.1, 1.0, 0.95, 0.9)
    load_items: tuple[str, ...] = ("speed", "problem_resolution", "accessibility")
    load_shift: tuple[float, ...] = (-0.5, -0.2, 0.0, 0.1, 0.1, 0.0, -0.1, -0.3, 0.0, 0.1, -0.2, -0.6)


@dataclass(frozen=True)
class Behaviour:
    """How a customer's state (NPS category of their latest answer) moves what they do.

    Each tuple is indexed by :data:`STATES` (promoter, passive, detractor), promoter = 1.
    """

    churn_hazard_ratio: tuple[float, float, float] = (1.0, 1.4, 2.6)
    purchase_rate_ratio: tuple[float, float, float] = (1.0, 0.85, 0.65)
    spend_ratio: tuple[float, float, float] = (1.0, 0.93, 0.82)
    spend_shape: float = 2.0  # gamma shape of a transaction amount
    contact_rate_ratio: tuple[float, float, float] = (1.0, 1.35, 2.3)
    contact_cost_ratio: tuple[float, float, float] = (1.0, 1.1, 1.4)
    contact_resolved: tuple[float, float, float] = (0.93, 0.86, 0.68)
    contact_cost_sd: float = 0.35  # lognormal sd of a contact's cost
    contact_channels: tuple[tuple[str, float, float], ...] = (
        ("phone", 0.45, 7.0),
        ("branch", 0.25, 14.0),
        ("chat", 0.2, 2.5),
        ("email", 0.1, 4.5),
    )  # channel, share, mean cost
    contact_reasons: tuple[tuple[str, float, float, float], ...] = (
        ("card_issue", 0.22, 0.2, 0.16),
        ("payment_query", 0.2, 0.18, 0.14),
        ("account_change", 0.18, 0.16, 0.1),
        ("fraud_concern", 0.1, 0.1, 0.08),
        ("fees_query", 0.1, 0.12, 0.16),
        ("app_help", 0.12, 0.13, 0.12),
        ("complaint", 0.03, 0.06, 0.16),
        ("loan_enquiry", 0.05, 0.05, 0.08),
    )  # reason, share for promoter / passive / detractor
    margin_rate: tuple[tuple[str, float], ...] = (
        ("card", 0.55),
        ("savings", 0.35),
        ("loan", 0.45),
        ("insurance", 0.5),
        ("investment", 0.6),
        ("fx", 0.7),
    )
    margin_sd: float = 0.1  # lognormal sd around the category's margin rate
    acquisition_cost_sd: float = 0.4
    onboarding_survey_rate: float = 0.55  # new customers answering the onboarding survey
    existing_share: float = 0.7  # customers already with the bank when the window opens
    existing_tenure_years: float = 10.0


@dataclass(frozen=True)
class Pilot:
    """A programme in one region's branches from ``start``: it lifts one item's latent score."""

    pilot_id: str = "first-time-resolution"
    name: str = "First-time resolution"
    description: str = (
        "Branch staff are empowered and trained to resolve customers' issues on the spot, "
        "without hand-offs to the back office."
    )
    region_id: str = "north-west"
    start: date = date(2025, 10, 1)
    item: str = "problem_resolution"
    lift: float = 2.0
    cost_per_branch_month: float = 150.0  # coaching time, in the programme's currency


def _default_items() -> tuple[Item, ...]:
    return (
        Item("fees_value", "Fees and charges are fair for what I get", 6.3),
        Item("app_ease", "The mobile app is easy to use", 7.5),
        Item("speed", "I was served quickly", 7.0),
        Item("problem_resolution", "My issue was resolved first time", 7.3),
        Item("personalisation", "They understood my needs and personal situation", 6.8),
        Item("staff_knowledge", "Staff knew what they were talking about", 7.6),
        Item("staff_friendliness", "Staff were friendly and courteous", 8.1),
        Item("clarity", "Information was clear and easy to understand", 7.2),
        Item("trust", "I trust the bank to look after my money", 7.8),
        Item("accessibility", "It is easy to reach the bank when I need to", 7.1),
    )


def _default_segments() -> tuple[SegmentSpec, ...]:
    return (
        SegmentSpec(
            "premier", "Premier", 1, 0.10,
            response_rate=0.35, churn_hazard=0.005, purchase_rate=1.6, mean_spend=160.0,
            contact_rate=0.14, acquisition_cost=650.0, plan="premier_account", plan_fee=24.0,
            touchpoint_mix=(("mobile_app", 0.30), ("branch_visit", 0.38), ("call_centre", 0.24),
                            ("complaint", 0.08)),
            category_mix=(("card", 0.3), ("savings", 0.15), ("loan", 0.1), ("insurance", 0.1),
                          ("investment", 0.25), ("fx", 0.1)),
            item_shift=(("personalisation", 0.6), ("staff_knowledge", 0.3)),
            nps_offset=0.2,
        ),
        SegmentSpec(
            "affluent", "Affluent", 2, 0.25,
            response_rate=0.29, churn_hazard=0.007, purchase_rate=0.9, mean_spend=85.0,
            contact_rate=0.11, acquisition_cost=320.0, plan="plus_account", plan_fee=12.0,
            touchpoint_mix=(("mobile_app", 0.40), ("branch_visit", 0.28), ("call_centre", 0.24),
                            ("complaint", 0.08)),
            category_mix=(("card", 0.4), ("savings", 0.2), ("loan", 0.15), ("insurance", 0.1),
                          ("investment", 0.1), ("fx", 0.05)),
            nps_offset=0.1,
        ),
        SegmentSpec(
            "mass", "Mass market", 3, 0.65,
            response_rate=0.255, churn_hazard=0.010, purchase_rate=0.5, mean_spend=38.0,
            contact_rate=0.09, acquisition_cost=110.0, plan="everyday_account", plan_fee=4.0,
            touchpoint_mix=(("mobile_app", 0.46), ("branch_visit", 0.22), ("call_centre", 0.22),
                            ("complaint", 0.10)),
            category_mix=(("card", 0.55), ("savings", 0.15), ("loan", 0.15), ("insurance", 0.1),
                          ("investment", 0.0), ("fx", 0.05)),
            item_shift=(("personalisation", -0.3),),
            nps_offset=-0.1,
        ),
    )  # fmt: skip


def _default_touchpoints() -> tuple[TouchpointSpec, ...]:
    return (
        TouchpointSpec(
            "onboarding", "Onboarding", 1,
            channels=(("branch", 0.5), ("web", 0.3), ("app", 0.2)),
            item_shift=(("clarity", -0.3), ("personalisation", 0.2)),
            weight_multiplier=(("clarity", 1.6), ("staff_knowledge", 1.3), ("personalisation", 1.2)),
            nps_intercept=8.25, csat_intercept=4.2, ces_intercept=5.3,
        ),
        TouchpointSpec(
            "mobile_app", "Mobile app", 2,
            channels=(("app", 1.0),),
            item_shift=(("app_ease", 0.4), ("speed", 0.6)),
            weight_multiplier=(("app_ease", 2.0), ("speed", 1.2), ("staff_friendliness", 0.4),
                               ("staff_knowledge", 0.6), ("personalisation", 0.7), ("accessibility", 0.7)),
            nps_intercept=8.35, csat_intercept=4.25, ces_intercept=5.6,
        ),
        TouchpointSpec(
            "branch_visit", "Branch visit", 3,
            channels=(("branch", 1.0),),
            item_shift=(("staff_friendliness", 0.3), ("speed", -0.4)),
            weight_multiplier=(("staff_friendliness", 1.6), ("accessibility", 1.4), ("speed", 1.1),
                               ("app_ease", 0.4)),
            nps_intercept=8.25, csat_intercept=4.2, ces_intercept=5.3,
        ),
        TouchpointSpec(
            "call_centre", "Call centre", 4,
            channels=(("phone", 1.0),),
            item_shift=(("speed", -0.6), ("accessibility", -0.3)),
            weight_multiplier=(("speed", 1.5), ("problem_resolution", 1.3), ("app_ease", 0.5)),
            nps_intercept=8.05, csat_intercept=4.1, ces_intercept=5.1,
        ),
        TouchpointSpec(
            "complaint", "Complaint handling", 5,
            channels=(("phone", 0.5), ("branch", 0.25), ("email", 0.15), ("web", 0.1)),
            item_shift=(("problem_resolution", -1.6), ("speed", -1.0), ("clarity", -0.6),
                        ("staff_friendliness", -0.4), ("trust", -0.5)),
            weight_multiplier=(("problem_resolution", 2.0), ("clarity", 1.2), ("trust", 1.2),
                               ("app_ease", 0.4), ("fees_value", 0.8)),
            nps_intercept=7.55, csat_intercept=3.9, ces_intercept=4.9,
        ),
    )  # fmt: skip


def _default_nps_weights() -> tuple[tuple[str, tuple[tuple[str, float], ...]], ...]:
    # Premier customers weigh personal treatment and resolution; mass customers fees and the app.
    return (
        ("premier", (("personalisation", 0.30), ("problem_resolution", 0.13), ("staff_knowledge", 0.12),
                     ("trust", 0.10), ("speed", 0.07), ("staff_friendliness", 0.07), ("clarity", 0.06),
                     ("accessibility", 0.05), ("app_ease", 0.05), ("fees_value", 0.03))),
        ("affluent", (("problem_resolution", 0.21), ("app_ease", 0.12), ("staff_knowledge", 0.12),
                      ("personalisation", 0.10), ("speed", 0.10), ("trust", 0.09), ("fees_value", 0.09),
                      ("clarity", 0.07), ("staff_friendliness", 0.06), ("accessibility", 0.04))),
        ("mass", (("fees_value", 0.27), ("app_ease", 0.14), ("speed", 0.12), ("problem_resolution", 0.11),
                  ("clarity", 0.09), ("accessibility", 0.07), ("staff_friendliness", 0.07), ("trust", 0.05),
                  ("staff_knowledge", 0.04), ("personalisation", 0.03))),
    )  # fmt: skip


def _default_themes() -> tuple[Theme, ...]:
    return (
        Theme("long_wait", "Long wait", "speed", -3.2, -0.55, -0.6, -0.15, -0.4),
        Theme("unresolved_issue", "Issue not resolved", "problem_resolution", -3.1, -0.5, -0.8, -0.3, -0.3),
        Theme("high_fees", "High fees", "fees_value", -2.9, -0.5, -0.7, -0.1, 0.0),
        Theme("app_problems", "App problems", "app_ease", -3.3, -0.55, -0.5, -0.1, -0.35),
        Theme("unhelpful_staff", "Unhelpful staff", "staff_knowledge", -3.5, -0.55, -0.8, -0.25, -0.15),
        Theme("poor_communication", "Poor communication", "clarity", -3.5, -0.5, -0.4, -0.1, -0.2),
        Theme("friendly_staff", "Friendly staff", "staff_friendliness", -2.8, 0.5, 0.4, 0.15, 0.0),
        Theme("personal_service", "Personal service", "personalisation", -3.2, 0.5, 0.6, 0.15, 0.0),
        Theme("easy_app", "Easy app", "app_ease", -3.1, 0.5, 0.3, 0.05, 0.2),
        Theme("quick_resolution", "Quick resolution", "problem_resolution", -3.2, 0.45, 0.4, 0.15, 0.2),
    )


@dataclass(frozen=True)
class DemoModel:
    """The whole causal model. :data:`DEFAULT_MODEL` is the one ``cxloop demo generate`` uses."""

    window_end: date = date(2026, 9, 30)
    months: int = 24
    customers_at_scale_1: int = 20_000
    hierarchy: Hierarchy = field(default_factory=Hierarchy)
    items: tuple[Item, ...] = field(default_factory=_default_items)
    segments: tuple[SegmentSpec, ...] = field(default_factory=_default_segments)
    touchpoints: tuple[TouchpointSpec, ...] = field(default_factory=_default_touchpoints)
    themes: tuple[Theme, ...] = field(default_factory=_default_themes)
    experience: ExperienceModel = field(default_factory=ExperienceModel)
    nps_weights: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = field(
        default_factory=_default_nps_weights
    )
    nps_noise_sd: float = 1.45
    csat: ScoreModel = ScoreModel(
        base_weights=(("fees_value", 0.02), ("app_ease", 0.04), ("speed", 0.06), ("problem_resolution", 0.09),
                      ("personalisation", 0.03), ("staff_knowledge", 0.05), ("staff_friendliness", 0.06),
                      ("clarity", 0.04), ("trust", 0.02), ("accessibility", 0.02)),
        noise_sd=0.55,
        scale=(1, 5),
    )  # fmt: skip
    ces: ScoreModel = ScoreModel(
        base_weights=(("fees_value", 0.01), ("app_ease", 0.10), ("speed", 0.12), ("problem_resolution", 0.10),
                      ("personalisation", 0.01), ("staff_knowledge", 0.04), ("staff_friendliness", 0.02),
                      ("clarity", 0.08), ("trust", 0.01), ("accessibility", 0.05)),
        noise_sd=0.8,
        scale=(1, 7),
    )  # fmt: skip
    seasonality: Seasonality = field(default_factory=Seasonality)
    behaviour: Behaviour = field(default_factory=Behaviour)
    pilot: Pilot = field(default_factory=Pilot)

    @property
    def window_start(self) -> date:
        """First day of the window: ``months`` whole calendar months ending on ``window_end``."""
        year, month = self.window_end.year, self.window_end.month - self.months + 1
        while month <= 0:
            year, month = year - 1, month + 12
        return date(year, month, 1)

    @property
    def item_names(self) -> tuple[str, ...]:
        return tuple(item.item for item in self.items)

    @property
    def segment_names(self) -> tuple[str, ...]:
        return tuple(segment.segment for segment in self.segments)

    @property
    def touchpoint_names(self) -> tuple[str, ...]:
        return tuple(touchpoint.touchpoint for touchpoint in self.touchpoints)


def _aligned(names: tuple[str, ...], pairs: tuple[tuple[str, float], ...], default: float) -> np.ndarray:
    values = dict(pairs)
    unknown = set(values) - set(names)
    if unknown:
        raise ValueError(f"unknown names {sorted(unknown)}; expected some of {list(names)}")
    return np.array([values.get(name, default) for name in names], dtype=float)


def touchpoint_weights(model: DemoModel, base_weights: tuple[tuple[str, float], ...]) -> np.ndarray:
    """Per-touchpoint weights ``[touchpoint, item]``: base x the touchpoint's multipliers, rescaled so the
    weights at every touchpoint sum to the base weights' sum (a touchpoint moves emphasis, not total)."""
    base = _aligned(model.item_names, base_weights, 0.0)
    out = np.empty((len(model.touchpoints), len(model.items)))
    for t, touchpoint in enumerate(model.touchpoints):
        weighted = base * _aligned(model.item_names, touchpoint.weight_multiplier, 1.0)
        out[t] = weighted * base.sum() / weighted.sum()
    return out


def nps_weights(model: DemoModel) -> np.ndarray:
    """The true direct NPS weights ``[segment, touchpoint, item]`` (NPS points per item point)."""
    by_segment = dict(model.nps_weights)
    missing = set(model.segment_names) - set(by_segment)
    if missing:
        raise ValueError(f"no NPS weights for segments {sorted(missing)}")
    return np.stack([touchpoint_weights(model, by_segment[s]) for s in model.segment_names])


def item_vector(model: DemoModel, pairs: tuple[tuple[str, float], ...], default: float = 0.0) -> np.ndarray:
    """``pairs`` of ``(item, value)`` as a vector in the model's item order."""
    return _aligned(model.item_names, pairs, default)


DEFAULT_MODEL = DemoModel()
