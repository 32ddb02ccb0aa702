"""``ground_truth.json``: everything a test or an analysis needs to check itself against the demo data.

The document holds the model's parameters (as the generator used them, by name) and quantities derived from
them and from exact sums the generator kept:

- ``drivers.nps.direct_weights``: the structural weights by segment x touchpoint (NPS points per item
  point, before rounding and clipping). ``total_weights`` add each item's effect through the comment themes
  it triggers (the average marginal effect ``sum_j effect_j * slope_j * mean(p_j (1 - p_j))``): that is what
  a key-driver analysis of NPS on the items alone estimates. ``importance_ranking`` orders items by total
  weight, pooled over touchpoints with the segment's response mix.
- ``pilot.true_effects``: the average effect on the treated, computed response by response and customer-
  month by customer-month from the same random draws with and without the pilot's lift.
- ``behaviour``: the churn, purchase, spend and contact coefficients by customer state.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cxloop import __version__
from cxloop.demo.comments import PHRASES
from cxloop.demo.model import STATES, DemoModel, item_vector, nps_weights, touchpoint_weights
from cxloop.demo.org import Org

if TYPE_CHECKING:
    from cxloop.demo.simulate import Tally

__all__ = ["SCHEMA_VERSION", "build"]

SCHEMA_VERSION = 1
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _r(value: float, digits: int = 6) -> float:
    return round(float(value), digits)


def _by_item(model: DemoModel, values: np.ndarray, digits: int = 6) -> dict[str, float]:
    return {item: _r(v, digits) for item, v in zip(model.item_names, values, strict=True)}


def _ranking(model: DemoModel, values: np.ndarray) -> list[str]:
    order = np.argsort(-values, kind="stable")
    return [model.item_names[k] for k in order]


def _theme_slopes(model: DemoModel, tally: Tally, effect_row: int) -> np.ndarray:
    """``[S, T, K]`` mean marginal effect of each item through the themes, on one score."""
    effects = np.array(
        [
            [t.nps_effect for t in model.themes],
            [t.csat_effect for t in model.themes],
            [t.ces_effect for t in model.themes],
        ]
    )[effect_row]
    slopes = np.array([t.slope for t in model.themes])
    items = [model.item_names.index(t.item) for t in model.themes]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_variance = np.where(
            tally.responses[..., None] > 0, tally.theme_variance / tally.responses[..., None], 0.0
        )
    out = np.zeros((*tally.responses.shape, len(model.items)))
    for j, k in enumerate(items):
        out[:, :, k] += effects[j] * slopes[j] * mean_variance[:, :, j]
    return out


def _pooled(weights: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Average ``weights[..., T, K]`` over touchpoints with ``counts[..., T]`` (equal weights if empty)."""
    totals = counts.sum(axis=-1, keepdims=True)
    share = np.where(totals > 0, counts / np.where(totals > 0, totals, 1), 1.0 / counts.shape[-1])
    return np.einsum("...t,...tk->...k", share, weights)


