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


@pytest.mark.parametrize(
    ("applies_to", "failing"),
    [("", 0), ("fast_tokens", 0), ("ai_credits", 0), ("pro_tokens|fast_tokens", 0),
     ("pro_tokens", 1), ("other_credits", 1)],
)  # fmt: skip
def test_usage_draws_only_on_grants_that_apply_to_it(applies_to, failing):
    # contract §8.1: a fast_tokens debit may draw on a grant with no scope, or one naming
    # fast_tokens or ai_credits (the product pricing it); not on one for pro tokens only.
    tables = {
        "fct_credit_ledger": "select 'c1:1' as entry_id, 'usage' as entry_type, "
        "'g1' as grant_id, 'fast_tokens' as aggregator_id",
        "fct_grants": f"select 'g1' as grant_id, '{applies_to}' as applies_to",  # noqa: S608
        "stg_catalog__rates": "select * from (values ('ai_credits', 'fast_tokens'), "
        "('ai_credits', 'pro_tokens')) as t(credit_product_id, aggregator_id)",
    }
    assert failing_rows("assert_usage_draws_only_on_applicable_grants", tables) == failing
