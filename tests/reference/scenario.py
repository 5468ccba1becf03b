"""Ledger test inputs in landing terms (contract §2), for one customer or many.

A `Scenario` is what a landing directory holds, as plain dataclasses: the reference ledger
reads it directly and `write_landing` writes it as the files `credits_warehouse/ingest.py`
loads, so both sides of a comparison see the same inputs. Instants are naive `datetime`s in
UTC and are written as RFC 3339 with `Z`; credits are `Decimal`; a null is an empty cell.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

from credits_warehouse.ingest import FEED_COLUMNS as INGEST_FEED_COLUMNS
from credits_warehouse.ingest import OPTIONAL_FEED_COLUMNS

TEST_CATALOG_PATH = Path(__file__).with_name("catalog.yml")


@dataclass(frozen=True)
class Customer:
    customer_id: str
    currency: str | None = "USD"  # None: the catalog's default currency
    name: str = ""
    country: str = "GB"
    tax_rate: Decimal = Decimal("0.2")
    created_at: dt.datetime = dt.datetime(2025, 12, 1)


@dataclass(frozen=True)
class Subscription:
    customer_id: str
    plan_id: str
    started_at: dt.datetime
    ended_at: dt.datetime | None = None


@dataclass(frozen=True)
class Purchase:
    purchase_id: str
    customer_id: str
    bundle_id: str
    quantity: int
    purchased_at: dt.datetime
    amount_paid: int  # minor units, net of tax
    currency: str
    status: str  # succeeded | failed | refunded


@dataclass(frozen=True)
class FeedGrant:
    """A row of the `grants` feed; credits < 0 (kind `adjustment`) is a negative adjustment."""

    grant_id: str
    customer_id: str
    kind: str
    credits: Decimal
    effective_at: dt.datetime
    expires_at: dt.datetime | None = None
    priority: int | None = None
    cost_basis_per_credit: Decimal | None = None
    applies_to: str = ""  # the feed's optional column: ids separated by "|"


@dataclass(frozen=True)
class AutoTopup:
    customer_id: str
    threshold: Decimal
    bundle_id: str
    max_per_period: int | None
    enabled_from: dt.datetime
    enabled_to: dt.datetime | None = None


@dataclass(frozen=True)
class Void:
    event_id: str
    voided_at: dt.datetime


@dataclass(frozen=True)
class Refund:
    refund_id: str
    purchase_id: str
    refunded_at: dt.datetime


@dataclass(frozen=True)
class GrantAmendment:
    """A row of the `grant_amendments` feed: `void`, or `set_expiry` to `new_expires_at`."""

    amendment_id: str
    grant_id: str
    action: str
    effective_at: dt.datetime
    new_expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class Event:
    event_id: str
    customer_id: str
    event_type: str
    timestamp: dt.datetime
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scenario:
    customers: list[Customer] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    purchases: list[Purchase] = field(default_factory=list)
    grants: list[FeedGrant] = field(default_factory=list)
    auto_topups: list[AutoTopup] = field(default_factory=list)
    voids: list[Void] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    grant_amendments: list[GrantAmendment] = field(default_factory=list)

    @classmethod
    def merge(cls, scenarios: Iterable[Scenario]) -> Scenario:
        """Many customers' scenarios as one landing."""
        out = cls()
        for scenario in scenarios:
            for f in fields(cls):
                getattr(out, f.name).extend(getattr(scenario, f.name))
        return out

    def for_customer(self, customer_id: str) -> Scenario:
        """The rows that concern one customer (voids via their event, refunds via their
        purchase, amendments via their grant)."""
        event_ids = {e.event_id for e in self.events if e.customer_id == customer_id}
        purchase_ids = {p.purchase_id for p in self.purchases if p.customer_id == customer_id}
        grant_ids = {g.grant_id for g in self.grants if g.customer_id == customer_id}
        grant_ids |= {f"purchase:{p}" for p in purchase_ids}
        return Scenario(
            customers=[c for c in self.customers if c.customer_id == customer_id],
            subscriptions=[s for s in self.subscriptions if s.customer_id == customer_id],
            purchases=[p for p in self.purchases if p.customer_id == customer_id],
            grants=[g for g in self.grants if g.customer_id == customer_id],
            auto_topups=[a for a in self.auto_topups if a.customer_id == customer_id],
            voids=[v for v in self.voids if v.event_id in event_ids],
            refunds=[r for r in self.refunds if r.purchase_id in purchase_ids],
            events=[e for e in self.events if e.customer_id == customer_id],
            grant_amendments=[
                a
                for a in self.grant_amendments
                if a.grant_id in grant_ids
                or a.grant_id.startswith(f"{customer_id}-")  # an unknown grant of theirs
                or f":{customer_id}:" in a.grant_id  # a plan allowance
            ],
        )

    def describe(self) -> str:
        """A compact, line-per-row rendering for failure messages."""
        lines = []
        for f in fields(self):
            for row in getattr(self, f.name):
                values = ", ".join(
                    f"{k.name}={_text(getattr(row, k.name)) or 'null'}"
                    for k in fields(row)
                    if k.name not in _DESCRIBE_SKIP
                    and (getattr(row, k.name) not in (None, "") or isinstance(row, Customer))
                )
                name = {"refunds": "refund", "grant_amendments": "amendment"}.get(f.name)
                lines.append(f"  {name or f.name[:-1]}: {values}")
        return "\n".join(lines)


