"""A small synthetic company for the value-service tests: BG/NBD buyers with Gamma-Gamma spend.

Org: bank -> north (n1, n2), south (s1). Each customer buys at a gamma-distributed weekly rate and drops
out after each purchase with a beta-distributed probability (the BG/NBD story); their NPS rating falls
with their dropout probability, so detractors churn more. Seeds are fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from cxloop.config import Settings
from cxloop.store import migrate
from cxloop.store.db import engine_for, session_scope
from cxloop.store.units import UnitRecord, upsert_units
from cxloop.warehouse.connection import connect
from cxloop.warehouse.schemas import RESPONSES
from cxloop.warehouse.tables import ensure_tables
from cxloop.warehouse.write.hierarchy import build_hierarchy, write_hierarchy

START = pd.Timestamp("2023-01-02")
END = date(2024, 6, 30)
CAL_END = date(2023, 12, 31)
TRUE_BG = {"r": 0.8, "alpha": 6.0, "a": 0.6, "b": 3.0}  # alpha per week
TRUE_GG = {"p": 5.0, "q": 4.0, "v": 60.0}
UNITS = [
    ("bank", None, "Bank", "company"),
    ("north", "bank", "North", "region"),
    ("south", "bank", "South", "region"),
    ("n1", "north", "N1", "branch"),
    ("n2", "north", "N2", "branch"),
    ("s1", "south", "S1", "branch"),
]
BRANCHES = ["n1", "n2", "s1"]


@dataclass
class World:
    customers: pd.DataFrame
    transactions: pd.DataFrame
    contacts: pd.DataFrame
    responses: pd.DataFrame
    subscriptions: pd.DataFrame


def simulate(n: int = 1500, seed: int = 11) -> World:
    rng = np.random.default_rng(seed)
    end_day = (pd.Timestamp(END) - START).days
    birth = rng.integers(0, 180, size=n)
    lam = rng.gamma(TRUE_BG["r"], 1.0 / TRUE_BG["alpha"], size=n) / 7.0  # per day
    drop = rng.beta(TRUE_BG["a"], TRUE_BG["b"], size=n)
    nu = rng.gamma(TRUE_GG["q"], 1.0 / TRUE_GG["v"], size=n)
    tx, contacts, responses, subs, customers = [], [], [], [], []
    for i in range(n):
        cid = f"c{i:05d}"
        unit = BRANCHES[i % 3]
        days = [int(birth[i])]
        clock = float(days[0])
        while True:  # BG/NBD: a customer may drop out after each *repeat* purchase
            clock += rng.exponential(1.0 / lam[i])
            if clock > end_day:
                break
            days.append(int(clock))
            if rng.random() < drop[i]:
                break
        churned_day = days[-1] + 30 if len(days) and days[-1] + 30 < end_day else None
        for k, day in enumerate(days):
            amount = float(rng.gamma(TRUE_GG["p"], 1.0 / nu[i]))
            tx.append(
                (
                    f"t{i}-{k}",
                    cid,
                    START + pd.Timedelta(days=day, hours=int(rng.integers(8, 20))),
                    amount,
                    0.3 * amount,
                    unit,
                    ["cards", "loans", "savings"][int(rng.integers(0, 3 if k else 2))],
                )
            )
        for k in range(int(rng.poisson(1.5))):
            day = int(rng.integers(birth[i], end_day))
            contacts.append(
                (
                    f"k{i}-{k}",
                    cid,
                    START + pd.Timedelta(days=day),
                    "phone",
                    "query",
                    float(rng.uniform(2, 20)),
                    unit,
                    True,
                )
            )
        # experience follows the dropout propensity: loyal customers rate higher
        nps = int(np.clip(np.round(10.5 - 14 * drop[i] + rng.normal(0, 1.5)), 0, 10))
        rday = min(int(birth[i]) + int(rng.integers(0, 60)), end_day)
        responses.append(
            (
                f"r{i}",
                START + pd.Timedelta(days=rday),
                unit,
                cid,
                "s",
                "branch",
                "web",
                "retail",
                float(nps),
                None,
                None,
                None,
            )
        )
        if i % 2 == 0:
            ended = None if churned_day is None else START + pd.Timedelta(days=churned_day)
            subs.append((f"s{i}", cid, "basic", START + pd.Timedelta(days=int(birth[i])), ended, 9.0, unit))
        customers.append(
            (
                cid,
                unit,
                "premium" if i % 5 == 0 else "retail",
                START + pd.Timedelta(days=int(birth[i])),
                float(rng.uniform(20, 80)),
            )
        )
    return World(
        customers=pd.DataFrame(
            customers, columns=["customer_id", "unit_id", "segment", "acquired_at", "acquisition_cost"]
        ),
        transactions=pd.DataFrame(
            tx,
            columns=[
                "transaction_id",
                "customer_id",
                "occurred_at",
                "amount",
                "margin",
                "unit_id",
                "category",
            ],
        ),
        contacts=pd.DataFrame(
            contacts,
            columns=[
                "contact_id",
                "customer_id",
                "occurred_at",
                "channel",
                "reason",
                "cost",
                "unit_id",
                "resolved",
            ],
        ),
        responses=pd.DataFrame(
            responses,
            columns=list(RESPONSES.schema.names),
        ).astype({"csat": "float64", "ces": "float64", "comment": "string"}),
        subscriptions=pd.DataFrame(
            subs,
            columns=[
                "subscription_id",
                "customer_id",
                "plan",
                "started_at",
                "ended_at",
                "monthly_fee",
                "unit_id",
            ],
        ),
    )


TRUE_SBG = {"alpha": 0.7, "beta": 3.5}


def sbg_world(n: int = 3000, seed: int = 17):
    """Subscribers with churn probability ~ Beta(alpha, beta) per month and geometric lifetimes."""
    rng = np.random.default_rng(seed)
    world = simulate(n=0)
    month = pd.Timedelta(days=30.4375)
    start = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 3 * 365, n), unit="D")
    theta = rng.beta(TRUE_SBG["alpha"], TRUE_SBG["beta"], n)
    lifetime = np.minimum(rng.geometric(theta), 240)  # cancels at the end of period `lifetime` (capped:
    # 240 months lie beyond the data, so the cap changes nothing observed)
    ended = start + lifetime * month - pd.Timedelta(hours=1)
    ids = [f"c{i:05d}" for i in range(n)]
    world.customers = pd.DataFrame(
        {
            "customer_id": ids,
            "unit_id": [("n1", "n2", "s1")[i % 3] for i in range(n)],
            "segment": "retail",
            "acquired_at": start,
            "acquisition_cost": 10.0,
        }
    )
    world.subscriptions = pd.DataFrame(
        {
            "subscription_id": [f"s{i}" for i in range(n)],
            "customer_id": ids,
            "plan": "basic",
            "started_at": start,
            "ended_at": ended.where(ended <= pd.Timestamp("2024-06-30 23:00")),
            "monthly_fee": 10.0,
            "unit_id": world.customers.unit_id,
        }
    )
    return world


def install(settings: Settings, world: World) -> None:
    """Write the org to the app database and the world to the warehouse of ``settings``."""
    url = settings.resolved_database_url
    migrate.upgrade(url)
    engine = engine_for(settings)
    try:
        with session_scope(engine) as session:
            upsert_units(
                session, [UnitRecord(unit_id=u, parent_id=p, name=nm, level=lv) for u, p, nm, lv in UNITS]
            )
    finally:
        engine.dispose()
    con = connect(settings)
    ensure_tables(con)
    ids, parents, names, levels = zip(*UNITS, strict=True)
    write_hierarchy(con, build_hierarchy(ids, parents, names, levels))
    for name in ("customers", "transactions", "contacts", "responses", "subscriptions"):
        con.insert(name, getattr(world, name))
    con.disconnect()
