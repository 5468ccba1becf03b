"""The reference credit ledger: docs/ledger.md read literally, one step at a time.

This is the oracle the warehouse is compared against, so it is written to be obviously
right, not fast: pure Python, `Decimal` (and `Fraction` for the one rounding) only, no
polars or DuckDB, one customer at a time, one debit at a time.

How it is organised:
1. *Inputs.* `rate_events` turns events into usage debits (contract §4 rating);
   `grants_from_inputs` turns subscriptions, purchases and the grants feed into grants
   (docs/ledger.md "Inputs, per customer"); negative adjustments stay apart;
   `accepted_amendments` keeps the grant amendments intake accepts ("Grant amendments").
2. *Timeline.* `CustomerLedger` puts every step of one customer on one explicitly ordered
   timeline, keyed `(instant, rank, tie-break)` as "Time and order" says:
   rank 1 period end, 2 expiries (consumption order), 3 grants taking effect (consumption
   order) then negative adjustments (grant_id), 4 voids (event_id) then refunds
   (refund_id) then grant amendments (amendment_id), 5 usage debits (dedup_key,
   aggregator_id). Only instants ≤ the clock. Every grant schedules its own expiry when it
   takes effect, and again when an amendment moves it.
3. *Rules.* One method per rule of "The rules", each booking `Entry`s through `book`.
4. *Result.* Entries in application order, the per-grant figures of "What the marts show",
   totals per (customer, entry_type) and final balances.

Readings of docs/ledger.md where it leaves room are marked *(reading)* below; the test
module docstrings list them too.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, NamedTuple

from credits_warehouse.catalog import Catalog, Plan

from .scenario import (
    AutoTopup,
    Event,
    FeedGrant,
    GrantAmendment,
    Refund,
    Scenario,
    Subscription,
    Void,
)

ZERO = Decimal(0)
NEVER = dt.datetime.max  # sorts a grant that never expires last
COST_BASIS_PLACES = 12

# "Time and order": what happens first at one instant.
RANK_PERIOD_END = 1
RANK_EXPIRY = 2
RANK_GRANT = 3
RANK_VOID_OR_REFUND = 4
RANK_USAGE = 5


# --------------------------------------------------------------------------------------
# Small shared definitions
# --------------------------------------------------------------------------------------


def period_of(instant: dt.datetime) -> str:
    """Billing periods are calendar months in UTC, named YYYY-MM."""
    return f"{instant.year:04d}-{instant.month:02d}"


def month_start(instant: dt.datetime) -> dt.datetime:
    return dt.datetime(instant.year, instant.month, 1)


def add_months(start: dt.datetime, months: int) -> dt.datetime:
    """The first instant of the month `months` after the month of `start`."""
    index = start.year * 12 + (start.month - 1) + months
    return dt.datetime(index // 12, index % 12 + 1, 1)


def is_period_start(instant: dt.datetime) -> bool:
    return instant == month_start(instant)


def iso(instant: dt.datetime) -> str:
    """The instant as it appears inside generated grant ids (the warehouse's
    `strftime('%Y-%m-%dT%H:%M:%S')`)."""
    return instant.strftime("%Y-%m-%dT%H:%M:%S")


def cost_basis_per_credit(amount_minor: int | None, credits: Decimal) -> Decimal:
    """`amount / credits` rounded half up to 12 decimal places, exactly (the dbt macro
    `cost_basis_per_credit`). No amount, or a zero one, is a cost basis of 0."""
    if not amount_minor:
        return ZERO
    scaled = Fraction(amount_minor) / Fraction(credits) * 10**COST_BASIS_PLACES
    return Decimal(math.floor(scaled + Fraction(1, 2))).scaleb(-COST_BASIS_PLACES)


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


class Entry(NamedTuple):
    customer_id: str
    entry_at: dt.datetime
    period: str
    entry_type: str
    grant_id: str | None
    aggregator_id: str | None
    credits: Decimal


@dataclass
class Result:
    entries: list[Entry]
    grants: dict[str, dict[str, Any]]
    totals: dict[tuple[str, str], Decimal]
    balances: dict[str, Decimal]

    def customer_totals(self, customer_id: str) -> dict[str, Decimal]:
        return {t: v for (c, t), v in self.totals.items() if c == customer_id}

    def customer_grants(self, customer_id: str) -> dict[str, dict[str, Any]]:
        return {g: v for g, v in self.grants.items() if v["customer_id"] == customer_id}


# --------------------------------------------------------------------------------------
# 1. Inputs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Debit:
    """One accepted event × one matching aggregator."""

    customer_id: str
    event_id: str
    dedup_key: str
    aggregator_id: str
    at: dt.datetime
    units: Decimal
    credits: Decimal


def _filter_text(value: Any) -> str:
    """A property or filter value as text, the way the warehouse compares them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _matches(event: Event, filters: dict[str, Any]) -> bool:
    for name, wanted in filters.items():
        if name not in event.properties:
            return False
        have = _filter_text(event.properties[name])
        options = wanted if isinstance(wanted, list) else [wanted]
        if have not in {_filter_text(o) for o in options}:
            return False
    return True


