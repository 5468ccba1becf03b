"""A failing check blocks `credits close`, names the check, and leaves the period open.

The broken fixture: after January is closed, one of its frozen figures is altered, so
recomputing January no longer reproduces what its close froze.
"""

import datetime as dt

import duckdb
import pytest

from credits_warehouse.sample_data.generate import generate
from dagster_project.cli import main

pytestmark = pytest.mark.commands  # two whole `credits close` commands


@pytest.fixture(scope="module")
def tampered(tmp_path_factory):
    root = tmp_path_factory.mktemp("refuse")
    summary = generate(root, customers=4, events=1_500, start=dt.date(2026, 1, 1), months=2, seed=5)
    flags = [
        "--landing", str(summary.landing), "--catalog", str(summary.catalog),
        "--warehouse", str(root / "warehouse.duckdb"), "--reports", str(root / "reports"),
        "--as-of", "2026-03-01T00:00:00",
    ]  # fmt: skip
    assert main(["close", "2026-01", *flags]) == 0
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    con.execute("update raw.frozen_figures set value = value + 1 where figure = 'ledger:usage'")
    con.close()
    return root, flags


def test_a_failing_check_refuses_the_close_naming_it(tampered, capsys):
    root, flags = tampered
    assert main(["close", "2026-02", *flags]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("credits close:")
    assert "assert_closed_periods_reproduce_frozen_figures" in err

    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("select max(period) from raw.period_closes").fetchall() == [("2026-01",)]
    finally:
        con.close()
    assert not list((root / "reports").glob("2026-02/**/*.pdf"))
