"""Issue 21: facts without a unit belong to the root. Transactions imported with a unit_id but no customers
file were invisible to everyone ("no transactions ... for the customers in your scope"), even an admin of the
whole organisation; a viewer lower down is told which file is missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cxloop.config import Settings
from cxloop.services.access.scope import Role, Viewer
from cxloop.services.listen.imports import import_file
from cxloop.services.stores import open_stores
from cxloop.services.value.clv import NoTransactionsError, fit_clv
from support.import_helpers import UNITS_CSV, table_rows


@pytest.fixture
def without_customers(settings: Settings, tmp_path: Path) -> Settings:
    units = tmp_path / "units.csv"
    units.write_text(UNITS_CSV, encoding="utf-8")
    import_file("units", units, settings=settings)
    rng = np.random.default_rng(21)
    lines = ["transaction_id,customer_id,occurred_at,amount,unit_id"]
    n = 0
    for customer in range(60):
        for _ in range(int(rng.integers(1, 6))):
            day = int(rng.integers(0, 360))
            lines.append(f"t{n},c{customer},2024-01-01T00:00:00Z,{10 + day % 50},b01")
            lines[-1] = lines[-1].replace("2024-01-01", f"2024-{1 + day // 31:02d}-{1 + day % 28:02d}")
            n += 1
    path = tmp_path / "transactions.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = import_file("transactions", path, settings=settings)
    assert summary.accepted == n and summary.customers_not_imported == n
    return settings


def test_an_admin_at_the_root_fits_clv_on_transactions_without_customers(without_customers: Settings) -> None:
    with open_stores(without_customers) as stores:
        fit = fit_clv(Viewer("bank", Role.admin), stores=stores, calibration_end="2024-09-30", penalizer=0.1)
    bought = {
        r[1] for r in table_rows(without_customers, "transactions") if r[2].date().isoformat() <= "2024-09-30"
    }
    assert fit.customers == len(bought) > 50  # every customer who bought, though none is placed in a unit


def test_a_branch_viewer_is_told_which_file_is_missing(without_customers: Settings) -> None:
    with open_stores(without_customers) as stores, pytest.raises(NoTransactionsError) as caught:
        fit_clv(Viewer("b01", Role.manager), stores=stores, calibration_end="2024-09-30")
    assert "customers file (its unit_id column)" in str(caught.value)
    assert "`cxloop import customers FILE`" in str(caught.value)