def _rate_at(catalog: Catalog, aggregator_id: str, at: dt.datetime) -> Decimal | None:
    """weight / per in effect at `at`; None when the aggregator is not priced then."""
    for product in catalog.credit_products:
        for entry in product.aggregators:
            if entry.aggregator != aggregator_id:
                continue
            weight = None
            for start, step_weight in entry.weight_steps():
                if start is None or start <= at:
                    weight = step_weight
            return None if weight is None else weight / entry.per
    return None


def rate_events(scenario: Scenario, catalog: Catalog) -> list[Debit]:
    """Every event × matching aggregator, rated: credits = units × weight / per, exact."""
    debits = []
    for event in scenario.events:
        for aggregator in catalog.aggregators:
            if aggregator.event_type != event.event_type:
                continue
            if not _matches(event, aggregator.filters):
                continue
            rate = _rate_at(catalog, aggregator.id, event.timestamp)
            if rate is None:
                continue  # accepted, not billable
            if aggregator.operation == "count":
                units = Decimal(1)
            else:
                units = Decimal(str(event.properties[aggregator.property]))
            debits.append(
                Debit(
                    customer_id=event.customer_id,
                    event_id=event.event_id,
                    dedup_key=event.event_id,  # no idempotency keys in scenarios
                    aggregator_id=aggregator.id,
                    at=event.timestamp,
                    units=units,
                    credits=units * rate,
                )
            )
    return debits


@dataclass
class Grant:
    grant_id: str
    customer_id: str
    kind: str
    credits: Decimal
    effective_at: dt.datetime
    expires_at: dt.datetime | None
    priority: int
    cost_basis_per_credit: Decimal
    purchase_id: str | None = None
    # The aggregator and credit product ids it applies to; empty: every aggregator.
    applies_to: frozenset[str] = frozenset()
    # What became of the credits (docs/ledger.md "What the marts show").
    left: Decimal = ZERO
    consumed: Decimal = ZERO
    expired: Decimal = ZERO
    refunded: Decimal = ZERO
    rolled_over: Decimal = ZERO
    voided: Decimal = ZERO
    closed: bool = False  # by a refund or a grant void
    voided_at: dt.datetime | None = None  # when a void amendment acted on it

    def consumption_key(self) -> tuple:
        """The consumption order, written once: priority asc, expires_at asc (never last),
        cost basis asc, effective_at asc, grant_id asc."""
        return (
            self.priority,
            self.expires_at or NEVER,
            self.cost_basis_per_credit,
            self.effective_at,
            self.grant_id,
        )

    def eligible_at(self, at: dt.datetime) -> bool:
        return (
            self.effective_at <= at
            and (self.expires_at is None or at < self.expires_at)
            and self.left > 0
            and not self.closed
        )

    def status(self, as_of: dt.datetime) -> str:
        """The first that applies at the clock (contract §8.2). A grant voided before it
        takes effect never will: it is `voided`, not `scheduled` *(ours)*."""
        if self.voided_at is not None and self.voided_at <= as_of:
            return "voided"
        if self.effective_at > as_of:
            return "scheduled"
        if self.expires_at is not None and self.expires_at <= as_of:
            return "expired"
        if self.remaining() == 0:
            return "depleted"
        return "active"

    def remaining(self) -> Decimal:
        return (
            self.credits
            - self.consumed
            - self.expired
            - self.refunded
            - self.rolled_over
            - self.voided
        )

    def as_row(self, as_of: dt.datetime) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "kind": self.kind,
            "credits": self.credits,
            "effective_at": self.effective_at,
            "expires_at": self.expires_at,
            "priority": self.priority,
            "cost_basis_per_credit": self.cost_basis_per_credit,
            "applies_to": "|".join(sorted(self.applies_to)),
            "credits_consumed": self.consumed,
            "credits_expired": self.expired,
            "credits_refunded": self.refunded,
            "credits_rolled_over": self.rolled_over,
            "credits_voided": self.voided,
            "credits_remaining": self.remaining(),
            "status": self.status(as_of),
        }


