"""pandera models of every layer, kept apart from the transforms that produce them.

Each model is what one warehouse table must look like: its columns with the exact polars
dtype DuckDB hands over (decimals as `pl.Decimal(38, s)`, JSON read as text), and the rules
docs/contract.md states about its rows. The boundaries, raw and marts, are strict: a column added,
dropped or retyped there fails its check until the model says so too. Staging and
intermediate models check the columns they declare and let others come and go.
`asset_checks.py` runs them all.

Rules that span columns are `row_rule`s: one SQL expression per rule, which pandera
evaluates with polars and the asset checks push down into DuckDB (`pushdown.py`), so a rule
is written once and means the same in both places.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

from credits_warehouse.entry_types import (  # noqa: F401 - ENTRIES_THAT_* read by tests
    ENTRIES_THAT_ADD,
    ENTRIES_THAT_TAKE,
    ENTRY_TYPES,
    SHORTFALLS,
    USAGE_ENTRIES,
)
from credits_warehouse.ingest import LANDING_TABLES
from credits_warehouse.ledger import AMENDMENT_OUTCOMES
from credits_warehouse.quarantine import QUARANTINE_REASONS
from credits_warehouse.sql import sql_list

# Dtypes as DuckDB hands them to polars.
Text = pl.String
Timestamp = pl.Datetime("us")
Date = pl.Date
Credits = pl.Decimal(38, 12)  # exact credits, 12 fractional digits (contract §4)
Units = pl.Decimal(38, 6)  # units and rates, 6 fractional digits
TaxRate = pl.Decimal(16, 6)
Money = pl.Int64  # integer minor units of a currency (contract §5)

PERIOD = r"^\d{4}-(0[1-9]|1[0-2])$"  # a billing period, YYYY-MM (contract §4)
CURRENCY = r"^[A-Z]{3}$"  # an ISO 4217 code
# A grant's scope (contract §8.1): catalog ids joined by "|", or empty for every aggregator.
APPLIES_TO_PATTERN = r"^([A-Za-z0-9_.\-]+(\|[A-Za-z0-9_.\-]+)*)?$"

GRANT_KINDS = (
    "plan_allowance", "purchase", "auto_topup", "rollover",
    "promotional", "compensation", "referral", "starting_balance", "adjustment",
)  # fmt: skip
GRANT_SOURCES = ("subscription", "purchase", "auto_topup", "rollover", "grants_feed")
# A grant's status as of the clock, in the order fct_grants tries them (contract §8.2).
GRANT_STATUSES = ("scheduled", "voided", "expired", "depleted", "active")
ALERT_TYPES = (
    "low_balance", "credits_expiring", "balance_depleted", "unfunded_usage", "usage_spike",
    "user_limit", "forecast_depletion",
)  # fmt: skip
INVOICE_TYPES = ("purchase", "subscription", "credit_note")
INVOICE_STATUSES = ("draft", "finalized")
INVOICE_NUMBER = r"^(INV|CN)-\d{4}-\d{6}$"  # contract §6.2
LINE_KINDS = ("credits", "fee", "overage", "refund")
ACCOUNTS = (
    "cash", "receivable", "deferred_revenue", "usage_revenue", "breakage_revenue",
    "overage_revenue", "tax_payable", "refunds",
)  # fmt: skip
JOURNAL_SOURCES = (
    "purchase", "subscription", "credit_note", "revenue_recognition", "breakage_estimate", "breakage",
)  # fmt: skip


def period(**kwargs) -> pa.Field:
    """A billing period column, YYYY-MM."""
    return pa.Field(str_matches=PERIOD, **kwargs)


def currency(**kwargs) -> pa.Field:
    """A currency column: three upper-case letters."""
    return pa.Field(str_matches=CURRENCY, **kwargs)


ROW_RULE_SQL = "__row_rule_sql__"


def row_rule(rule: Callable[[Any], str]) -> classmethod:
    """A pandera dataframe check from a method that returns a SQL predicate on one row.

    The predicate holds for a good row; a row where it is null (cannot be judged) fails.
    pandera evaluates it with `pl.sql_expr`; DuckDB evaluates the same text, kept on the
    check under ROW_RULE_SQL, so a rule may use only SQL both understand. The method is
    called once, without a class, when the model is defined.
    """
    sql = rule(None)

    def check(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.sql_expr(sql).fill_null(False))

    check.__name__, check.__qualname__, check.__doc__ = (
        rule.__name__,
        rule.__qualname__,
        rule.__doc__,
    )
    method = pa.dataframe_check(check)
    setattr(method, ROW_RULE_SQL, sql)
    return method


class _Strict(pa.DataFrameModel):
    """The boundaries, raw and marts: exactly these columns with exactly these dtypes."""

    class Config:
        strict = True


class _Open(pa.DataFrameModel):
    """Staging and intermediate: these columns and dtypes, and others may come and go."""

    class Config:
        strict = False


# --- raw: one landed row per input row, whatever the feed ------------------------------


class LandedRows(_Strict):
    """A landed row of any feed: where it came from, when, and its payload kept whole
    (contract §2)."""

    load_batch_id: Text = pa.Field(str_length={"min_value": 1})
    batch_seq: pl.Int32 = pa.Field(ge=1)
    source_file: Text = pa.Field(str_length={"min_value": 1})
    line_number: pl.Int64 = pa.Field(ge=1)
    raw_payload: Text = pa.Field(nullable=True)
    ingested_at: Timestamp


class RawEventRows(LandedRows):
    """raw.events: landed usage events."""


class RawCustomerRows(LandedRows):
    """raw.customers: landed customer rows."""


class RawSubscriptionRows(LandedRows):
    """raw.subscriptions: landed subscription rows."""


class RawPurchaseRows(LandedRows):
    """raw.purchases: landed purchase rows."""


class RawGrantRows(LandedRows):
    """raw.grants: landed rows of the grants feed."""


class RawVoidRows(LandedRows):
    """raw.voids: landed event voids."""


class RawRefundRows(LandedRows):
    """raw.refunds: landed purchase refunds."""


class RawGrantAmendmentRows(LandedRows):
    """raw.grant_amendments: landed grant amendments (voids and new expiries)."""


class RawAutoTopupRows(LandedRows):
    """raw.auto_topups: landed auto top-up settings."""


# --- staging: rename and cast only, so only shapes are checked --------------------------


class _StagedRowOrigin(_Open):
    """Where a staged row landed, nullable as a view's columns are."""

    load_batch_id: Text
    batch_seq: pl.Int32 = pa.Field(ge=1)
    source_file: Text
    line_number: pl.Int64 = pa.Field(ge=1)
    ingested_at: Timestamp
    is_object: pl.Boolean


