"""The money rules are written twice, once per language: dbt/macros/money.sql for SQL and
credits_warehouse/money.py for Python. These tests render the macros with plain Jinja, run
them in DuckDB, and hold them to the Python answers, negatives included (a refund or a
credit note divides a negative amount). tests/dbt/test_spark_cross_engine.py runs their
Spark bodies on edge values."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import duckdb
import jinja2
from hypothesis import given, settings
from hypothesis import strategies as st

from credits_warehouse.money import money_share, round_half_even
from dagster_project.resources import DBT_PROJECT_DIR

MACROS = "".join(
    (DBT_PROJECT_DIR / "macros" / name).read_text(encoding="utf-8")
    for name in ("money.sql", "types.sql")
)


class _Adapter:
    """dbt's `adapter.dispatch` for plain Jinja: `engine__name`, else `default__name`."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.macros = None

    def dispatch(self, name: str, namespace: str | None = None):
        def call(*args):
            found = getattr(self.macros, f"{self.engine}__{name}", None)
            return (found or getattr(self.macros, f"default__{name}"))(*args)

        return call


def render_money_sql(call: str, engine: str = "default") -> str:
    """The SQL a money.sql / types.sql macro call renders to on an engine (`default` is
    DuckDB, or `spark`); they need nothing from dbt but dispatch and return."""
    adapter = _Adapter(engine)
    env = jinja2.Environment()
    env.globals.update({"adapter": adapter, "return": lambda value: value})
    adapter.macros = env.from_string(MACROS).module
    return env.from_string(MACROS + "{{ " + call + " }}").render().strip()


def _sql(call: str) -> str:
    """The SQL a macro call renders to on DuckDB."""
    return render_money_sql(call)


def _sql_round(numer: int, denom: int) -> int:
    expression = _sql(
        f"round_half_even_div('cast({numer} as hugeint)', 'cast({denom} as hugeint)')"
    )
    return int(duckdb.sql(f"select {expression}").fetchall()[0][0])  # noqa: S608 - integers only


def test_round_half_even_div_by_hand():
    # ties go to the even neighbour on both sides of zero
    cases = {(7, 2): 4, (5, 2): 2, (-7, 2): -4, (-5, 2): -2, (-1, 2): 0, (1, 2): 0,
             (-3, 2): -2, (-10, 4): -2, (-11, 4): -3, (-9, 4): -2, (10, -4): -2, (7, -2): -4,
             (-7, -2): 4, (0, 5): 0, (-6, 3): -2}  # fmt: skip
    for (numer, denom), expected in cases.items():
        assert round_half_even(Fraction(numer, denom)) == expected, (numer, denom)
        assert _sql_round(numer, denom) == expected, (numer, denom)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    numer=st.integers(min_value=-(10**30), max_value=10**30),
    denom=st.integers(min_value=-(10**15), max_value=10**15).filter(bool),
)
def test_round_half_even_div_matches_python(numer, denom):
    assert _sql_round(numer, denom) == round_half_even(Fraction(numer, denom))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    amount=st.integers(min_value=-(10**9), max_value=10**9),
    credits=st.decimals(min_value=0, max_value=10**6, places=6),
    total=st.decimals(min_value=Decimal("0.000001"), max_value=10**6, places=6),
)
def test_money_share_matches_python(amount, credits, total):
    expression = _sql(
        f"money_share('{amount}', 'cast({credits} as decimal(38, 12))', "
        f"'cast({total} as decimal(38, 12))')"
    )
    got = duckdb.sql(f"select {expression}").fetchall()[0][0]  # noqa: S608 - numbers only
    assert got == money_share(amount, credits, total)