def customer_currency(scenario: Scenario, catalog: Catalog, customer_id: str) -> str:
    for customer in scenario.customers:
        if customer.customer_id == customer_id:
            return customer.currency or catalog.currency
    return catalog.currency


def _allowances(
    spell: Subscription, plan: Plan, currency: str, as_of: dt.datetime
) -> Iterable[Grant]:
    """One grant at `started_at` and one at each period start inside the spell, ≤ the clock.
    A spell starting after the clock has its first grant, scheduled (contract §8.2).

    *(reading)* The cost basis is the fee for that period / included credits (contract §5),
    rounded like a purchase's. The fee is the plan's fee in the customer's currency,
    prorated by the remaining share of the period in seconds (rounded half even) when the
    allowance starts inside its period (contract §4 "Plan changes"); a plan without a fee in
    that currency has cost basis 0. An allowance of 0 credits is no grant.
    """
    if plan.included_credits <= 0:
        return
    starts = [spell.started_at]
    period = add_months(month_start(spell.started_at), 1)
    while period <= as_of and (spell.ended_at is None or period < spell.ended_at):
        starts.append(period)
        period = add_months(period, 1)
    for effective in starts:
        if plan.allowance_expires == "period_end":
            expires = add_months(month_start(effective), 1)
        else:
            expires = effective + dt.timedelta(days=plan.allowance_expires)
        if spell.ended_at is not None:
            expires = min(expires, spell.ended_at)
        fee = plan.fees.get(currency)
        start = month_start(effective)
        if fee is not None and effective > start:
            end = add_months(start, 1)
            share = Fraction(
                int((end - effective).total_seconds()), int((end - start).total_seconds())
            )
            exact = fee * share
            fee = math.floor(exact)
            rest = exact - fee
            if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and fee % 2 == 1):
                fee += 1
        yield Grant(
            grant_id=f"subscription:{plan.id}:{spell.customer_id}:{iso(effective)}",
            customer_id=spell.customer_id,
            kind="plan_allowance",
            credits=plan.included_credits,
            effective_at=effective,
            expires_at=expires,
            priority=plan.priority,
            cost_basis_per_credit=cost_basis_per_credit(fee, plan.included_credits),
            applies_to=frozenset(plan.applies_to),
        )


def feed_scope(text: str) -> frozenset[str]:
    """The grants feed's `applies_to`: ids separated by `|`, blanks around them and empty
    ones ignored; nothing at all is every aggregator."""
    return frozenset(part.strip() for part in text.split("|") if part.strip())


def grants_from_inputs(
    scenario: Scenario, catalog: Catalog, as_of: dt.datetime
) -> tuple[list[Grant], list[FeedGrant]]:
    """Plan allowances, purchases and positive feed grants, and the negative adjustments
    (feed rows of kind `adjustment` with credits < 0). Those taking effect after the clock
    are included: the walk schedules nothing after the clock, and they are listed as
    scheduled (contract §8.2)."""
    grants: list[Grant] = []
    for spell in scenario.subscriptions:
        currency = customer_currency(scenario, catalog, spell.customer_id)
        grants.extend(_allowances(spell, catalog.plan(spell.plan_id), currency, as_of))
    for purchase in scenario.purchases:
        if purchase.status not in ("succeeded", "refunded"):
            continue
        bundle = catalog.bundle(purchase.bundle_id)
        credits = (bundle.credits + bundle.bonus_credits) * purchase.quantity
        grants.append(
            Grant(
                grant_id=f"purchase:{purchase.purchase_id}",
                customer_id=purchase.customer_id,
                kind="purchase",
                credits=credits,
                effective_at=purchase.purchased_at,
                expires_at=(
                    None
                    if bundle.expires_after_days is None
                    else purchase.purchased_at + dt.timedelta(days=bundle.expires_after_days)
                ),
                priority=bundle.priority,
                cost_basis_per_credit=cost_basis_per_credit(purchase.amount_paid, credits),
                purchase_id=purchase.purchase_id,
                applies_to=frozenset(bundle.applies_to),
            )
        )
    adjustments: list[FeedGrant] = []
    for row in scenario.grants:
        if row.credits < 0:
            if row.kind == "adjustment":
                adjustments.append(row)
            continue
        if row.credits == 0:
            continue
        grants.append(
            Grant(
                grant_id=row.grant_id,
                customer_id=row.customer_id,
                kind=row.kind,
                credits=row.credits,
                effective_at=row.effective_at,
                expires_at=row.expires_at,
                priority=50 if row.priority is None else row.priority,
                cost_basis_per_credit=row.cost_basis_per_credit or ZERO,
                applies_to=feed_scope(row.applies_to),
            )
        )
    return grants, adjustments