def _drivers(model: DemoModel, tally: Tally) -> tuple[dict[str, Any], np.ndarray]:
    segments, touchpoints = model.segment_names, model.touchpoint_names
    direct = nps_weights(model)
    total = direct + _theme_slopes(model, tally, 0)
    pooled_direct = _pooled(direct, tally.responses)
    pooled_total = _pooled(total, tally.responses)
    nps: dict[str, Any] = {
        "scale": [0, 10],
        "equation": (
            "nps = clip(round(intercept[segment][touchpoint] + sum_k direct_weight[segment][touchpoint][k] * "
            "(item_k - item_mean_k) + sum_j theme_effect_j * theme_j + noise_sd * N(0, 1)), 0, 10)"
        ),
        "intercepts": {
            s.segment: {t.touchpoint: _r(t.nps_intercept + s.nps_offset) for t in model.touchpoints}
            for s in model.segments
        },
        "noise_sd": model.nps_noise_sd,
        "direct_weights": {
            s: {t: _by_item(model, direct[i, j]) for j, t in enumerate(touchpoints)}
            for i, s in enumerate(segments)
        },
        "total_weights": {
            s: {t: _by_item(model, total[i, j]) for j, t in enumerate(touchpoints)}
            for i, s in enumerate(segments)
        },
        "direct_weights_by_segment": {s: _by_item(model, pooled_direct[i]) for i, s in enumerate(segments)},
        "total_weights_by_segment": {s: _by_item(model, pooled_total[i]) for i, s in enumerate(segments)},
        "importance_ranking": {s: _ranking(model, pooled_total[i]) for i, s in enumerate(segments)},
        "importance_ranking_by_touchpoint": {
            s: {t: _ranking(model, total[i, j]) for j, t in enumerate(touchpoints)}
            for i, s in enumerate(segments)
        },
        "top_driver": {s: _ranking(model, pooled_total[i])[0] for i, s in enumerate(segments)},
        "responses": {
            s: {t: int(tally.responses[i, j]) for j, t in enumerate(touchpoints)}
            for i, s in enumerate(segments)
        },
    }
    segment_counts = tally.responses.sum(axis=1)
    share = (
        segment_counts / segment_counts.sum()
        if segment_counts.sum()
        else np.full(len(segments), 1 / len(segments))
    )
    company_weights = share @ pooled_total
    nps["total_weights_overall"] = _by_item(model, company_weights)
    nps["importance_ranking_overall"] = _ranking(model, company_weights)

    out: dict[str, Any] = {"nps": nps}
    for name, score, row in (("csat", model.csat, 1), ("ces", model.ces, 2)):
        weights = touchpoint_weights(model, score.base_weights)
        by_touchpoint = tally.responses.sum(axis=0)
        theme_part = _theme_slopes(model, tally, row)
        # pool the theme pathway over segments with their response counts, per touchpoint
        counts = tally.responses[..., None]
        pooled_theme = np.where(
            by_touchpoint[:, None] > 0,
            (theme_part * counts).sum(axis=0) / np.maximum(by_touchpoint[:, None], 1),
            0.0,
        )
        totals = weights + pooled_theme
        intercept = [t.csat_intercept if name == "csat" else t.ces_intercept for t in model.touchpoints]
        out[name] = {
            "scale": list(score.scale),
            "equation": (
                f"{name} = clip(round(intercept[touchpoint] + sum_k direct_weight[touchpoint][k] * "
                f"(item_k - item_mean_k) + sum_j theme_effect_j * theme_j + noise_sd * N(0, 1)), "
                f"{score.scale[0]}, {score.scale[1]})"
            ),
            "intercepts": {t: _r(v) for t, v in zip(touchpoints, intercept, strict=True)},
            "noise_sd": score.noise_sd,
            "direct_weights": {t: _by_item(model, weights[j]) for j, t in enumerate(touchpoints)},
            "total_weights": {t: _by_item(model, totals[j]) for j, t in enumerate(touchpoints)},
            "importance_ranking": _ranking(model, _pooled(totals, by_touchpoint)),
        }
    return out, company_weights