class _StagedRows(_StagedRowOrigin):
    """The landing columns every staged reference feed keeps: its origin and its payload."""

    raw_payload: Text = pa.Field(nullable=True)


class StagedEvents(_StagedRowOrigin):
    """stg_landing__events: each landed event's fields parsed out, null where they do not
    parse; the payload stays in raw.events."""

    event_row_id: pl.Int64 = pa.Field(ge=0)
    event_id: Text = pa.Field(nullable=True)
    idempotency_key: Text = pa.Field(nullable=True)
    customer_ref: Text = pa.Field(nullable=True)
    event_type: Text = pa.Field(nullable=True)
    # Only where a verdict reads it again: unparsed, or part of the content key.
    event_timestamp_text: Text = pa.Field(nullable=True)
    event_at: Timestamp = pa.Field(nullable=True)
    properties_type: Text = pa.Field(nullable=True)
    properties: Text = pa.Field(nullable=True)


class StagedCustomers(_StagedRows):
    """stg_landing__customers: each landed customer row's fields, null where they do not parse."""

    customer_id: Text = pa.Field(nullable=True)
    external_id: Text = pa.Field(nullable=True)
    customer_name: Text = pa.Field(nullable=True)
    email: Text = pa.Field(nullable=True)
    address: Text = pa.Field(nullable=True)
    country: Text = pa.Field(nullable=True)
    currency: Text = pa.Field(nullable=True)
    tax_rate_text: Text = pa.Field(nullable=True)
    tax_rate: pl.Decimal(9, 6) = pa.Field(nullable=True)
    created_at: Timestamp = pa.Field(nullable=True)


