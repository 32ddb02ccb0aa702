"""One survey response's experience: item scores, comment themes and the NPS/CSAT/CES answers.

:class:`ExperienceArrays` is the causal model of :mod:`cxloop.demo.model` as numpy arrays indexed by
segment, touchpoint, item, branch and theme; :func:`draw_experience` draws a batch of responses from it.
For responses inside the pilot it also returns the *counterfactual* answers (the same random draws without
the pilot's lift), from which the generator computes the pilot's true effects exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cxloop.demo.model import DemoModel, item_vector, nps_weights, touchpoint_weights
from cxloop.demo.org import Org

__all__ = ["Answers", "Experience", "ExperienceArrays", "draw_experience", "nps_category"]


def nps_category(nps: np.ndarray) -> np.ndarray:
    """0 promoter (9-10), 1 passive (7-8), 2 detractor (0-6), as int8."""
    return np.where(nps >= 9, 0, np.where(nps >= 7, 1, 2)).astype(np.int8)


@dataclass(frozen=True)
class ExperienceArrays:
    """Model parameters as arrays: ``S`` segments, ``T`` touchpoints, ``K`` items, ``J`` themes."""

    item_mean: np.ndarray  # [K]
    segment_shift: np.ndarray  # [S, K]
    touchpoint_shift: np.ndarray  # [T, K]
    unit_effect: np.ndarray  # [branch, K]
    season_shift: np.ndarray  # [12, K] by calendar month (0 = January)
    trend: np.ndarray  # [K] item points per month since the window opened
    pilot_lift: np.ndarray  # [K]
    nps_weights: np.ndarray  # [S, T, K]
    nps_intercept: np.ndarray  # [S, T]
    csat_weights: np.ndarray  # [T, K]
    csat_intercept: np.ndarray  # [T]
    ces_weights: np.ndarray  # [T, K]
    ces_intercept: np.ndarray  # [T]
    theme_item: np.ndarray  # [J] item index
    theme_intercept: np.ndarray  # [J]
    theme_slope: np.ndarray  # [J]
    theme_effects: np.ndarray  # [3, J]: NPS, CSAT, CES
    noise_sd: np.ndarray  # [3]: NPS, CSAT, CES
    item_sd: float
    halo_loading: float
    customer_share: float
    nonresponse_rate: float
    item_scale: tuple[int, int]
    csat_scale: tuple[int, int]
    ces_scale: tuple[int, int]

    @classmethod
    def from_model(cls, model: DemoModel, org: Org) -> ExperienceArrays:
        items = model.item_names
        experience = model.experience
        season = np.zeros((12, len(items)))
        for item in model.seasonality.load_items:
            season[:, items.index(item)] = model.seasonality.load_shift
        lift = np.zeros(len(items))
        lift[items.index(model.pilot.item)] = model.pilot.lift
        themes = model.themes
        return cls(
            item_mean=np.array([item.mean for item in model.items]),
            segment_shift=np.stack([item_vector(model, s.item_shift) for s in model.segments]),
            touchpoint_shift=np.stack([item_vector(model, t.item_shift) for t in model.touchpoints]),
            unit_effect=org.unit_effects,
            season_shift=season,
            trend=item_vector(model, experience.trend_per_month),
            pilot_lift=lift,
            nps_weights=nps_weights(model),
            nps_intercept=np.array(
                [[t.nps_intercept + s.nps_offset for t in model.touchpoints] for s in model.segments]
            ),
            csat_weights=touchpoint_weights(model, model.csat.base_weights),
            csat_intercept=np.array([t.csat_intercept for t in model.touchpoints]),
            ces_weights=touchpoint_weights(model, model.ces.base_weights),
            ces_intercept=np.array([t.ces_intercept for t in model.touchpoints]),
            theme_item=np.array([items.index(theme.item) for theme in themes]),
            theme_intercept=np.array([theme.intercept for theme in themes]),
            theme_slope=np.array([theme.slope for theme in themes]),
            theme_effects=np.array(
                [
                    [t.nps_effect for t in themes],
                    [t.csat_effect for t in themes],
                    [t.ces_effect for t in themes],
                ]
            ),
            noise_sd=np.array([model.nps_noise_sd, model.csat.noise_sd, model.ces.noise_sd]),
            item_sd=experience.item_sd,
            halo_loading=experience.halo_loading,
            customer_share=experience.customer_share,
            nonresponse_rate=experience.nonresponse_rate,
            item_scale=experience.item_scale,
            csat_scale=model.csat.scale,
            ces_scale=model.ces.scale,
        )


@dataclass(frozen=True)
class Answers:
    """The answers of a batch of responses (all integer-valued, stored as small ints)."""

    items: np.ndarray  # [n, K] int8, the score each respondent experienced
    nps: np.ndarray  # [n] int8
    csat: np.ndarray
    ces: np.ndarray
    themes: np.ndarray  # [n, J] bool
    theme_variance: np.ndarray  # [n, J] p * (1 - p) of each theme's presence (for marginal effects)


@dataclass(frozen=True)
class Experience:
    """A batch of drawn responses: the factual answers, which items were skipped, and for the rows in
    ``treated`` the counterfactual answers without the pilot."""

    answers: Answers
    skipped: np.ndarray  # [n, K] bool: item not answered (missing completely at random)
    treated: np.ndarray  # [n] bool
    counterfactual: Answers  # rows of ``treated`` only, in order


def _round_clip(values: np.ndarray, scale: tuple[int, int]) -> np.ndarray:
    return np.clip(np.rint(values), scale[0], scale[1]).astype(np.int8)


def _answers(
    arrays: ExperienceArrays,
    items: np.ndarray,
    segment: np.ndarray,
    touchpoint: np.ndarray,
    theme_draw: np.ndarray,
    noise: np.ndarray,
) -> Answers:
    deviation = items - arrays.item_mean
    logits = arrays.theme_intercept + arrays.theme_slope * deviation[:, arrays.theme_item]
    probability = 1.0 / (1.0 + np.exp(-logits))
    themes = theme_draw < probability
    theme_terms = themes.astype(float) @ arrays.theme_effects.T  # [n, 3]
    nps = (
        arrays.nps_intercept[segment, touchpoint]
        + np.einsum("nk,nk->n", arrays.nps_weights[segment, touchpoint], deviation)
        + theme_terms[:, 0]
        + arrays.noise_sd[0] * noise[:, 0]
    )
    csat = (
        arrays.csat_intercept[touchpoint]
        + np.einsum("nk,nk->n", arrays.csat_weights[touchpoint], deviation)
        + theme_terms[:, 1]
        + arrays.noise_sd[1] * noise[:, 1]
    )
    ces = (
        arrays.ces_intercept[touchpoint]
        + np.einsum("nk,nk->n", arrays.ces_weights[touchpoint], deviation)
        + theme_terms[:, 2]
        + arrays.noise_sd[2] * noise[:, 2]
    )
    return Answers(
        items=items.astype(np.int8),
        nps=_round_clip(nps, (0, 10)),
        csat=_round_clip(csat, arrays.csat_scale),
        ces=_round_clip(ces, arrays.ces_scale),
        themes=themes,
        theme_variance=probability * (1.0 - probability),
    )


def draw_experience(
    rng: np.random.Generator,
    arrays: ExperienceArrays,
    *,
    disposition: np.ndarray,
    segment: np.ndarray,
    touchpoint: np.ndarray,
    branch: np.ndarray,
    month: np.ndarray,
    calendar_month: np.ndarray,
    treated: np.ndarray,
) -> Experience:
    """Draw one response per row.

    Parameters
    ----------
    disposition
        The respondent's stable disposition (standard normal, drawn once per customer).
    segment, touchpoint, branch
        Indices into the model's segments, touchpoints and the org's branches.
    month, calendar_month
        Months since the window opened (for the trend) and the calendar month 0-11 (for seasonality).
    treated
        Whether the response falls under the pilot (pilot branch, on or after its start).
    """
    n = len(segment)
    n_items = len(arrays.item_mean)
    share = arrays.customer_share
    halo = np.sqrt(share) * disposition + np.sqrt(1.0 - share) * rng.standard_normal(n)
    loading = arrays.halo_loading
    latent = loading * halo[:, None] + np.sqrt(1.0 - loading**2) * rng.standard_normal((n, n_items))
    expected = (
        arrays.item_mean
        + arrays.segment_shift[segment]
        + arrays.touchpoint_shift[touchpoint]
        + arrays.unit_effect[branch]
        + arrays.season_shift[calendar_month]
        + arrays.trend * month[:, None]
    )
    without_pilot = expected + arrays.item_sd * latent
    experienced = without_pilot + arrays.pilot_lift * treated[:, None]
    theme_draw = rng.random((n, len(arrays.theme_item)))
    noise = rng.standard_normal((n, 3))
    skipped = rng.random((n, n_items)) < arrays.nonresponse_rate

    factual = _answers(
        arrays, _round_clip(experienced, arrays.item_scale), segment, touchpoint, theme_draw, noise
    )
    rows = np.flatnonzero(treated)
    counterfactual = _answers(
        arrays,
        _round_clip(without_pilot[rows], arrays.item_scale),
        segment[rows],
        touchpoint[rows],
        theme_draw[rows],
        noise[rows],
    )
    return Experience(answers=factual, skipped=skipped, treated=treated, counterfactual=counterfactual)
