"""The demo company's org hierarchy at a given scale, and each branch's true performance.

Branches are spread over the fixed regions by customer share (at least two per region) and named after
towns; branch sizes vary (lognormal). Every branch gets a true effect on every item, the sum of a region
effect, a branch effect shared by all items and a branch x item effect, in item points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cxloop.demo.model import DemoModel

__all__ = ["Org", "build_org", "branch_count"]


@dataclass(frozen=True)
class Org:
    """The hierarchy as arrays. Branch arrays are indexed by branch number (0..n_branches-1)."""

    unit_ids: tuple[str, ...]
    parent_ids: tuple[str | None, ...]
    names: tuple[str, ...]
    levels: tuple[str, ...]
    region_ids: tuple[str, ...]  # unit ids of the regions, in model order
    branch_ids: tuple[str, ...]
    branch_region: np.ndarray  # region number of each branch
    branch_share: np.ndarray  # share of all customers homed at each branch (sums to 1)
    region_effect: np.ndarray  # [region] item points, on every item
    branch_effect: np.ndarray  # [branch] item points, on every item
    branch_item_effect: np.ndarray  # [branch, item] item points

    @property
    def unit_effects(self) -> np.ndarray:
        """Total true effect ``[branch, item]`` in item points (region + branch + branch x item)."""
        return (
            self.region_effect[self.branch_region][:, None]
            + self.branch_effect[:, None]
            + self.branch_item_effect
        )

    @property
    def n_branches(self) -> int:
        return len(self.branch_ids)


def branch_count(model: DemoModel, scale: float) -> int:
    """Branches at ``scale``: ``branches_at_scale_1 * sqrt(scale)``, at least ``min_branches``."""
    hierarchy = model.hierarchy
    return max(hierarchy.min_branches, round(hierarchy.branches_at_scale_1 * float(np.sqrt(scale))))


def _allocate(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """Split ``total`` into integer parts proportional to ``weights`` (largest remainder), each >= minimum."""
    counts = np.full(len(weights), minimum)
    rest = total - counts.sum()
    if rest < 0:
        raise ValueError(f"{total} branches cannot give every one of {len(weights)} regions {minimum}")
    exact = weights / weights.sum() * rest
    counts += np.floor(exact).astype(int)
    remainder = total - counts.sum()
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    counts[order[:remainder]] += 1
    return counts


def _branch_names(towns: tuple[str, ...], suffixes: tuple[str, ...], count: int) -> list[str]:
    names = list(towns[:count])
    for suffix in suffixes:
        for town in towns:
            if len(names) >= count:
                return names
            names.append(f"{town} {suffix}")
    if len(names) < count:
        names += [f"{towns[i % len(towns)]} {i // len(towns) + 1}" for i in range(len(names), count)]
    return names


def build_org(model: DemoModel, scale: float, rng: np.random.Generator) -> Org:
    """Lay out the hierarchy for ``scale`` and draw every branch's true effects from ``rng``."""
    hierarchy = model.hierarchy
    regions = hierarchy.regions
    weights = np.array([region.weight for region in regions])
    per_region = _allocate(branch_count(model, scale), weights, minimum=2)
    width = max(4, len(str(per_region.sum())))

    unit_ids: list[str] = [hierarchy.company_id]
    parent_ids: list[str | None] = [None]
    names: list[str] = [hierarchy.company_name]
    levels: list[str] = [hierarchy.levels[0]]
    region_ids: list[str] = []
    branch_ids: list[str] = []
    branch_region: list[int] = []
    branch_names: list[str] = []
    r = 0
    for division in hierarchy.divisions:
        division_id = f"div-{division.division_id}"
        unit_ids.append(division_id)
        parent_ids.append(hierarchy.company_id)
        names.append(division.name)
        levels.append(hierarchy.levels[1])
        for region in division.regions:
            region_id = f"reg-{region.region_id}"
            region_ids.append(region_id)
            unit_ids.append(region_id)
            parent_ids.append(division_id)
            names.append(region.name)
            levels.append(hierarchy.levels[2])
            for name in _branch_names(region.towns, hierarchy.branch_name_suffixes, int(per_region[r])):
                branch_ids.append(f"br-{len(branch_ids) + 1:0{width}d}")
                branch_region.append(r)
                branch_names.append(name)
            r += 1
    for branch_id, region_number, name in zip(branch_ids, branch_region, branch_names, strict=True):
        unit_ids.append(branch_id)
        parent_ids.append(region_ids[region_number])
        names.append(name)
        levels.append(hierarchy.levels[3])

    branch_region_arr = np.array(branch_region)
    size = rng.lognormal(0.0, hierarchy.branch_size_sd, len(branch_ids))
    share = np.empty(len(branch_ids))
    for r_number, region in enumerate(regions):
        in_region = branch_region_arr == r_number
        share[in_region] = region.weight / weights.sum() * size[in_region] / size[in_region].sum()

    experience = model.experience
    return Org(
        unit_ids=tuple(unit_ids),
        parent_ids=tuple(parent_ids),
        names=tuple(names),
        levels=tuple(levels),
        region_ids=tuple(region_ids),
        branch_ids=tuple(branch_ids),
        branch_region=branch_region_arr,
        branch_share=share,
        region_effect=rng.normal(0.0, experience.region_sd, len(regions)),
        branch_effect=rng.normal(0.0, experience.branch_sd, len(branch_ids)),
        branch_item_effect=rng.normal(0.0, experience.branch_item_sd, (len(branch_ids), len(model.items))),
    )