def _pilot(model: DemoModel, org: Org, tally: Tally) -> dict[str, Any]:
    pilot = model.pilot
    region_id = f"reg-{pilot.region_id}"
    region = org.region_ids.index(region_id)
    branches = [b for b, r in zip(org.branch_ids, org.branch_region, strict=True) if r == region]
    sums = tally.pilot
    n = sums.get("responses", 0.0)
    months = sums.get("customer_months", 0.0)

    def mean(key: str, count: float) -> float | None:
        return _r(sums.get(key, 0.0) / count) if count else None

    def difference(key: str, count: float, scale: float = 1.0) -> float | None:
        if not count:
            return None
        return _r(scale * (sums.get(key, 0.0) - sums.get(f"{key}_without", 0.0)) / count)

    def nps_points(suffix: str) -> float | None:
        if not n:
            return None
        return _r(100.0 * (sums.get(f"promoters{suffix}", 0.0) - sums.get(f"detractors{suffix}", 0.0)) / n, 4)

    with_pilot, without = nps_points(""), nps_points("_without")
    end = model.window_end
    months_running = max(0, (end.year - pilot.start.year) * 12 + end.month - pilot.start.month + 1)
    cost = pilot.cost_per_branch_month * len(branches) * months_running
    gain = (sums.get("margin", 0.0) - sums.get("margin_without", 0.0)) + (
        sums.get("contact_cost_without", 0.0) - sums.get("contact_cost", 0.0)
    )
    hazard, hazard_without = mean("hazard", months), mean("hazard_without", months)
    return {
        "pilot_id": pilot.pilot_id,
        "name": pilot.name,
        "description": pilot.description,
        "region": region_id,
        "treated_units": [region_id, *branches],
        "treated_branches": branches,
        "start": pilot.start.isoformat(),
        "item": pilot.item,
        "item_lift_latent": pilot.lift,
        "cost_per_branch_month": pilot.cost_per_branch_month,
        "months_in_window": months_running,
        "mechanism": (
            f"From {pilot.start.isoformat()} the latent {pilot.item} score of every response from a "
            f"customer of a treated branch is raised by {pilot.lift} points; NPS, CSAT, CES, themes, the "
            "customer's state and hence churn, purchases and contacts move only through that item."
        ),
        "true_effects": {
            "definition": (
                "Average effect on the treated: responses and active customer-months of treated branches "
                "on or after the start, each compared with its own counterfactual (the same random draws "
                "without the lift). Churn, margin and contact cost are expected monthly values given the "
                "state path."
            ),
            "responses": int(n),
            "customer_months": int(months),
            "item_mean": difference("item", n),
            "nps_score_mean": difference("nps", n),
            "nps_points": None if with_pilot is None or without is None else _r(with_pilot - without, 4),
            "nps_points_with_pilot": with_pilot,
            "nps_points_without_pilot": without,
            "csat_mean": difference("csat", n),
            "ces_mean": difference("ces", n),
            "monthly_churn_hazard": difference("hazard", months),
            "monthly_churn_hazard_with_pilot": hazard,
            "monthly_churn_hazard_without_pilot": hazard_without,
            "monthly_churn_relative": (
                None if hazard is None or not hazard_without else _r(hazard / hazard_without - 1.0)
            ),
            "monthly_margin_per_customer": difference("margin", months),
            "monthly_contact_cost_per_customer": difference("contact_cost", months),
            "incremental_margin": _r(sums.get("margin", 0.0) - sums.get("margin_without", 0.0), 2),
            "contact_cost_saved": _r(
                sums.get("contact_cost_without", 0.0) - sums.get("contact_cost", 0.0), 2
            ),
            "pilot_cost": _r(cost, 2),
            "roi_in_window": None if not cost else _r((gain - cost) / cost, 4),
            "roi_note": (
                "(incremental margin + contact cost saved - pilot cost) / pilot cost over the window "
                "after the start; the future value of customers retained beyond the window is not included"
            ),
        },
    }