# --- marts (and the intermediates that share their shape) -------------------------------


class RatedEvents(_Strict):
    """fct_rated_events: one accepted billable event × aggregator, exact and non-negative."""

    event_id: Text
    dedup_key: Text
    customer_id: Text
    event_at: Timestamp
    ingested_at: Timestamp
    period: Text = period()
    aggregator_id: Text
    credit_product_id: Text
    units: Units = pa.Field(ge=0)
    credits_per_unit: Units = pa.Field(ge=0)
    credits: Credits = pa.Field(ge=0)
    is_late: pl.Boolean
    booked_at: Timestamp
    dimensions: Text  # a JSON object, {} when the aggregator keeps none

    @row_rule
    def credits_are_units_times_rate(cls) -> str:
        """credits = units × credits_per_unit exactly: the rating rule of contract §4."""
        return "credits = units * credits_per_unit"

    @row_rule
    def late_events_are_booked_later(cls) -> str:
        """An on-time event is booked when it happened; a late one afterwards (contract §4)."""
        return "case when is_late then booked_at > event_at else booked_at = event_at end"


class DimCustomers(_Strict):
    """dim_customers: one row per customer with plan, currency, tax rate and current balance."""

    customer_id: Text = pa.Field(unique=True)
    external_id: Text = pa.Field(nullable=True)
    customer_name: Text = pa.Field(nullable=True)
    email: Text = pa.Field(nullable=True)
    address: Text = pa.Field(nullable=True)
    country: Text = pa.Field(nullable=True)
    currency: Text = currency()
    tax_rate: TaxRate = pa.Field(ge=0, lt=1)
    created_at: Timestamp = pa.Field(nullable=True)
    plan_id: Text = pa.Field(nullable=True)
    current_balance: Credits
    credits_consumed_28d: Credits = pa.Field(ge=0)
    projected_depletion_date: Date = pa.Field(nullable=True)
    next_grant_at: Timestamp = pa.Field(nullable=True)


class EventQuarantine(_Strict):
    """fct_event_quarantine: every rejected input row, kept whole with file, line and reason."""

    feed: Text = pa.Field(isin=LANDING_TABLES)
    source_file: Text = pa.Field(str_length={"min_value": 1})
    line_number: pl.Int64 = pa.Field(ge=1)
    raw_payload: Text = pa.Field(nullable=True)
    reason: Text = pa.Field(isin=QUARANTINE_REASONS)
    ingested_at: Timestamp
    load_batch_id: Text


class Grants(_Strict):
    """fct_grants: one row per grant, with what became of its credits (contract §4)."""

    grant_id: Text = pa.Field(unique=True)
    customer_id: Text
    kind: Text = pa.Field(isin=GRANT_KINDS)
    credits: Credits
    effective_at: Timestamp
    expires_at: Timestamp = pa.Field(nullable=True)
    priority: pl.Int32
    cost_basis_per_credit: Credits = pa.Field(ge=0)
    currency: Text = currency(nullable=True)
    paid_amount: Money = pa.Field(ge=0, nullable=True)
    source_type: Text = pa.Field(isin=GRANT_SOURCES)
    source_id: Text
    applies_to: Text = pa.Field(str_matches=APPLIES_TO_PATTERN)
    credits_consumed: Credits = pa.Field(ge=0)
    credits_expired: Credits = pa.Field(ge=0)
    credits_refunded: Credits = pa.Field(ge=0)
    credits_rolled_over: Credits = pa.Field(ge=0)
    credits_voided: Credits = pa.Field(ge=0)
    credits_remaining: Credits = pa.Field(ge=0)
    status: Text = pa.Field(isin=GRANT_STATUSES)
    voided_at: Timestamp = pa.Field(nullable=True)

    @row_rule
    def only_adjustments_take_credits(cls) -> str:
        """Credits are positive except for an adjustment, which may remove some (contract §2.2)."""
        return "credits > 0 or kind = 'adjustment'"

    @row_rule
    def credits_are_accounted_for(cls) -> str:
        """consumed + expired + voided + refunded + rolled over + remaining = credits, for a
        real grant (contract §8.3)."""
        return (
            "credits <= 0 or credits = credits_consumed + credits_expired + credits_voided"
            " + credits_refunded + credits_rolled_over + credits_remaining"
        )

    @row_rule
    def expiry_follows_effect(cls) -> str:
        """A grant expires after it takes effect, or never."""
        return "expires_at is null or expires_at > effective_at"

    @row_rule
    def scheduled_grants_are_untouched(cls) -> str:
        """A scheduled grant has consumed nothing and still holds all its credits
        (contract §8.2)."""
        return (
            "status <> 'scheduled' or credits <= 0 or (credits_remaining = credits"
            " and credits_consumed = 0 and credits_expired = 0 and credits_refunded = 0"
            " and credits_rolled_over = 0)"
        )

    @row_rule
    def depleted_grants_hold_nothing(cls) -> str:
        """Depleted means nothing left; an active grant holds something."""
        return (
            "case when status = 'depleted' then credits_remaining = 0"
            " when status = 'active' then credits_remaining > 0 else true end"
        )