def accepted_amendments(
    scenario: Scenario, catalog: Catalog, as_of: dt.datetime
) -> dict[str, list[GrantAmendment]]:
    """The grant amendments the warehouse accepts, by customer, in (effective_at,
    amendment_id) order: of a known positive grant (a plan allowance granted by the clock,
    a succeeded or refunded purchase, a grants-feed row with credits > 0), with a known
    action, and for `set_expiry` a new expiry after the grant's effective_at. (Scenarios
    close no period and repeat no amendment_id, so closed_period and duplicate never
    apply.)"""
    grants, _ = grants_from_inputs(scenario, catalog, as_of)
    known = {
        g.grant_id: (g.customer_id, g.effective_at) for g in grants if g.kind == "plan_allowance"
    }
    for p in scenario.purchases:
        if p.status in ("succeeded", "refunded"):
            known[f"purchase:{p.purchase_id}"] = (p.customer_id, p.purchased_at)
    for row in scenario.grants:
        if row.credits > 0:
            known[row.grant_id] = (row.customer_id, row.effective_at)
    out: dict[str, list[GrantAmendment]] = defaultdict(list)
    for a in sorted(scenario.grant_amendments, key=lambda a: (a.effective_at, a.amendment_id)):
        if a.grant_id not in known or a.action not in ("void", "set_expiry"):
            continue
        customer_id, effective_at = known[a.grant_id]
        if a.action == "set_expiry" and (
            a.new_expires_at is None or a.new_expires_at <= effective_at
        ):
            continue
        out[customer_id].append(a)
    return out


# --------------------------------------------------------------------------------------
# 2. + 3. One customer's walk
# --------------------------------------------------------------------------------------


@dataclass
class Owed:
    """A shortfall chunk still owed: one per usage debit or negative adjustment."""

    kind: str  # overage | unfunded
    amount: Decimal
    source: str  # event_id or adjustment grant_id
    aggregator_id: str | None  # the debit's; None for a negative adjustment


@dataclass
class Draw:
    """What one grant gave to one debit of an event (kept for voids)."""

    aggregator_id: str
    grant_id: str | None  # None: the shortfall
    credits: Decimal
    owed: Owed | None = None


