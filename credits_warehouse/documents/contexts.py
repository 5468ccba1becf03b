"""What each document shows, typed: the contexts the templates render.

A statement is one row of `reporting.rpt_statements` with its rows of
`reporting.rpt_statement_lines`; an invoice or credit note is one row of
`reporting.rpt_invoices` with its rows of `reporting.rpt_invoice_lines`
(`credits_warehouse/statements.py` and `invoices.py` read them, one select each). The
templates read plain mappings, so a context becomes one through `template_context()`, the
same shape as the samples in `reports/sample_context.yaml`.

Credits are exact `Decimal`s and money integer minor units, as everywhere.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection
from decimal import Decimal
from typing import Any

from credits_warehouse.catalog import Seller

EXPIRING_WINDOWS_DAYS = (30, 60, 90)  # the rpt_statements columns expiring_30/60/90


def is_facturx_country(country: str | None, facturx_countries: Collection[str]) -> bool:
    """Whether a customer of this country (ISO 3166 alpha-2, as the customers feed has
    it) gets Factur-X invoices: it is in the catalog's settings.facturx_countries."""
    return (country or "").strip().upper() in facturx_countries


@dataclasses.dataclass(frozen=True)
class Party:
    """The seller, from the catalog: the same on every document."""

    name: str
    address: str
    country: str
    email: str
    tax_id: str
    payment_terms_days: int

    @classmethod
    def seller(cls, seller: Seller) -> Party:
        return cls(
            name=seller.name,
            address=seller.address,
            country=seller.country or "",
            email=seller.email,
            tax_id=seller.tax_id,
            payment_terms_days=seller.payment_terms_days,
        )


@dataclasses.dataclass(frozen=True)
class Customer:
    customer_id: str
    name: str
    email: str
    address: str
    country: str
    currency: str

    @classmethod
    def from_row(cls, row: dict, currency_column: str) -> Customer:
        """The customer of a reporting row (dbt macro customer_party_columns)."""
        return cls(
            customer_id=row["customer_id"],
            name=row["customer_name"],
            email=row["customer_email"],
            address=row["customer_address"],
            country=row["customer_country"],
            currency=row[currency_column],
        )


@dataclasses.dataclass(frozen=True)
class UsageLine:
    aggregator_id: str
    events: int
    units: Decimal
    credits: Decimal


@dataclasses.dataclass(frozen=True)
class UserLine:
    """One of the period's top users by credits (contract §8.4)."""

    user_id: str
    events: int
    credits: Decimal


@dataclasses.dataclass(frozen=True)
class GrantLine:
    """A grant received in the period, or one coming after it (scheduled)."""

    grant_id: str
    label: str
    kind: str
    effective_at: dt.datetime
    expires_at: dt.datetime | None
    credits: Decimal


@dataclasses.dataclass(frozen=True)
class TopupLine:
    grant_id: str
    label: str
    effective_at: dt.datetime
    credits: Decimal


@dataclasses.dataclass(frozen=True)
class ExpirationLine:
    grant_id: str
    label: str
    kind: str
    expired_at: dt.datetime
    credits: Decimal


@dataclasses.dataclass(frozen=True)
class DailyBalance:
    balance_date: dt.date
    closing_credits: Decimal


@dataclasses.dataclass(frozen=True)
class InvoiceSummary:
    """A finalized invoice or credit note as the statement lists it."""

    invoice_number: str
    invoice_type: str
    issued_at: dt.datetime
    total: int
    currency: str


@dataclasses.dataclass(frozen=True)
class StatementContext:
    document_date: str
    seller: Party
    customer: Customer
    period: str
    period_start: dt.date
    period_end: dt.date
    opening_balance: Decimal
    granted: Decimal
    consumed: Decimal
    expired: Decimal
    refunded: Decimal
    settled: Decimal
    closing_balance: Decimal
    voided: Decimal
    late_usage: Decimal
    # Credits left at the period's end that expire within 30, 60 and 90 days, keyed "30"...
    expiring: dict[str, Decimal]
    usage: tuple[UsageLine, ...]
    top_users: tuple[UserLine, ...]
    grants: tuple[GrantLine, ...]
    coming: tuple[GrantLine, ...]
    topups: tuple[TopupLine, ...]
    expirations: tuple[ExpirationLine, ...]
    daily_balances: tuple[DailyBalance, ...]
    invoices: tuple[InvoiceSummary, ...]
    # The day the credits run out at the recent rate, forecast at the period's end; None
    # without recent usage or a positive balance (docs/ledger.md "Depletion forecast").
    projected_depletion_date: dt.date | None = None

    def template_context(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Invoice:
    invoice_id: str
    invoice_number: str | None
    invoice_type: str
    period: str
    currency: str
    issued_at: dt.datetime
    due_at: dt.datetime
    subtotal: int
    tax_rate: Decimal
    tax: int
    total: int
    status: str


@dataclasses.dataclass(frozen=True)
class InvoiceLine:
    """A line's words are `description_template` with its `{quantity}` slot filled in the
    customer's locale (the renderer's `line_description` filter)."""

    line_number: int
    description_template: str
    description_quantity: Decimal | None
    quantity: int
    unit_amount: int
    amount: int


@dataclasses.dataclass(frozen=True)
class InvoiceContext:
    document_date: str
    seller: Party
    customer: Customer
    invoice: Invoice
    lines: tuple[InvoiceLine, ...]
    # A Factur-X e-invoice (PDF/A-3b with its CII XML embedded): the customer's country
    # is in the catalog's settings.facturx_countries (see `is_facturx_country`).
    facturx: bool = False

    def template_context(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class RestatementLine:
    """One customer's usage in a closed period: as frozen at its close, as the data now says
    (late events in the period they happened in), and the difference (rpt_restatements)."""

    customer_id: str
    customer_name: str
    events_at_close: int
    events_now: int
    events_delta: int
    usage_credits_at_close: Decimal
    usage_credits_now: Decimal
    usage_credits_delta: Decimal


@dataclasses.dataclass(frozen=True)
class RestatedFigure:
    """One money figure of a closed period that a close freezes (int_period_figures), as
    frozen beside as the warehouse rebuilt with no close says, for a customer or summed over
    all: credits for `ledger:*` (`currency` ""), integer minor units of `currency` else."""

    customer_id: str
    customer_name: str
    label: str
    currency: str
    at_close: int | Decimal
    now: int | Decimal
    delta: int | Decimal


@dataclasses.dataclass(frozen=True)
class RestatementContext:
    """The restatement report of a closed period: on its first page, totals over every
    customer with usage in it, and the customers whose usage moved, largest change first, as
    many as fit (`omitted` more are in the CSV); on a second, unless only usage is restated,
    the money figures' totals and the customers' figures that moved (`money_omitted` more
    in the money CSV)."""

    document_date: str
    seller: Party
    period: str
    frozen_at: dt.datetime | None
    customers: int
    totals: RestatementLine
    lines: tuple[RestatementLine, ...]
    omitted: int
    # "Money as known now", on a second page; none under `--usage-only` (money_restated false).
    money_restated: bool = False
    money_totals: tuple[RestatedFigure, ...] = ()
    money_lines: tuple[RestatedFigure, ...] = ()
    money_omitted: int = 0

    def template_context(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