class GrantAmendments(_Strict):
    """fct_grant_amendments: every grant amendment that landed, with who made it and why and
    its verdict (contract §8.3)."""

    amendment_id: Text = pa.Field(nullable=True)
    grant_id: Text = pa.Field(nullable=True)
    customer_id: Text = pa.Field(nullable=True)
    action: Text = pa.Field(nullable=True)
    effective_at: Timestamp = pa.Field(nullable=True)
    new_expires_at: Timestamp = pa.Field(nullable=True)
    reason: Text = pa.Field(nullable=True)
    created_by: Text = pa.Field(nullable=True)
    verdict: Text = pa.Field(isin=AMENDMENT_OUTCOMES + QUARANTINE_REASONS)
    grant_expires_at: Timestamp = pa.Field(nullable=True)
    credits_voided: Credits = pa.Field(ge=0, nullable=True)
    source_file: Text = pa.Field(str_length={"min_value": 1})
    line_number: pl.Int64 = pa.Field(ge=1)
    ingested_at: Timestamp
    load_batch_id: Text

    @row_rule
    def only_applied_amendments_have_effects(cls) -> str:
        """A new expiry for an applied set_expiry, voided credits for an applied void; nothing
        for any other."""
        return (
            "(grant_expires_at is null or (verdict = 'applied' and action = 'set_expiry'))"
            " and (credits_voided is null or (verdict = 'applied' and action = 'void'))"
        )


class _SignedEntries(pa.DataFrameModel):
    """Ledger entries, whose credits are signed by their type (contract §4: + adds to the
    balance)."""

    @row_rule
    def credits_signed_by_entry_type(cls) -> str:
        """Grants, repaid shortfalls, settlements, write-offs and voids add; the rest take."""
        adds = sql_list(ENTRIES_THAT_ADD)
        return f"case when entry_type in {adds} then credits >= 0 else credits <= 0 end"


class CreditLedger(_SignedEntries):
    """fct_credit_ledger: every signed credit movement and the running balance after it."""

    class Config:
        strict = True

    entry_id: Text = pa.Field(unique=True, str_matches=r"^.+:\d{9}$")
    customer_id: Text
    entry_seq: pl.Int64 = pa.Field(ge=1)
    entry_at: Timestamp
    period: Text = period()
    entry_type: Text = pa.Field(isin=ENTRY_TYPES)
    grant_id: Text = pa.Field(nullable=True)
    aggregator_id: Text = pa.Field(nullable=True)
    usage_date: pl.Date
    credits: Credits
    balance_after: Credits

    @row_rule
    def usage_names_its_aggregator(cls) -> str:
        """Usage and overage rows name their aggregator, and no row but a shortfall does; an
        unfunded row may lack one, as a negative adjustment's shortfall has none (contract §6.1)."""
        return (
            f"case when entry_type in {sql_list(('usage', 'overage'))}"
            " then aggregator_id is not null"
            f" when entry_type in {sql_list(USAGE_ENTRIES)} then true"
            " else aggregator_id is null end"
        )

    @row_rule
    def shortfalls_draw_on_no_grant(cls) -> str:
        """Overage and unfunded debits have no grant; usage, grants, expiries, repayments have one."""
        with_grant = sql_list(("usage", "grant", "expiry", "repayment"))
        return (
            f"case when entry_type in {sql_list(SHORTFALLS)} then grant_id is null"
            f" when entry_type in {with_grant} then grant_id is not null else true end"
        )