def _behaviour(model: DemoModel) -> dict[str, Any]:
    b = model.behaviour
    states = list(STATES)

    def per_state(values: tuple[float, ...]) -> dict[str, float]:
        return dict(zip(states, values, strict=True))

    return {
        "state": (
            "A customer's state is the NPS category of their latest answer (promoter 9-10, passive 7-8, "
            "detractor 0-6); before their first answer in the window, of a hidden first experience. The "
            "state at the start of a month sets that month's churn hazard, purchase rate, spend and "
            "contacts."
        ),
        "churn": {
            "model": "monthly hazard = base[segment] * hazard_ratio[state] * seasonality[calendar month]",
            "base_monthly_hazard": {s.segment: s.churn_hazard for s in model.segments},
            "hazard_ratio": per_state(b.churn_hazard_ratio),
            "log_hazard_ratio": {k: _r(np.log(v)) for k, v in per_state(b.churn_hazard_ratio).items()},
            "monthly_hazard": {
                s.segment: {
                    state: _r(s.churn_hazard * r) for state, r in per_state(b.churn_hazard_ratio).items()
                }
                for s in model.segments
            },
            "seasonality": dict(zip(MONTHS, model.seasonality.churn, strict=True)),
        },
        "purchases": {
            "model": (
                "transactions per month ~ Poisson(rate[segment] * rate_ratio[state] * seasonality[month])"
            ),
            "rate": {s.segment: s.purchase_rate for s in model.segments},
            "rate_ratio": per_state(b.purchase_rate_ratio),
            "seasonality": dict(zip(MONTHS, model.seasonality.purchases, strict=True)),
            "category_mix": {s.segment: dict(s.category_mix) for s in model.segments},
        },
        "spend": {
            "model": (
                "amount ~ Gamma(shape, mean = mean_spend[segment] * spend_ratio[state]); "
                "margin = amount * margin_rate[category] * lognormal(mean 1)"
            ),
            "mean_spend": {s.segment: s.mean_spend for s in model.segments},
            "spend_ratio": per_state(b.spend_ratio),
            "shape": b.spend_shape,
            "margin_rate": dict(b.margin_rate),
        },
        "contacts": {
            "model": "contacts per month ~ Poisson(rate[segment] * rate_ratio[state]); cost = channel cost * "
            "cost_ratio[state] * lognormal(mean 1); resolved ~ Bernoulli(resolved[state])",
            "rate": {s.segment: s.contact_rate for s in model.segments},
            "rate_ratio": per_state(b.contact_rate_ratio),
            "cost_ratio": per_state(b.contact_cost_ratio),
            "resolved": per_state(b.contact_resolved),
            "channels": {
                name: {"share": share, "mean_cost": cost} for name, share, cost in b.contact_channels
            },
            "reason_mix": {
                state: {reason[0]: reason[1 + i] for reason in b.contact_reasons}
                for i, state in enumerate(states)
            },
        },
        "subscriptions": {
            "model": (
                "one account package per customer, started when acquired, ended when the customer churns"
            ),
            "plans": {s.segment: {"plan": s.plan, "monthly_fee": s.plan_fee} for s in model.segments},
        },
        "acquisition": {
            "existing_share": b.existing_share,
            "mean_cost": {s.segment: s.acquisition_cost for s in model.segments},
            "seasonality": dict(zip(MONTHS, model.seasonality.acquisitions, strict=True)),
        },
        "responses": {
            "rate_per_customer_month": {s.segment: s.response_rate for s in model.segments},
            "onboarding_survey_rate": b.onboarding_survey_rate,
            "seasonality": dict(zip(MONTHS, model.seasonality.response_volume, strict=True)),
            "touchpoint_mix": {s.segment: dict(s.touchpoint_mix) for s in model.segments},
        },
    }


def _units(model: DemoModel, org: Org, company_weights: np.ndarray) -> dict[str, Any]:
    effects = org.unit_effects
    names = dict(zip(org.unit_ids, org.names, strict=True))
    return {
        "definition": (
            "Item points added to every item score of a branch's customers: region effect (all items) + "
            "branch effect (all items) + branch x item effect. nps_points is the implied shift of the mean "
            "NPS answer (0-10), using the company-wide total weights."
        ),
        "regions": {
            region_id: {"name": names[region_id], "effect": _r(org.region_effect[r], 4)}
            for r, region_id in enumerate(org.region_ids)
        },
        "branches": {
            branch_id: {
                "name": names[branch_id],
                "region": org.region_ids[org.branch_region[b]],
                "customer_share": _r(org.branch_share[b]),
                "branch_effect": _r(org.branch_effect[b], 4),
                "items": _by_item(model, effects[b], 4),
                "mean_item_effect": _r(effects[b].mean(), 4),
                "nps_points": _r(effects[b] @ company_weights, 4),
            }
            for b, branch_id in enumerate(org.branch_ids)
        },
    }


