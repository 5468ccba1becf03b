"""The dbt tests that check across rows or models (docs/checks.md), run on small hand-made
tables: each catches the break it is there for, and passes the same tables unbroken. The
test's SQL is rendered with plain Jinja, `ref()` naming the hand-made table."""

from __future__ import annotations

import duckdb
import jinja2
import pytest

from dagster_project.resources import DBT_PROJECT_DIR


def failing_rows(test: str, tables: dict[str, str]) -> int:
    """How many rows the dbt test `test` returns over `tables` ({model: select})."""
    con = duckdb.connect()
    for model, select in tables.items():
        con.execute(f"create table {model} as {select}")  # noqa: S608 - fixed test text
    source = (DBT_PROJECT_DIR / "tests" / f"{test}.sql").read_text(encoding="utf-8")
    sql = (
        jinja2.Environment()
        .from_string(source)
        .render(ref=lambda name: name, config=lambda **_: "")
    )
    return len(con.execute(sql).fetchall())


JOURNAL = """
select * from (values
    ('j1', 'cash', 1200, 0), ('j1', 'deferred_revenue', 0, 1000), ('j1', 'tax_payable', 0, {tax})
) as t(journal_id, account, debit, credit)
"""


@pytest.mark.parametrize(("tax", "failing"), [(200, 0), (100, 1)])
def test_journals_balance(tax, failing):
    tables = {"fct_journal_entries": JOURNAL.format(tax=tax)}
    assert failing_rows("assert_journals_balance", tables) == failing


@pytest.mark.parametrize(("second_line", "failing"), [(400, 0), (401, 1)])
def test_an_invoice_subtotal_is_the_sum_of_its_lines(second_line, failing):
    tables = {
        "fct_invoices": "select 'i1' as invoice_id, 1000 as subtotal, 200 as tax, 1200 as total",
        "fct_invoice_lines": (
            f"select * from (values ('i1', 600), ('i1', {second_line})) as t(invoice_id, amount)"  # noqa: S608
        ),
    }
    assert failing_rows("assert_invoice_totals_add_up", tables) == failing


@pytest.mark.parametrize(("opening", "failing"), [(700, 0), (650, 1)])
def test_deferred_revenue_opens_where_it_closed(opening, failing):
    tables = {
        "fct_deferred_revenue": f"""
            select * from (values
                ('c1', 'USD', '2026-01', 0, 1000, 300, 0, 0, 700),
                ('c1', 'USD', '2026-02', {opening}, 0, 100, 0, 0, {opening - 100})
            ) as t(customer_id, currency, period, opening_deferred, purchased, recognized_usage,
                   recognized_breakage, refunded, closing_deferred)
        """  # noqa: S608 - integers of the test
    }
    assert failing_rows("assert_deferred_revenue_rolls_forward", tables) == failing