class BalancesDaily(_Strict):
    """fct_balances_daily: each customer's balance day by day, which rolls forward exactly."""

    customer_id: Text
    balance_date: pl.Date
    opening_credits: Credits
    granted_credits: Credits = pa.Field(ge=0)
    # Net of voids, as the statement counts it: a day whose voids give back more than its
    # usage took is negative.
    consumed_credits: Credits
    expired_credits: Credits = pa.Field(ge=0)
    other_credits: Credits
    closing_credits: Credits

    @row_rule
    def balance_rolls_forward(cls) -> str:
        """opening + granted - consumed - expired + other = closing."""
        return (
            "opening_credits + granted_credits - consumed_credits - expired_credits"
            " + other_credits = closing_credits"
        )


class BalancesOverTime(_Strict):
    """fct_balances_over_time: each customer's balance from each instant it changed until
    the next change."""

    customer_id: Text
    valid_from: Timestamp
    valid_to: Timestamp = pa.Field(nullable=True)
    balance: Credits

    @row_rule
    def holds_until_the_next_change(cls) -> str:
        """A balance holds from its instant until a later one, or to the end."""
        return "valid_to is null or valid_to > valid_from"


class GrantBalancesOverTime(_Strict):
    """fct_grant_balances_over_time: what each grant holds from each instant an entry moved
    it until the next; never less than nothing."""

    grant_id: Text
    customer_id: Text
    valid_from: Timestamp
    valid_to: Timestamp = pa.Field(nullable=True)
    credits_remaining: Credits = pa.Field(ge=0)

    @row_rule
    def holds_until_the_next_change(cls) -> str:
        """What a grant holds lasts from its instant until a later one, or to the end."""
        return "valid_to is null or valid_to > valid_from"


class MonthlyUsage(_Strict):
    """fct_monthly_usage: events, units and credits per customer, period, aggregator, dimensions."""

    customer_id: Text
    period: Text = period()
    aggregator_id: Text
    dimensions: Text  # a JSON object
    events: pl.Int64 = pa.Field(ge=1)
    units: Units = pa.Field(ge=0)
    credits: Credits = pa.Field(ge=0)


class MonthlyUsageByDimension(_Strict):
    """fct_monthly_usage_by_dimension: the same, per configured dimension value on its own."""

    customer_id: Text
    period: Text = period()
    aggregator_id: Text
    dimension_name: Text
    dimension_value: Text = pa.Field(nullable=True)
    events: pl.Int64 = pa.Field(ge=1)
    units: Units = pa.Field(ge=0)
    credits: Credits = pa.Field(ge=0)


class DeferredRevenue(_Strict):
    """fct_deferred_revenue: the roll-forward per customer, period and currency, in minor units."""

    customer_id: Text
    period: Text = period()
    currency: Text = currency()
    opening_deferred: Money = pa.Field(ge=0)
    purchased: Money = pa.Field(ge=0)
    # A period's recognition, breakage and refund may be negative: a void reverses
    # revenue in its own period, and cumulative rounding moves a cent between buckets.
    recognized_usage: Money
    recognized_breakage: Money
    refunded: Money
    closing_deferred: Money = pa.Field(ge=0)
    breakage_estimate: Money
    breakage_true_up: Money

    @row_rule
    def deferred_rolls_forward(cls) -> str:
        """opening + purchased - recognized usage - breakage - refunded = closing (contract §5)."""
        return (
            "opening_deferred + purchased - recognized_usage - recognized_breakage - refunded"
            " = closing_deferred"
        )

    @row_rule
    def breakage_is_estimate_plus_true_up(cls) -> str:
        """recognized_breakage = breakage_estimate + breakage_true_up (docs/ledger.md "Breakage")."""
        return "recognized_breakage = breakage_estimate + breakage_true_up"