def build(
    *, model: DemoModel, org: Org, tally: Tally, scale: float, seed: int, files: Mapping[str, Path]
) -> dict[str, Any]:
    """The ground-truth document (JSON-ready) for one generated dataset."""
    drivers, company_weights = _drivers(model, tally)
    n_responses = max(tally.responses.sum(), 1.0)
    season = model.seasonality
    experience = model.experience
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": f"cxloop {__version__}",
        "company": model.hierarchy.company_name,
        "seed": seed,
        "scale": scale,
        "window": {
            "start": model.window_start.isoformat(),
            "end": model.window_end.isoformat(),
            "months": model.months,
        },
        "files": {kind: path.name for kind, path in files.items()},
        "counts": dict(tally.counts),
        "scales": {
            "nps": [0, 10],
            "csat": list(model.csat.scale),
            "ces": list(model.ces.scale),
            "items": list(experience.item_scale),
        },
        "hierarchy": {
            "levels": list(model.hierarchy.levels),
            "company": model.hierarchy.company_id,
            "divisions": {
                f"div-{d.division_id}": [f"reg-{r.region_id}" for r in d.regions]
                for d in model.hierarchy.divisions
            },
            "branches": org.n_branches,
        },
        "segments": [
            {"segment": s.segment, "name": s.name, "value_rank": s.value_rank, "share": s.share}
            for s in model.segments
        ],
        "touchpoints": [
            {
                "touchpoint": t.touchpoint,
                "name": t.name,
                "stage_order": t.stage_order,
                "channels": dict(t.channels),
                "item_shift": dict(t.item_shift),
            }
            for t in model.touchpoints
        ],
        "items": [
            {
                "item": item.item,
                "column": f"q_{item.item}",
                "label": item.label,
                "scale": list(experience.item_scale),
                "mean": item.mean,
                "segment_shift": {s.segment: _r(item_vector(model, s.item_shift)[k]) for s in model.segments},
            }
            for k, item in enumerate(model.items)
        ],
        "experience": {
            "equation": (
                "item_k = clip(round(mean_k + segment_shift + touchpoint_shift + unit_effect[branch][k] + "
                "season[calendar month][k] + trend_k * months_since_start + pilot_lift * treated + item_sd * "
                "(halo_loading * h + sqrt(1 - halo_loading^2) * e_k)), 1, 10); h = sqrt(customer_share) * "
                "disposition[customer] + sqrt(1 - customer_share) * u"
            ),
            "item_sd": experience.item_sd,
            "halo_loading": experience.halo_loading,
            "customer_share": experience.customer_share,
            "nonresponse_rate": experience.nonresponse_rate,
            "trend_per_month": dict(experience.trend_per_month),
        },
        "drivers": drivers,
        "themes": [
            {
                "theme": t.theme,
                "label": t.label,
                "item": t.item,
                "polarity": t.polarity,
                "presence": {
                    "model": "logit P = intercept + slope * (item score - item mean)",
                    "intercept": t.intercept,
                    "slope": t.slope,
                },
                "effects": {"nps": t.nps_effect, "csat": t.csat_effect, "ces": t.ces_effect},
                "share_of_responses": _r(tally.theme_present[:, :, j].sum() / n_responses),
                "phrases": list(PHRASES[t.theme]),
            }
            for j, t in enumerate(model.themes)
        ],
        "theme_labels_file": "response_themes.parquet",
        "unit_effects": _units(model, org, company_weights),
        "seasonality": {
            "load_items": list(season.load_items),
            "item_shift": dict(zip(MONTHS, season.load_shift, strict=True)),
            "response_volume": dict(zip(MONTHS, season.response_volume, strict=True)),
        },
        "behaviour": _behaviour(model),
        "pilot": _pilot(model, org, tally),
    }