_DESCRIBE_SKIP = {"customer_id", "name", "country", "tax_rate", "created_at"}


# Column order of each reference feed (contract §2.2), with the optional columns after.
FEED_COLUMNS = {
    feed: [*columns, *OPTIONAL_FEED_COLUMNS.get(feed, ())]
    for feed, columns in INGEST_FEED_COLUMNS.items()
}


def rfc3339(instant: dt.datetime) -> str:
    """A naive UTC instant as RFC 3339 with `Z`, the way contract §2 writes timestamps."""
    return instant.strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{instant.microsecond:06d}Z" if instant.microsecond else "Z"
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return rfc3339(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _rows(scenario: Scenario) -> dict[str, list[Mapping[str, Any]]]:
    return {
        "customers": [
            {
                "customer_id": c.customer_id,
                "name": c.name or c.customer_id,
                "email": f"{c.customer_id}@example.test",
                "address": "1 Test Street",
                "country": c.country,
                "currency": c.currency,
                "tax_rate": c.tax_rate,
                "created_at": c.created_at,
            }
            for c in scenario.customers
        ],
        "subscriptions": [vars(s) for s in scenario.subscriptions],
        "purchases": [vars(p) for p in scenario.purchases],
        "grants": [{**vars(g), "reason": "test", "created_by": "tests"} for g in scenario.grants],
        "auto_topups": [vars(a) for a in scenario.auto_topups],
        "voids": [{**vars(v), "reason": "test"} for v in scenario.voids],
        "refunds": [{**vars(r), "reason": "test"} for r in scenario.refunds],
        "grant_amendments": [
            {**vars(a), "reason": "test", "created_by": "tests"} for a in scenario.grant_amendments
        ],
    }


def write_landing(scenario: Scenario, landing_dir: Path) -> Path:
    """Write the scenario as a landing directory: `<feed>.csv` at the root (a header even
    when empty) and `events/events.jsonl`."""
    landing_dir.mkdir(parents=True, exist_ok=True)
    for feed, rows in _rows(scenario).items():
        columns = FEED_COLUMNS[feed]
        with (landing_dir / f"{feed}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="raise")
            writer.writeheader()
            for row in rows:
                writer.writerow({c: _text(row.get(c)) for c in columns})
    events = landing_dir / "events" / "events.jsonl"
    events.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(
            {
                "event_id": e.event_id,
                "customer_id": e.customer_id,
                "event_type": e.event_type,
                "timestamp": rfc3339(e.timestamp),
                "properties": e.properties,
            },
            separators=(",", ":"),
        )
        for e in scenario.events
    ]
    events.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return landing_dir