class JournalEntries(_Strict):
    """fct_journal_entries: double-entry postings in minor units. That every journal balances
    is a check across rows, dbt's assert_journals_balance (docs/checks.md)."""

    journal_id: Text
    posted_at: Timestamp
    period: Text = period()
    customer_id: Text
    account: Text = pa.Field(isin=ACCOUNTS)
    debit: Money = pa.Field(ge=0)
    credit: Money = pa.Field(ge=0)
    currency: Text = currency()
    source_type: Text = pa.Field(isin=JOURNAL_SOURCES)
    source_id: Text

    @row_rule
    def one_side_per_posting(cls) -> str:
        """Each posting is a debit or a credit, never both, never nothing."""
        return "(debit > 0) <> (credit > 0)"


class Invoices(_Strict):
    """fct_invoices: one row per invoice or credit note; numbered once finalized (contract §6.2)."""

    invoice_id: Text = pa.Field(unique=True)
    invoice_number: Text = pa.Field(nullable=True, str_matches=INVOICE_NUMBER)
    customer_id: Text
    invoice_type: Text = pa.Field(isin=INVOICE_TYPES)
    period: Text = period()
    issued_at: Timestamp
    currency: Text = currency()
    subtotal: Money = pa.Field(ge=0)
    tax_rate: TaxRate = pa.Field(ge=0, lt=1)
    tax: Money = pa.Field(ge=0)
    total: Money = pa.Field(ge=0)
    status: Text = pa.Field(isin=INVOICE_STATUSES)

    @row_rule
    def total_is_subtotal_plus_tax(cls) -> str:
        """total = subtotal + tax (contract §5)."""
        return "total = subtotal + tax"

    @row_rule
    def numbered_once_finalized(cls) -> str:
        """invoice_number is null while draft and set once finalized (contract §6.1)."""
        return "(invoice_number is null) = (status = 'draft')"

    @row_rule
    def credit_notes_in_their_series(cls) -> str:
        """Credit notes are numbered CN-…, everything else INV-… (contract §6.2)."""
        series = "case when invoice_type = 'credit_note' then 'CN-' else 'INV-' end"
        return f"invoice_number is null or starts_with(invoice_number, {series})"


class InvoiceLines(_Strict):
    """fct_invoice_lines: one row per invoice line; amount = quantity × unit amount."""

    invoice_id: Text
    line_number: pl.Int64 = pa.Field(ge=1)
    description: Text = pa.Field(str_length={"min_value": 1})
    line_kind: Text = pa.Field(isin=LINE_KINDS)
    quantity: pl.Int32 = pa.Field(ge=1)
    unit_amount: Money = pa.Field(ge=0)
    amount: Money = pa.Field(ge=0)

    @row_rule
    def amount_is_quantity_times_unit(cls) -> str:
        """amount = quantity × unit_amount, in minor units."""
        return "amount = quantity * unit_amount"


class PromotionalUsage(_Strict):
    """fct_promotional_usage: consumption of zero-cost credits, valued at list price
    (contract §5)."""

    customer_id: Text
    period: Text = period()
    kind: Text = pa.Field(isin=GRANT_KINDS)
    currency: Text = currency()
    # Net of voids: a period where voids give back more than is consumed goes negative.
    credits_consumed: Credits
    list_value: Money = pa.Field(nullable=True)  # null when no bundle is priced in the currency


class Alerts(_Strict):
    """fct_alerts: one row per customer notification, with a stable id for the outbox."""

    alert_id: Text = pa.Field(unique=True, str_matches=r"^[0-9a-f]{32}$")
    customer_id: Text
    alert_type: Text = pa.Field(isin=ALERT_TYPES)
    triggered_at: Timestamp
    details: Text  # a JSON object


# --- reporting: what each document shows ------------------------------------------------

STATEMENT_SECTIONS = (
    "usage", "top_user", "grant", "coming", "topup", "expiration", "daily_balance", "invoice",
)  # fmt: skip