@dataclass
class CustomerLedger:
    customer_id: str
    catalog: Catalog
    as_of: dt.datetime
    currency: str
    spells: list[Subscription]
    initial_grants: list[Grant]
    adjustments: list[FeedGrant]
    debits: list[Debit]
    events: dict[str, Event]
    voids: list[Void]
    refunds: list[Refund]
    topup_settings: list[AutoTopup]
    amendments: list[GrantAmendment] = field(default_factory=list)

    grants: dict[str, Grant] = field(default_factory=dict)  # grants that took effect
    never_effective: dict[str, Grant] = field(default_factory=dict)  # voided before
    owed: list[Owed] = field(default_factory=list)  # oldest first
    entries: list[Entry] = field(default_factory=list)
    draws: dict[str, list[Draw]] = field(default_factory=lambda: defaultdict(list))
    voided: set[str] = field(default_factory=set)
    topups_in_period: Counter = field(default_factory=Counter)
    topups_made: int = 0
    rollover_used: dict[dt.datetime, Decimal] = field(default_factory=dict)
    _heap: list = field(default_factory=list)
    _seq: Iterable[int] = field(default_factory=itertools.count)

    # ---- the timeline ---------------------------------------------------------------

    def schedule(
        self, at: dt.datetime, rank: int, tie: tuple, step: Callable[..., None], *args
    ) -> None:
        """Put one step on the timeline if it happens ≤ the clock. The sort key is
        (instant, rank, tie-break); the counter only keeps the heap from comparing steps."""
        if at <= self.as_of:
            heapq.heappush(self._heap, (at, rank, tie, next(self._seq), step, args))

    def run(self) -> None:
        self.never_effective = self.voided_before_effect()
        for grant in self.initial_grants:
            if grant.grant_id in self.never_effective:
                continue
            self.schedule_arrival(grant)
        for row in self.adjustments:
            self.schedule(row.effective_at, RANK_GRANT, (1, row.grant_id), self.adjust, row)
        for void in self.voids:
            self.schedule(void.voided_at, RANK_VOID_OR_REFUND, (0, void.event_id), self.void, void)
        for refund in self.refunds:
            self.schedule(
                refund.refunded_at, RANK_VOID_OR_REFUND, (1, refund.refund_id), self.refund, refund
            )
        for amendment in self.amendments:
            self.schedule(
                amendment.effective_at,
                RANK_VOID_OR_REFUND,
                (2, amendment.amendment_id),
                self.amend,
                amendment,
            )
        for debit in self.debits:
            self.schedule(
                debit.at, RANK_USAGE, (debit.dedup_key, debit.aggregator_id), self.usage, debit
            )
        if self._heap:
            # Every period end after the first step, up to the clock. One with nothing owed
            # books nothing.
            period_end = add_months(month_start(min(item[0] for item in self._heap)), 1)
            while period_end <= self.as_of:
                self.schedule(period_end, RANK_PERIOD_END, (), self.period_end)
                period_end = add_months(period_end, 1)
        while self._heap:
            at, _rank, _tie, _seq, step, args = heapq.heappop(self._heap)
            step(at, *args)

    # ---- bookkeeping ----------------------------------------------------------------

    def book(
        self,
        at: dt.datetime,
        entry_type: str,
        credits: Decimal,
        grant: Grant | None = None,
        aggregator_id: str | None = None,
        period: str | None = None,
    ) -> None:
        assert credits != 0, "no zero entries"
        self.entries.append(
            Entry(
                self.customer_id,
                at,
                period or period_of(at),
                entry_type,
                grant.grant_id if grant else None,
                aggregator_id,
                credits,
            )
        )

    def balance(self) -> Decimal:
        """Σ credits left in grants that took effect − Σ owed."""
        return sum((g.left for g in self.grants.values()), ZERO) - sum(
            (o.amount for o in self.owed), ZERO
        )

    def spell_at(self, at: dt.datetime) -> Subscription | None:
        """The plan spell active at `at` (started_at ≤ at < ended_at); the latest started
        one if spells overlap."""
        active = [
            s for s in self.spells if s.started_at <= at and (s.ended_at is None or at < s.ended_at)
        ]
        return max(active, key=lambda s: s.started_at, default=None)

    def spell_just_before(self, at: dt.datetime) -> Subscription | None:
        """The plan spell active an instant before `at` (started_at < at ≤ ended_at)."""
        active = [
            s for s in self.spells if s.started_at < at and (s.ended_at is None or at <= s.ended_at)
        ]
        return max(active, key=lambda s: s.started_at, default=None)

    def applies(self, grant: Grant, aggregator_id: str | None) -> bool:
        """Whether `grant` may fund a debit of `aggregator_id` (contract §8.1): it applies
        to every aggregator, or names the aggregator or a credit product pricing it.
        *(reading)* A negative adjustment (`aggregator_id` None) draws on every grant, and
        its shortfall may be repaid by any."""
        if aggregator_id is None or not grant.applies_to:
            return True
        products = {
            product.id
            for product in self.catalog.credit_products
            if any(entry.aggregator == aggregator_id for entry in product.aggregators)
        }
        return bool(grant.applies_to & ({aggregator_id} | products))

    def draw(
        self, at: dt.datetime, amount: Decimal, entry_type: str, aggregator_id: str | None
    ) -> tuple[list[tuple[Grant, Decimal]], Decimal]:
        """Draw `amount` from the grants eligible at `at` that apply to the aggregator, in
        consumption order: one entry (−) per grant drawn. Returns what each grant gave and
        the shortfall."""
        taken = []
        for grant in sorted(
            (
                g
                for g in self.grants.values()
                if g.eligible_at(at) and self.applies(g, aggregator_id)
            ),
            key=Grant.consumption_key,
        ):
            if amount == 0:
                break
            take = min(grant.left, amount)
            grant.left -= take
            grant.consumed += take
            amount -= take
            self.book(at, entry_type, -take, grant, aggregator_id)
            taken.append((grant, take))
        return taken, amount

    def owe(self, at: dt.datetime, kind: str, amount: Decimal, source: str, aggregator_id):
        chunk = Owed(kind, amount, source, aggregator_id)
        self.owed.append(chunk)
        self.book(at, kind, -amount, None, aggregator_id)
        return chunk

    # ---- the rules ------------------------------------------------------------------

    def period_end(self, at: dt.datetime) -> None:
        """Settle everything owed: one `overage_settlement` and one `unfunded_writeoff`
        *(reading: one entry per kind, not per chunk)*, dated at the period end and carrying
        the period that ends."""
        ending = period_of(at - dt.timedelta(microseconds=1))
        for kind, entry_type in (
            ("overage", "overage_settlement"),
            ("unfunded", "unfunded_writeoff"),
        ):
            total = sum((o.amount for o in self.owed if o.kind == kind), ZERO)
            if total > 0:
                self.book(at, entry_type, total, period=ending)
        for chunk in self.owed:
            chunk.amount = ZERO
        self.owed.clear()

    def expire(self, at: dt.datetime, grant: Grant, rollover: bool = True) -> None:
        """What is left leaves as `expiry`; at a period end a plan allowance may first roll
        part of it over. Nothing when an amendment has moved the grant's expiry away from
        `at` since this step was scheduled."""
        left = grant.left
        if left <= 0 or grant.closed or grant.expires_at != at:
            return
        grant.left = ZERO
        rolled = self.rollover_amount(at, grant, left) if rollover else ZERO
        if rolled > 0:
            grant.rolled_over += rolled
            self.book(at, "rollover", -rolled, grant)
        if left - rolled > 0:
            grant.expired += left - rolled
            self.book(at, "expiry", -(left - rolled), grant)
        if rolled > 0:
            spell = self.spell_just_before(at)
            plan = self.catalog.plan(spell.plan_id)
            # E's period is the one starting at E; the rollover lives `expires_after_periods`.
            self.take_effect(
                at,
                Grant(
                    grant_id=f"rollover:{grant.grant_id}",
                    customer_id=self.customer_id,
                    kind="rollover",
                    credits=rolled,
                    effective_at=at,
                    expires_at=add_months(at, plan.rollover.expires_after_periods),
                    priority=grant.priority,
                    cost_basis_per_credit=grant.cost_basis_per_credit,
                    applies_to=grant.applies_to,
                ),
            )

    def rollover_amount(self, at: dt.datetime, grant: Grant, left: Decimal) -> Decimal:
        """r = min(left, cap still unused at this period end), for a plan allowance expiring
        exactly at a period end, under the rollover terms of the spell active just before."""
        if grant.kind != "plan_allowance" or not is_period_start(at):
            return ZERO
        spell = self.spell_just_before(at)
        if spell is None:
            return ZERO
        cap = self.catalog.plan(spell.plan_id).rollover.max_credits
        unused = cap - self.rollover_used.get(at, ZERO)
        rolled = max(ZERO, min(left, unused))
        self.rollover_used[at] = self.rollover_used.get(at, ZERO) + rolled
        return rolled

    def schedule_arrival(self, grant: Grant) -> None:
        """Grants taking effect at one instant go in consumption order, by their key as it
        is then: an amendment before that may move it, and schedules the grant again."""
        key = grant.consumption_key()
        self.schedule(grant.effective_at, RANK_GRANT, (0, key), self.arrive, grant, key)

    def arrive(self, at: dt.datetime, grant: Grant, key: tuple) -> None:
        """Take effect, once, from the step scheduled with the grant's key as it is now."""
        if key == grant.consumption_key() and grant.grant_id not in self.grants:
            self.take_effect(at, grant)

    def take_effect(self, at: dt.datetime, grant: Grant) -> None:
        """+credits as a `grant` entry, then repay what is owed, oldest chunk first, of the
        chunks whose debit the grant applies to (the others wait for another grant)."""
        grant.left = grant.credits
        self.grants[grant.grant_id] = grant
        self.book(at, "grant", grant.credits, grant)
        for chunk in list(self.owed):
            if grant.left == 0:
                break
            if not self.applies(grant, chunk.aggregator_id):
                continue
            repaid = min(chunk.amount, grant.left)
            grant.left -= repaid
            grant.consumed += repaid
            chunk.amount -= repaid
            self.book(at, "repayment", -repaid, grant)
            self.book(at, f"{chunk.kind}_repaid", repaid)
            if chunk.amount == 0:
                self.owed.remove(chunk)
        if grant.expires_at is not None:
            self.schedule(
                grant.expires_at, RANK_EXPIRY, grant.consumption_key(), self.expire, grant
            )

    def adjust(self, at: dt.datetime, row: FeedGrant) -> None:
        """A negative adjustment is drawn like usage, as `adjustment` entries; the rest is
        `unfunded` (owed). It never triggers a top-up."""
        _taken, rest = self.draw(at, -row.credits, "adjustment", None)
        if rest > 0:
            self.owe(at, "unfunded", rest, row.grant_id, None)

    def usage(self, at: dt.datetime, debit: Debit) -> None:
        """Draw the debit; the rest is overage under a plan with `overage: bill` at t, else
        unfunded. Then maybe an auto top-up."""
        taken, rest = self.draw(at, debit.credits, "usage", debit.aggregator_id)
        for grant, credits in taken:
            self.draws[debit.event_id].append(Draw(debit.aggregator_id, grant.grant_id, credits))
        if rest > 0:
            spell = self.spell_at(at)
            billed = spell is not None and self.catalog.plan(spell.plan_id).overage == "bill"
            kind = "overage" if billed else "unfunded"
            chunk = self.owe(at, kind, rest, debit.event_id, debit.aggregator_id)
            self.draws[debit.event_id].append(Draw(debit.aggregator_id, None, rest, chunk))
        if debit.credits > 0:
            self.maybe_top_up(at)

    def maybe_top_up(self, at: dt.datetime) -> None:
        """Level semantics: after a debit, while the balance is below the threshold of the
        setting enabled at t (latest enabled_from wins), buy one bundle, up to
        max_per_period top-ups in t's period."""
        enabled = [
            s
            for s in self.topup_settings
            if s.enabled_from <= at and (s.enabled_to is None or at < s.enabled_to)
        ]
        if not enabled:
            return
        setting = max(enabled, key=lambda s: s.enabled_from)
        if not self.balance() < setting.threshold:
            return
        period = period_of(at)
        if (
            setting.max_per_period is not None
            and self.topups_in_period[period] >= setting.max_per_period
        ):
            return
        self.topups_in_period[period] += 1
        self.topups_made += 1
        bundle = self.catalog.bundle(setting.bundle_id)
        credits = bundle.credits + bundle.bonus_credits
        self.take_effect(
            at,
            Grant(
                grant_id=f"auto_topup:{self.customer_id}:{iso(at)}:{self.topups_made}",
                customer_id=self.customer_id,
                kind="auto_topup",
                credits=credits,
                effective_at=at,
                expires_at=(
                    None
                    if bundle.expires_after_days is None
                    else at + dt.timedelta(days=bundle.expires_after_days)
                ),
                priority=bundle.priority,
                cost_basis_per_credit=cost_basis_per_credit(
                    bundle.prices.get(self.currency), credits
                ),
                applies_to=frozenset(bundle.applies_to),
            ),
        )

    def void(self, at: dt.datetime, void: Void) -> None:
        """Give the event's credits back, in reverse order of drawing.

        - A grant with `expires_at` ≤ v books `void` (+) and `expiry` (−) at v.
        - *(reading)* So does a grant closed by a refund: it is no longer live, like an
          expired one, and its refund (and credit note) covered only what was left then.
        - Otherwise `void` (+) and the grant has them back *(reading: that does not repay
          anything owed; only a grant taking effect repays)*.
        - The shortfall is reversed only while it is still owed *(reading: what is still
          owed of this event's own chunk is reversed, from that chunk)*.
        An unknown event, a second void, or a void before the event is ignored
        (quarantined). *(reading)* A void at the event's own instant comes before the
        event's debits (rank 4 < rank 5), so it finds nothing to give back.
        """
        event = self.events.get(void.event_id)
        if event is None or void.event_id in self.voided or at < event.timestamp:
            return
        self.voided.add(void.event_id)
        for draw in reversed(self.draws.get(void.event_id, [])):
            if draw.grant_id is None:
                owed = draw.owed
                if owed.amount > 0:
                    self.book(at, "void", owed.amount, None, draw.aggregator_id)
                    owed.amount = ZERO
                    self.owed.remove(owed)
                continue
            grant = self.grants[draw.grant_id]
            grant.consumed -= draw.credits
            self.book(at, "void", draw.credits, grant, draw.aggregator_id)
            if grant.closed or (grant.expires_at is not None and grant.expires_at <= at):
                grant.expired += draw.credits
                self.book(at, "expiry", -draw.credits, grant)
            else:
                grant.left += draw.credits
        self.draws.pop(void.event_id, None)

    def refund(self, at: dt.datetime, refund: Refund) -> None:
        """What is left of the purchase's grant leaves as `refund` and the grant is closed;
        nothing if it is empty or expired *(reading: an empty grant is still closed)*."""
        grant = self.grants.get(f"purchase:{refund.purchase_id}")
        if grant is None or grant.closed:
            return
        if grant.expires_at is not None and grant.expires_at <= at:
            return
        grant.closed = True
        if grant.left > 0:
            grant.refunded += grant.left
            self.book(at, "refund", -grant.left, grant)
            grant.left = ZERO

    def voided_before_effect(self) -> dict[str, Grant]:
        """Grants whose first void by the clock is dated at or before their effective_at: they
        never take effect, and all their credits count as voided, with no entry. A set_expiry
        before that void and before the grant takes effect still gives it its expiry."""
        out = {}
        for grant in self.initial_grants:
            mine = sorted(
                (
                    a
                    for a in self.amendments
                    if a.grant_id == grant.grant_id and a.effective_at <= self.as_of
                ),
                key=lambda a: (a.effective_at, a.amendment_id),
            )
            first_void = next((a for a in mine if a.action == "void"), None)
            if first_void is None or first_void.effective_at > grant.effective_at:
                continue
            for a in mine[: mine.index(first_void)]:
                if a.action == "set_expiry" and a.effective_at < grant.effective_at:
                    grant.expires_at = a.new_expires_at
            grant.voided = grant.credits
            grant.voided_at = first_void.effective_at
            out[grant.grant_id] = grant
        return out

    def amend(self, at: dt.datetime, amendment: GrantAmendment) -> None:
        """A grant amendment, on a grant neither closed (refunded, voided) nor expired at
        `at`; on any other it changes nothing.
        - `void`: what is left leaves as one `grant_void` entry (none when nothing is left)
          and the grant is closed.
        - `set_expiry`: the grant expires at max(new_expires_at, at) from now on: at once
          when that is `at` (*(reading)* no rollover then), else at that instant. A grant
          not in effect yet takes the new expiry with it when it does.
        """
        pending = {g.grant_id: g for g in self.initial_grants}
        grant = self.grants.get(amendment.grant_id) or pending.get(amendment.grant_id)
        if grant is None or grant.grant_id in self.never_effective or grant.closed:
            return
        if grant.expires_at is not None and grant.expires_at <= at:
            return
        if amendment.action == "void":
            grant.closed = True
            grant.voided_at = at
            if grant.left > 0:
                grant.voided += grant.left
                self.book(at, "grant_void", -grant.left, grant)
                grant.left = ZERO
            return
        ends = max(amendment.new_expires_at, at)
        grant.expires_at = ends
        if grant.grant_id not in self.grants:
            self.schedule_arrival(grant)
        elif ends == at:
            self.expire(at, grant, rollover=False)
        else:
            self.schedule(ends, RANK_EXPIRY, grant.consumption_key(), self.expire, grant)


# --------------------------------------------------------------------------------------
# 4. The whole ledger
# --------------------------------------------------------------------------------------


def reference_ledger(scenario: Scenario, catalog: Catalog, as_of: dt.datetime) -> Result:
    """The ledger of every customer of `scenario` at the clock `as_of` (naive UTC)."""
    if isinstance(as_of, str):
        as_of = dt.datetime.fromisoformat(as_of)
    known = {c.customer_id for c in scenario.customers}
    grants, adjustments = grants_from_inputs(scenario, catalog, as_of)
    amendments = accepted_amendments(scenario, catalog, as_of)
    debits = [d for d in rate_events(scenario, catalog) if d.customer_id in known]
    events = {e.event_id: e for e in scenario.events if e.timestamp <= as_of}
    purchase_customer = {p.purchase_id: p.customer_id for p in scenario.purchases}

    entries: list[Entry] = []
    grant_rows: dict[str, dict[str, Any]] = {}
    balances: dict[str, Decimal] = {}
    for customer_id in sorted(known):
        ledger = CustomerLedger(
            customer_id=customer_id,
            catalog=catalog,
            as_of=as_of,
            currency=customer_currency(scenario, catalog, customer_id),
            spells=[s for s in scenario.subscriptions if s.customer_id == customer_id],
            initial_grants=[g for g in grants if g.customer_id == customer_id],
            adjustments=[a for a in adjustments if a.customer_id == customer_id],
            debits=[d for d in debits if d.customer_id == customer_id],
            events={k: e for k, e in events.items() if e.customer_id == customer_id},
            voids=[
                v
                for v in scenario.voids
                if v.event_id in events and events[v.event_id].customer_id == customer_id
            ],
            refunds=[
                r for r in scenario.refunds if purchase_customer.get(r.purchase_id) == customer_id
            ],
            topup_settings=[a for a in scenario.auto_topups if a.customer_id == customer_id],
            amendments=amendments.get(customer_id, []),
        )
        ledger.run()
        entries.extend(ledger.entries)
        for grant_id, grant in {**ledger.grants, **ledger.never_effective}.items():
            grant_rows[grant_id] = grant.as_row(as_of)
        for grant in ledger.initial_grants:
            if grant.effective_at > as_of and grant.grant_id not in grant_rows:
                grant_rows[grant.grant_id] = grant.as_row(as_of)  # scheduled: listed, untouched
        balances[customer_id] = ledger.balance()

    totals: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for entry in entries:
        totals[(entry.customer_id, entry.entry_type)] += entry.credits
    return Result(entries=entries, grants=grant_rows, totals=dict(totals), balances=balances)