class _DocumentCustomer(_Strict):
    customer_id: Text
    customer_name: Text = pa.Field(str_length={"min_value": 1})
    customer_email: Text
    customer_address: Text
    customer_country: Text


class Statements(_DocumentCustomer):
    """rpt_statements: one row per customer and period, every figure on the statement."""

    period: Text = period()
    period_start: Timestamp
    period_end: Timestamp
    currency: Text = currency()
    opening_balance: Credits
    granted: Credits = pa.Field(ge=0)
    consumed: Credits
    expired: Credits = pa.Field(ge=0)
    refunded: Credits = pa.Field(ge=0)
    settled: Credits = pa.Field(ge=0)
    closing_balance: Credits
    voided: Credits = pa.Field(ge=0)
    late_usage: Credits
    expiring_30: Credits
    expiring_60: Credits
    expiring_90: Credits
    projected_depletion_date: Date = pa.Field(nullable=True)

    @row_rule
    def period_runs_forward(cls) -> str:
        """The period starts before it ends."""
        return "period_start < period_end"

    @row_rule
    def windows_nest(cls) -> str:
        """What expires within 30 days also expires within 60, and within 90."""
        return "expiring_30 <= expiring_60 and expiring_60 <= expiring_90"


class StatementLines(_Strict):
    """rpt_statement_lines: the statement's lists, one row per line, numbered per section."""

    customer_id: Text
    period: Text = period()
    section: Text = pa.Field(isin=STATEMENT_SECTIONS)
    line_number: pl.Int64 = pa.Field(ge=1)
    item_id: Text = pa.Field(nullable=True)
    label: Text = pa.Field(nullable=True)
    kind: Text = pa.Field(nullable=True)
    occurred_at: Timestamp = pa.Field(nullable=True)
    expires_at: Timestamp = pa.Field(nullable=True)
    events: pl.Int64 = pa.Field(nullable=True, ge=0)
    units: Units = pa.Field(nullable=True)
    credits: Credits = pa.Field(nullable=True)
    amount: Money = pa.Field(nullable=True, ge=0)
    currency: Text = currency(nullable=True)

    @row_rule
    def named_unless_a_balance_day(cls) -> str:
        """Every line but a balance day names what it is about, readably."""
        return "(section = 'daily_balance') = (label is null)"

    @row_rule
    def dated_unless_usage(cls) -> str:
        """Every line but a period's usage total (per aggregator or per user) happens at an
        instant."""
        return "(section in ('usage', 'top_user')) = (occurred_at is null)"

    @row_rule
    def money_only_on_invoices(cls) -> str:
        """Only invoice lines carry an amount and a currency; every other line carries credits."""
        return (
            "(section = 'invoice') = (amount is not null)"
            " and (section = 'invoice') = (credits is null)"
        )


class ReportedInvoices(Invoices, _DocumentCustomer):
    """rpt_invoices: each invoice or credit note as its PDF shows it: fct_invoices' columns and
    rules, with the due date and the customer as printed."""

    due_at: Timestamp
    customer_currency: Text = pa.Field(str_matches=CURRENCY)

    @row_rule
    def due_after_issue(cls) -> str:
        """Payment is due on or after the issue date."""
        return "due_at >= issued_at"


class ReportedInvoiceLines(_Strict):
    """rpt_invoice_lines: each line's words as a template the renderer fills in the locale."""

    invoice_id: Text
    line_number: pl.Int64 = pa.Field(ge=1)
    line_kind: Text = pa.Field(isin=LINE_KINDS)
    description: Text = pa.Field(str_length={"min_value": 1})
    description_template: Text = pa.Field(str_length={"min_value": 1})
    description_quantity: pl.Decimal(38, 3) = pa.Field(nullable=True)
    quantity: pl.Int32 = pa.Field(ge=1)
    unit_amount: Money = pa.Field(ge=0)
    amount: Money = pa.Field(ge=0)

    @row_rule
    def a_quantity_fills_its_slot(cls) -> str:
        """A template has a {quantity} slot exactly when the line has a quantity to fill it."""
        return "(description_template like '%{quantity}%') = (description_quantity is not null)"


# --- intermediate: the models the ledger and revenue are built from ---------------------


class EventsRated(RatedEvents):
    """int_events_rated: the rated events before the mart drops the row id and event type."""

    class Config:
        strict = False

    event_row_id: pl.Int64 = pa.Field(ge=0)
    event_type: Text


class UsageAllocatedToGrants(_Open):
    """int_usage_allocated_to_grants: each debit's exact, positive share of a grant or shortfall."""

    customer_id: Text
    event_id: Text
    dedup_key: Text
    aggregator_id: Text
    booked_at: Timestamp
    grant_id: Text = pa.Field(nullable=True)
    entry_type: Text = pa.Field(isin=USAGE_ENTRIES)
    span_seq: pl.Int64
    credits: Credits = pa.Field(gt=0)

    @row_rule
    def shortfalls_draw_on_no_grant(cls) -> str:
        """A share is of a grant (usage) or of no grant (overage, unfunded) (contract §4)."""
        return "(entry_type = 'usage') = (grant_id is not null)"


class LedgerEntriesOrdered(_SignedEntries):
    """int_ledger_entries_ordered: every ledger entry, numbered in entry order per customer."""

    customer_id: Text
    entry_at: Timestamp
    entry_rank: pl.Int32 = pa.Field(in_range={"min_value": 1, "max_value": 5})
    entry_seq: pl.Int64
    period: Text = period()
    entry_type: Text = pa.Field(isin=ENTRY_TYPES)
    grant_id: Text = pa.Field(nullable=True)
    aggregator_id: Text = pa.Field(nullable=True)
    usage_date: pl.Date
    credits: Credits
    entry_number: pl.Int64 = pa.Field(ge=1)


class RevenueByGrantPeriod(_Open):
    """int_revenue_by_grant_period: each paid grant's revenue per period, rounded cumulatively."""

    grant_id: Text
    customer_id: Text
    kind: Text = pa.Field(isin=GRANT_KINDS)
    currency: Text = currency()
    period: Text = period()
    amount_paid: Money = pa.Field(gt=0)
    total_credits: Credits = pa.Field(gt=0)
    consumed_to_date: Credits = pa.Field(ge=0)
    recognized_to_date: Money = pa.Field(ge=0)
    refunded_to_date: Money = pa.Field(ge=0)
    voided_to_date: Money = pa.Field(ge=0)
    breakage_to_date: Money = pa.Field(ge=0)
    # Under settings.breakage_policy proportional (docs/ledger.md "Breakage"); the true-up
    # may be negative: it takes back an estimate the grant's usage outran.
    breakage_estimate_to_date: Money = pa.Field(ge=0)
    breakage_true_up_to_date: Money
    deferred_to_date: Money = pa.Field(ge=0)
    purchased_amount: Money = pa.Field(ge=0)
    recognized_amount: Money
    refunded_amount: Money
    voided_amount: Money
    breakage_amount: Money
    breakage_estimate_amount: Money
    breakage_true_up_amount: Money
    opening_deferred_amount: Money = pa.Field(ge=0)
    closing_deferred_amount: Money = pa.Field(ge=0)

    @row_rule
    def amount_paid_is_accounted_for(cls) -> str:
        """amount_paid = recognized + refunded + voided + breakage + still deferred, exactly
        (contract §5, §8.3)."""
        return (
            "amount_paid = recognized_to_date + refunded_to_date + voided_to_date"
            " + breakage_to_date + deferred_to_date"
        )

    @row_rule
    def breakage_is_estimate_plus_true_up(cls) -> str:
        """breakage = its estimate + its true-up, to date and per period."""
        return (
            "breakage_to_date = breakage_estimate_to_date + breakage_true_up_to_date"
            " and breakage_amount = breakage_estimate_amount + breakage_true_up_amount"
        )

    @row_rule
    def deferred_rolls_forward(cls) -> str:
        """opening + purchased - recognized - refunded - voided - breakage = closing, per grant
        and period."""
        return (
            "opening_deferred_amount + purchased_amount - recognized_amount - refunded_amount"
            " - voided_amount - breakage_amount = closing_deferred_amount"
        )
