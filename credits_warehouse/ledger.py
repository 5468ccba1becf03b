"""The ledger's sequential step, over segments: the rules of docs/ledger.md.

Why Python: drawing credits from grants in consumption order is a walk whose every step
depends on what earlier steps left in each grant (and on top-ups, repayments and period
ends those steps trigger); in SQL it would be a recursive CTE per customer. The walk
visits *segments* — debits summed between the instants where the ledger can change — so
it takes thousands of steps, not millions. It outputs, per segment, which grant covers
which span of the segment's running total; SQL then gives each debit its exact share
(`int_usage_allocated_to_grants`).

Only customers with an auto top-up need debit-level positions, to find the debit after
which the balance falls below the threshold (and a top-up's own expiry inside a segment).
Those are read from running sums, never debit by debit.

Scoped grants (contract §8.1, docs/ledger.md "Scoped credits"): each debit has an
*eligibility class*, the scopes that apply to its aggregator, and draws only on grants
with no scope or a scope in its class. A segment's debits are numbered per class (each
class has its own running total), and SQL cuts them into *runs*, the longest stretches of
debits of one class. The walk draws the longest stretches of runs whose classes do not
compete (`classes_apart`) a class at a time, and runs one by one only where they do.

This module has no Dagster or dbt imports. `ledger_batches.walk_batches` runs it over Arrow
record batches grouped by customer; the dbt Python model `int_ledger_walked` is a thin step
around that.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property, lru_cache
from itertools import groupby
from operator import itemgetter

from credits_warehouse.periods import add_months, month_start, period_of

ZERO = Decimal(0)
NEVER = dt.datetime.max

# Same-instant order (contract §4, docs/ledger.md "Time and order").
RANK_PERIOD_END = 1
RANK_EXPIRY = 2
RANK_GRANT = 3
RANK_VOID_REFUND = 4  # voids, then refunds, then grant amendments
RANK_USAGE = 5

# The scopes of an eligibility class are joined by this (a scope's ids by "|").
SCOPE_SEPARATOR = ";"

# What became of a grant amendment (docs/ledger.md "Grant amendments"): the walk says
# applied or no_effect; int_grant_amendments_applied adds pending (dated after the clock).
AMENDMENT_OUTCOMES = ("applied", "no_effect", "pending")


def consumption_key(grant: Grant) -> tuple:
    """The total consumption order of contract §4, written once: priority, expiry (never last),
    cost basis, effective_at, grant_id."""
    return (
        grant.priority,
        grant.expires_at or NEVER,
        grant.cost_basis_per_credit,
        grant.effective_at,
        grant.grant_id,
    )


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
    currency: str | None = None
    paid_amount: int | None = None
    source_type: str = ""
    source_id: str = ""
    remaining: Decimal = ZERO
    closed: bool = False  # refunded or voided: no more draws
    applies_to: str = ""  # its scope: ids joined by "|"; "" = every aggregator

    @property
    def key(self) -> tuple:
        return consumption_key(self)


@lru_cache(maxsize=4096)
def scopes_of(eligibility: str | None) -> frozenset[str] | None:
    """The scopes an eligibility class lists; None (a negative adjustment's): any grant."""
    if eligibility is None:
        return None
    return frozenset(eligibility.split(SCOPE_SEPARATOR)) if eligibility else frozenset()


def applies(grant: Grant, scopes: frozenset[str] | None) -> bool:
    """Whether a grant may fund a debit of this class (contract §8.1), written once: a grant
    with no scope funds everything; a scoped one, the classes that list its scope."""
    return scopes is None or not grant.applies_to or grant.applies_to in scopes


@dataclass
class PlanSpell:
    started_at: dt.datetime
    ended_at: dt.datetime | None
    overage: str
    rollover_max_credits: Decimal
    rollover_expires_after_periods: int

    def active_at(self, t: dt.datetime) -> bool:
        return self.started_at <= t and (self.ended_at is None or t < self.ended_at)


@dataclass
class TopupSetting:
    enabled_from: dt.datetime
    enabled_to: dt.datetime | None
    threshold: Decimal
    max_per_period: int | None
    bundle_credits: Decimal
    expires_after_days: int | None
    priority: int
    cost_basis_per_credit: Decimal
    currency: str | None
    price_amount: int | None
    applies_to: str = ""  # the bundle's scope, given to each top-up grant

    def active_at(self, t: dt.datetime) -> bool:
        return self.enabled_from <= t and (self.enabled_to is None or t < self.enabled_to)


@dataclass
class Segment:
    """Debits summed between two instants, [start, next instant): one run of debits of one
    eligibility class, [position_from, position_from + credits) of that class's running
    total in the segment."""

    start: dt.datetime
    credits: Decimal
    first_at: dt.datetime
    last_at: dt.datetime
    eligibility: str = ""
    run_seq: int = 0
    position_from: Decimal = ZERO

    @cached_property
    def scopes(self) -> frozenset[str]:
        return scopes_of(self.eligibility)

    @property
    def key(self) -> tuple[dt.datetime, str]:
        """What spans, voids and positions are keyed by: the segment and the class."""
        return (self.start, self.eligibility)


@dataclass
class Void:
    voided_at: dt.datetime
    event_id: str
    # (segment start, eligibility class, position before, after)
    spans: list[tuple[dt.datetime, str, Decimal, Decimal]]


@dataclass
class Refund:
    refunded_at: dt.datetime
    refund_id: str
    grant_id: str


@dataclass
class Amendment:
    """A grant amendment the walk applies (docs/ledger.md "Grant amendments"): one dated at
    or after its grant takes effect. SQL settles those dated before (a void drops the grant,
    a new expiry is the grant's from the start), so they never reach the walk."""

    effective_at: dt.datetime
    amendment_id: str
    grant_id: str
    action: str  # void | set_expiry
    new_expires_at: dt.datetime | None = None

    @property
    def expiry_instant(self) -> dt.datetime | None:
        """Where a set_expiry makes its grant expire: its new expiry, never before itself."""
        if self.action != "set_expiry" or self.new_expires_at is None:
            return None
        return max(self.new_expires_at, self.effective_at)


@dataclass
class Positions:
    """Debit positions inside segments, for top-up customers: sorted by position."""

    after: list[Decimal]
    booked_at: list[dt.datetime]


@dataclass(eq=False)
class Owed:
    """Shortfall still owed, as the spans of a segment's running total it covers (so a void
    can take back exactly its own debit's part); repaid from the front, oldest first. Two
    chunks are the same only if they are one object (the queue removes chunks by identity)."""

    kind: str  # overage | unfunded
    segment_start: dt.datetime | None  # None: a negative adjustment's shortfall
    spans: list[list[Decimal]]  # [[from, to], ...] in position order
    eligibility: str | None = None  # the debits' class; None: an adjustment's, any grant repays

    @property
    def amount(self) -> Decimal:
        return sum((b - a for a, b in self.spans), ZERO)

    def repay(self, most: Decimal) -> Decimal:
        """Remove up to `most` from the front; returns what was removed."""
        paid = ZERO
        while self.spans and paid < most:
            a, b = self.spans[0]
            take = min(b - a, most - paid)
            paid += take
            if a + take == b:
                self.spans.pop(0)
            else:
                self.spans[0][0] = a + take
        return paid

    def cut(self, cut_from: Decimal, cut_to: Decimal) -> Decimal:
        """Remove the overlap with [cut_from, cut_to); returns its size."""
        removed, kept = ZERO, []
        for a, b in self.spans:
            lo, hi = max(a, cut_from), min(b, cut_to)
            if lo >= hi:
                kept.append([a, b])
                continue
            removed += hi - lo
            kept += [span for span in ([a, lo], [hi, b]) if span[0] < span[1]]
        self.spans = kept
        return removed


@dataclass
class CustomerInput:
    customer_id: str
    grants: list[Grant]  # positive grants and negative adjustments
    segments: list[Segment]
    spells: list[PlanSpell] = field(default_factory=list)
    topups: list[TopupSetting] = field(default_factory=list)
    voids: list[Void] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    amendments: list[Amendment] = field(default_factory=list)
    positions: Callable[[dt.datetime, str], Positions] | None = None
    # Resuming (docs/incremental.md): the state at the last close, and the spans an earlier
    # build gave the segments before it that a void now names. `segments` then holds only
    # the segments after it; the other inputs are whole.
    checkpoint: dict | None = None
    prior_spans: dict[tuple[dt.datetime, str], list[tuple[Decimal, Decimal, str | None, str]]] = (
        field(default_factory=dict)
    )

    def __post_init__(self) -> None:
        # The grants as they came in, for `inputs_before`: an amendment moves a grant's
        # expiry during the walk, and the digest must not see that.
        self.grant_inputs = [
            (g.effective_at, [_text(getattr(g, f)) for f in GRANT_FIELDS]) for g in self.grants
        ]


@dataclass
class WalkOutput:
    entries: list[dict] = field(default_factory=list)
    spans: list[dict] = field(default_factory=list)
    created: list[Grant] = field(default_factory=list)
    # What each amendment did: {amendment_id, grant_id, effective_at, outcome, expires_at}.
    amendments: list[dict] = field(default_factory=list)
    # The state at each period end the walk passed (after the one it resumed from), for
    # a customer with anything before it: whichever period is closed next, a later build
    # resumes from its checkpoint (docs/incremental.md).
    checkpoints: list[dict] = field(default_factory=list)


class CheckpointMismatch(RuntimeError):
    """An input dated before the checkpoint differs from what the checkpoint was built on:
    a closed period would change, which a resumed walk cannot show."""


GRANT_FIELDS = (
    "grant_id", "customer_id", "kind", "credits", "effective_at", "expires_at", "priority",
    "cost_basis_per_credit", "currency", "paid_amount", "source_type", "source_id", "applies_to",
)  # fmt: skip


def _text(value) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)


def _instant(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def inputs_before(data: CustomerInput, at: dt.datetime) -> str:
    """A digest of every input that acts before `at`, as far as it acts before `at`: what a
    checkpoint at `at` was computed from. A spell or setting still running at `at` counts
    as open, so ending it later (a plan change after the close) changes nothing here."""
    clip = lambda t: _text(t) if t is not None and t < at else None  # noqa: E731
    parts = [
        sorted(fields for effective_at, fields in data.grant_inputs if effective_at < at),
        sorted(
            [
                _text(s.started_at),
                clip(s.ended_at),
                s.overage,
                _text(s.rollover_max_credits),
                s.rollover_expires_after_periods,
            ]
            for s in data.spells
            if s.started_at < at
        ),  # fmt: skip
        sorted(
            [
                _text(t.enabled_from),
                clip(t.enabled_to),
                _text(t.threshold),
                t.max_per_period,
                _text(t.bundle_credits),
                t.expires_after_days,
                t.priority,
                _text(t.cost_basis_per_credit),
                t.currency,
                t.price_amount,
                t.applies_to,
            ]
            for t in data.topups
            if t.enabled_from < at
        ),  # fmt: skip
        sorted([_text(v.voided_at), v.event_id] for v in data.voids if v.voided_at < at),
        sorted(
            [_text(r.refunded_at), r.refund_id, r.grant_id]
            for r in data.refunds
            if r.refunded_at < at
        ),
        sorted(
            [_text(m.effective_at), m.amendment_id, m.grant_id, m.action, _text(m.new_expires_at)]
            for m in data.amendments
            if m.effective_at < at
        ),
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


class Walk:
    """One customer's walk. Public entry point: `walk_customer`."""

    def __init__(self, data: CustomerInput, as_of: dt.datetime):
        self.data = data
        self.as_of = as_of
        self.first_act: dt.datetime | None = None  # the earliest instant anything acted
        self.out = WalkOutput()
        self.active: list[tuple[tuple, Grant]] = []  # sorted by consumption key
        self.owed: deque[Owed] = deque()  # oldest first
        self.balance = ZERO
        self.seq = 0
        self.topups_by_period: dict[str, int] = {}
        self.topup_count = 0
        self.dynamic_expiries: list[tuple[dt.datetime, tuple, Grant]] = []
        self.spans_by_segment: dict[
            tuple[dt.datetime, str], list[tuple[Decimal, Decimal, str | None, str]]
        ] = {}
        self.keep_spans = {s[:2] for v in data.voids for s in v.spans}
        self.spans_emitted = 0
        # The last span emitted per (segment, class): the next one extends it when it goes on
        # where it stops, on the same grant (or shortfall kind).
        self.last_span: dict[tuple[dt.datetime, str], dict] = {}

    # --- bookkeeping -------------------------------------------------------------------

    def book(self, at, rank, entry_type, credits, grant_id=None, period=None) -> None:
        self.seq += 1
        self.balance += credits
        self.out.entries.append(
            {
                "entry_at": at,
                "entry_rank": rank,
                "entry_seq": self.seq,
                "period": period or period_of(at),
                "entry_type": entry_type,
                "grant_id": grant_id,
                "credits": credits,
            }
        )

    def activate(self, grant: Grant) -> None:
        grant.remaining = grant.credits
        bisect.insort(self.active, (grant.key, grant), key=lambda item: item[0])

    def eligible(self, t: dt.datetime, scopes: frozenset[str] | None):
        """The grants a debit of this class can draw on at t, in consumption order."""
        for _, grant in self.active:
            if (
                grant.remaining > 0
                and not grant.closed
                and grant.effective_at <= t
                and (grant.expires_at is None or t < grant.expires_at)
                and applies(grant, scopes)
            ):
                yield grant

    def shortfall_kind(self, t: dt.datetime) -> str:
        spell = next((s for s in self.data.spells if s.active_at(t)), None)
        return "overage" if spell is not None and spell.overage == "bill" else "unfunded"

    # --- the rules ------------------------------------------------------------------------

    def period_end(self, end: dt.datetime) -> None:
        """Settle what is owed; the entries carry the period that ends."""
        ending = period_of(end - dt.timedelta(microseconds=1))
        totals = {"overage": ZERO, "unfunded": ZERO}
        for chunk in self.owed:
            totals[chunk.kind] += chunk.amount
        self.owed.clear()
        for kind, entry_type in (
            ("overage", "overage_settlement"),
            ("unfunded", "unfunded_writeoff"),
        ):
            if totals[kind] > 0:
                self.book(end, RANK_PERIOD_END, entry_type, totals[kind], period=ending)

    def expire_at(
        self, t: dt.datetime, grants: list[Grant], is_period_end: bool, rank: int = RANK_EXPIRY
    ) -> list[Grant]:
        """Expire grants at t in consumption order; returns rollover grants to create."""
        rollovers: list[Grant] = []
        spell = next(
            (s for s in self.data.spells if s.active_at(t - dt.timedelta(microseconds=1))), None
        )
        cap = spell.rollover_max_credits if (is_period_end and spell is not None) else ZERO
        for grant in sorted(grants, key=lambda g: g.key):
            left = grant.remaining if not grant.closed else ZERO
            grant.remaining = ZERO
            self.active = [item for item in self.active if item[1] is not grant]
            rolled = ZERO
            if grant.kind == "plan_allowance" and cap > 0 and left > 0:
                rolled = min(left, cap)
                cap -= rolled
                self.book(t, rank, "rollover", -rolled, grant.grant_id)
                rollovers.append(
                    Grant(
                        grant_id=f"rollover:{grant.grant_id}",
                        customer_id=grant.customer_id,
                        kind="rollover",
                        credits=rolled,
                        effective_at=t,
                        expires_at=add_months(t, spell.rollover_expires_after_periods),
                        priority=grant.priority,
                        cost_basis_per_credit=grant.cost_basis_per_credit,
                        currency=grant.currency,
                        source_type="rollover",
                        source_id=grant.grant_id,
                        applies_to=grant.applies_to,
                    )
                )
            if left - rolled > 0:
                self.book(t, rank, "expiry", -(left - rolled), grant.grant_id)
        return rollovers

    def take_effect(self, t: dt.datetime, grant: Grant) -> None:
        """The grant's credits, then what is owed repaid from them, oldest first, of the
        shortfalls of debits the grant applies to."""
        self.activate(grant)
        self.book(t, RANK_GRANT, "grant", grant.credits, grant.grant_id)
        for chunk in list(self.owed):
            if grant.remaining <= 0:
                break
            if not applies(grant, scopes_of(chunk.eligibility)):
                continue
            paid = chunk.repay(grant.remaining)
            grant.remaining -= paid
            self.book(t, RANK_GRANT, "repayment", -paid, grant.grant_id)
            self.book(t, RANK_GRANT, f"{chunk.kind}_repaid", paid)
            if chunk.amount == 0:
                self.owed.remove(chunk)

    def adjust(self, t: dt.datetime, amount: Decimal, grant_id: str) -> None:
        """A negative adjustment: drawn like usage, on every grant whatever its scope; what no
        grant covers is unfunded, and any grant may repay it."""
        for grant in list(self.eligible(t, None)):
            if amount <= 0:
                break
            take = min(grant.remaining, amount)
            grant.remaining -= take
            amount -= take
            self.book(t, RANK_GRANT, "adjustment", -take, grant.grant_id)
        if amount > 0:
            self.owed.append(Owed("unfunded", None, [[ZERO, amount]]))
            self.book(t, RANK_GRANT, "unfunded", -amount)

    def void(self, v: Void) -> None:
        t = v.voided_at
        for segment_start, eligibility, before, after in v.spans:
            spans = self.spans_by_segment.get((segment_start, eligibility), [])
            for span_from, span_to, grant_id, _kind in reversed(spans):
                share = min(after, span_to) - max(before, span_from)
                if share <= 0:
                    continue
                if grant_id is None:
                    self.unowe(t, (segment_start, eligibility), before, after)
                    continue
                grant = self.grants_by_id[grant_id]
                self.book(t, RANK_VOID_REFUND, "void", share, grant_id)
                if grant.closed or (grant.expires_at is not None and grant.expires_at <= t):
                    self.book(t, RANK_VOID_REFUND, "expiry", -share, grant_id)
                else:
                    grant.remaining += share

    def unowe(self, t: dt.datetime, key: tuple, before: Decimal, after: Decimal) -> None:
        """Reverse a voided debit's shortfall while it is still owed (not repaid, not
        settled): exactly the part of its own span that is still in an owed chunk."""
        for chunk in list(self.owed):
            if (chunk.segment_start, chunk.eligibility) != key:
                continue
            back = chunk.cut(before, after)
            if back > 0:
                self.book(t, RANK_VOID_REFUND, "void", back)
            if chunk.amount == 0:
                self.owed.remove(chunk)

    def refund(self, r: Refund) -> None:
        grant = self.grants_by_id.get(r.grant_id)
        if grant is None or grant.closed:
            return
        if grant.remaining > 0 and (grant.expires_at is None or r.refunded_at < grant.expires_at):
            self.book(r.refunded_at, RANK_VOID_REFUND, "refund", -grant.remaining, grant.grant_id)
            grant.remaining = ZERO
        grant.closed = True

    def amend(self, m: Amendment) -> None:
        """A grant amendment at its instant (docs/ledger.md "Grant amendments"). A void takes
        what is left of the grant out of the balance as one `grant_void` entry and closes
        it; a set_expiry makes it expire at the new instant, never before now. Neither acts
        on a grant already closed (refunded or voided) or expired."""
        t = m.effective_at
        grant = self.grants_by_id.get(m.grant_id)
        live = (
            grant is not None
            and not grant.closed
            and (grant.expires_at is None or t < grant.expires_at)
        )
        if live and m.action == "void":
            if grant.remaining > 0:
                self.book(t, RANK_VOID_REFUND, "grant_void", -grant.remaining, grant.grant_id)
                grant.remaining = ZERO
            grant.closed = True
        elif live:
            self.move_expiry(grant, m.expiry_instant, t)
        self.out.amendments.append(
            {
                "amendment_id": m.amendment_id,
                "grant_id": m.grant_id,
                "effective_at": t,
                "outcome": "applied" if live else "no_effect",
                "expires_at": grant.expires_at if live and m.action == "set_expiry" else None,
            }
        )

    def move_expiry(self, grant: Grant, ends: dt.datetime, t: dt.datetime) -> None:
        """A new expiry for a grant in effect: its place in the consumption order moves with
        it, and an expiry at the amendment's own instant happens at once (no rollover)."""
        grant.expires_at = ends
        if any(g is grant for _, g in self.active):
            self.active = [item for item in self.active if item[1] is not grant]
            bisect.insort(self.active, (grant.key, grant), key=lambda item: item[0])
        if ends == t:
            self.expire_at(t, [grant], is_period_end=False, rank=RANK_VOID_REFUND)

    # --- usage -----------------------------------------------------------------------------

    def draw(
        self,
        segment: Segment,
        position: Decimal,
        stop: Decimal,
        t: dt.datetime,
        grants: list[Grant] | None = None,
    ) -> None:
        """Cover the span [position, stop) of a segment's running total, in consumption order:
        from `grants` when the caller knows the class's eligible grants at t, else from
        those `eligible` finds."""
        amount = stop - position
        spans = (
            self.spans_by_segment.setdefault(segment.key, [])
            if segment.key in self.keep_spans
            else None
        )
        for grant in list(self.eligible(t, segment.scopes)) if grants is None else grants:
            if amount <= 0:
                break
            if grant.remaining <= 0:
                continue
            take = min(grant.remaining, amount)
            grant.remaining -= take
            self.balance -= take
            self.emit_span(segment, position, position + take, grant.grant_id, "usage", spans)
            position += take
            amount -= take
        if amount > 0:
            kind = self.shortfall_kind(t)
            self.owed.append(
                Owed(kind, segment.start, [[position, position + amount]], segment.eligibility)
            )
            self.balance -= amount
            self.emit_span(segment, position, position + amount, None, kind, spans)

    def emit_span(self, segment, span_from, span_to, grant_id, kind, spans) -> None:
        """Record that [span_from, span_to) of the segment's class total is drawn on the grant
        (or is a shortfall of `kind`). A span that goes on where the last one of its segment
        and class stops, on the same grant, extends it: every debit lies inside one run, so
        each debit's share of each grant (int_usage_allocated_to_grants) is the same."""
        last = self.last_span.get(segment.key)
        if (
            last is not None
            and last["position_to"] == span_from
            and last["grant_id"] == grant_id
            and last["entry_type"] == kind
        ):
            last["position_to"] = span_to
            if spans is not None:
                spans[-1] = (spans[-1][0], span_to, grant_id, kind)
            return
        self.spans_emitted += 1
        span = {
            "segment_start_at": segment.start,
            "eligibility_class": segment.eligibility,
            "segment_first_at": segment.first_at,
            "position_from": span_from,
            "position_to": span_to,
            "grant_id": grant_id,
            "entry_type": kind,
            "span_seq": self.spans_emitted,
        }
        self.out.spans.append(span)
        self.last_span[segment.key] = span
        if spans is not None:
            spans.append((span_from, span_to, grant_id, kind))

    def topup_setting(self, t: dt.datetime) -> TopupSetting | None:
        active = [s for s in self.data.topups if s.active_at(t)]
        return max(active, key=lambda s: s.enabled_from) if active else None

    def can_top_up(self, setting: TopupSetting | None, t: dt.datetime) -> bool:
        if setting is None:
            return False
        done = self.topups_by_period.get(period_of(t), 0)
        return setting.max_per_period is None or done < setting.max_per_period

    def buy_topup(self, setting: TopupSetting, t: dt.datetime) -> None:
        self.topup_count += 1
        period = period_of(t)
        self.topups_by_period[period] = self.topups_by_period.get(period, 0) + 1
        grant = Grant(
            grant_id=f"auto_topup:{self.data.customer_id}:{t.isoformat()}:{self.topup_count}",
            customer_id=self.data.customer_id,
            kind="auto_topup",
            credits=setting.bundle_credits,
            effective_at=t,
            expires_at=(t + dt.timedelta(days=setting.expires_after_days))
            if setting.expires_after_days
            else None,
            priority=setting.priority,
            cost_basis_per_credit=setting.cost_basis_per_credit,
            currency=setting.currency,
            paid_amount=setting.price_amount,
            source_type="auto_topup",
            source_id=f"{self.data.customer_id}:{self.topup_count}",
            applies_to=setting.applies_to,
        )
        self.created(grant)
        self.take_effect(t, grant)
        self.schedule_expiry(grant)

    def schedule_expiry(self, grant: Grant) -> None:
        """Expiry of a grant the walk created: not among the instants SQL knew of."""
        if grant.expires_at is not None and grant.expires_at <= self.as_of:
            bisect.insort(
                self.dynamic_expiries, (grant.expires_at, grant.key, grant), key=lambda e: e[:2]
            )

    def run_usage(self, runs: list[Segment]) -> None:
        """The debits of one segment, its runs in debit order: split where a top-up is bought
        or a top-up grant expires (`run_segment`), else drawn in stretches (`draw_runs`)."""
        if self.inside_needs_positions(runs[0].start, max(run.last_at for run in runs)):
            for run in runs:
                self.run_segment(run)
            return
        self.draw_runs(runs)

    def inside_needs_positions(self, start: dt.datetime, last_at: dt.datetime) -> bool:
        """Whether something may happen between two debits of a segment: a top-up bought, or
        a top-up grant expiring. Only then are debit positions read."""
        return self.topup_setting(start) is not None or any(
            start < e[0] <= last_at for e in self.dynamic_expiries
        )

    def draw_runs(self, runs: list[Segment]) -> None:
        """Draw a segment's runs as run by run would, in as few steps as that allows. Nothing
        changes which grants a class may draw on inside a segment (every instant where that
        changes starts one), so each class's eligible grants are found once. With several
        classes, the longest stretch of runs whose classes do not compete (`classes_apart`)
        is drawn a class at a time, then the next: a stretch that competes only competes
        more as it grows, so the longest is found by galloping and halving, and a segment
        whose classes never compete is one stretch."""
        eligible: dict[str, list[Grant]] = {}
        runs_of: dict[str, list[int]] = {}
        for i, run in enumerate(runs):
            if run.eligibility not in eligible:
                eligible[run.eligibility] = list(self.eligible(run.first_at, run.scopes))
            runs_of.setdefault(run.eligibility, []).append(i)

        def stretch(i: int, j: int) -> list[Segment]:
            """runs[i:j] summed per class (a class's runs follow on in its running total)."""
            summed = []
            for eligibility in sorted(runs_of):
                index = runs_of[eligibility]
                lo, hi = bisect.bisect_left(index, i), bisect.bisect_left(index, j)
                if lo < hi:
                    first, last = runs[index[lo]], runs[index[hi - 1]]
                    summed.append(
                        Segment(
                            start=first.start,
                            credits=last.position_from + last.credits - first.position_from,
                            first_at=first.first_at,
                            last_at=last.last_at,
                            eligibility=eligibility,
                            position_from=first.position_from,
                        )
                    )
            return summed

        def apart(i: int, j: int) -> bool:
            return len(runs_of) == 1 or self.classes_apart(stretch(i, j), eligible)

        i, n = 0, len(runs)
        while i < n:
            if not any(g.remaining > 0 for grants in eligible.values() for g in grants):
                stretches = [[run] for run in runs[i:]]  # all short: the owed queue in order
                take = n - i
            else:
                good, bad = 1, n - i  # one run is always apart; the whole rest may not be
                if apart(i, n):
                    good = bad
                else:
                    probe = 2
                    while probe < bad and apart(i, i + probe):
                        good, probe = probe, probe * 2
                    bad = min(bad, probe)
                    while bad - good > 1:
                        middle = (good + bad) // 2
                        good, bad = (middle, bad) if apart(i, i + middle) else (good, middle)
                take = good
                stretches = [[runs[i]]] if take == 1 else [stretch(i, i + take)]
            for stretch_runs in stretches:
                for segment in stretch_runs:
                    end = segment.position_from + segment.credits
                    grants = eligible[segment.eligibility]
                    self.draw(segment, segment.position_from, end, segment.first_at, grants)
            i += take

    def classes_apart(self, summed: list[Segment], eligible: dict[str, list[Grant]]) -> bool:
        """Whether each class can draw its total alone: drawn so, one after the other from
        the same state, no grant is asked for more than it holds and at most one class
        falls short. Then no class takes anything another would have had, in any order of
        their debits, and the owed queue keeps its debit order (one new shortfall)."""
        wanted: dict[str, Decimal] = {}
        held: dict[str, Decimal] = {}
        short = 0
        for segment in summed:
            amount = segment.credits
            for grant in eligible[segment.eligibility]:
                if amount <= 0:
                    break
                if grant.remaining <= 0:
                    continue
                take = min(grant.remaining, amount)
                wanted[grant.grant_id] = wanted.get(grant.grant_id, ZERO) + take
                held[grant.grant_id] = grant.remaining
                amount -= take
            short += amount > 0
        return short <= 1 and all(wanted[g] <= held[g] for g in wanted)

    def run_segment(self, segment: Segment) -> None:
        """Debit one run; split it where a top-up is bought or a top-up grant expires."""
        position, end = segment.position_from, segment.position_from + segment.credits
        setting = self.topup_setting(segment.start)
        if not self.inside_needs_positions(segment.start, segment.last_at):
            self.draw(segment, position, end, segment.first_at)
            return
        pos = self.data.positions(*segment.key)
        i = bisect.bisect_right(pos.after, position)  # the next debit not yet covered
        last = bisect.bisect_right(pos.after, end) - 1  # the run's last debit
        while position < end:
            # The next top-up grant expiring inside this run splits it.
            expiry = next(
                (e for e in self.dynamic_expiries if segment.start < e[0] <= segment.last_at), None
            )
            stop_index = last
            if expiry is not None:
                k = bisect.bisect_left(pos.booked_at, expiry[0], lo=i, hi=last + 1)
                stop_index = min(stop_index, k - 1)
            crossing = None
            if self.can_top_up(setting, segment.first_at):
                # First debit after which balance − (after − position) < threshold; a debit of
                # zero credits never buys.
                limit = max(position + self.balance - setting.threshold, position)
                j = bisect.bisect_right(pos.after, limit, lo=i, hi=last + 1)
                if j <= stop_index:
                    crossing = j
                    stop_index = j
            stop = pos.after[stop_index] if stop_index >= i else position
            if stop > position:
                self.draw(segment, position, stop, pos.booked_at[i])
                position = stop
            i = stop_index + 1
            if crossing is not None:
                self.buy_topup(setting, pos.booked_at[crossing])
            elif expiry is not None and stop_index < last:
                self.dynamic_expiries.remove(expiry)
                self.expire_at(expiry[0], [expiry[2]], is_period_end=False)

    # --- the timeline -------------------------------------------------------------------

    def run(self) -> WalkOutput:
        """Walk the timeline instant by instant, from the start or from the checkpoint."""
        self.grants_by_id = {g.grant_id: g for g in self.data.grants}
        self.created_all: list[Grant] = []
        resume_at = self.restore(self.data.checkpoint) if self.data.checkpoint else None
        first_end = resume_at if resume_at is not None else self.first_period_end()
        if first_end is None:
            return self.out  # no grant and no debit: nothing to walk
        actions = self.input_actions(resume_at) + self.period_end_actions(first_end)
        actions.sort(key=lambda a: (a[0], a[1], a[2]))  # instant, same-instant rank, tie
        for at, group in groupby(actions, key=itemgetter(0)):
            self.act_at(at, list(group), resume_at)
        self.flush_dynamic_expiries(before=self.as_of, inclusive=True)
        return self.out

    def input_actions(self, resume_at: dt.datetime | None) -> list[tuple]:
        """What the inputs do up to the clock, as (at, rank, tie, kind, payload): grants
        taking effect and expiring, voids, refunds, grant amendments and usage segments. A
        resumed walk keeps only what acts from the checkpoint on (its segments already start
        there). An amendment's new expiry is an expiry action too; `act_at` expires a grant
        only at the instant it then expires at."""
        data, as_of = self.data, self.as_of
        after = (lambda t: t >= resume_at) if resume_at else (lambda t: True)  # noqa: E731
        actions: list[tuple] = []
        for g in data.grants:
            if g.effective_at <= as_of and after(g.effective_at):
                actions.append((g.effective_at, RANK_GRANT, (g.credits < 0, g.key), "grant", g))
            if (
                g.expires_at is not None
                and g.expires_at <= as_of
                and g.credits > 0
                and after(g.expires_at)
            ):
                actions.append((g.expires_at, RANK_EXPIRY, g.key, "expiry", g))
        for v in data.voids:
            if v.voided_at <= as_of and after(v.voided_at):
                actions.append((v.voided_at, RANK_VOID_REFUND, (0, v.event_id), "void", v))
        for r in data.refunds:
            if r.refunded_at <= as_of and after(r.refunded_at):
                actions.append((r.refunded_at, RANK_VOID_REFUND, (1, r.refund_id), "refund", r))
        for m in data.amendments:
            if m.effective_at <= as_of and after(m.effective_at):
                actions.append((m.effective_at, RANK_VOID_REFUND, (2, m.amendment_id), "amend", m))
            ends, g = m.expiry_instant, self.grants_by_id.get(m.grant_id)
            if (
                g is not None
                and ends is not None
                and m.effective_at < ends <= as_of
                and after(ends)
            ):
                actions.append((ends, RANK_EXPIRY, g.key, "expiry", g))
        runs: dict[dt.datetime, list[Segment]] = {}
        for seg in data.segments:
            runs.setdefault(seg.start, []).append(seg)
        for n, (start, segment_runs) in enumerate(sorted(runs.items())):
            segment_runs.sort(key=lambda run: run.run_seq)
            actions.append((start, RANK_USAGE, (n,), "usage", segment_runs))
        return actions

    def first_period_end(self) -> dt.datetime | None:
        """The end of the month of the first grant or debit; None when there is neither."""
        grants, segments = self.data.grants, self.data.segments
        starts = [g.effective_at for g in grants] + [s.first_at for s in segments]
        return add_months(month_start(min(starts)), 1) if starts else None

    def period_end_actions(self, end: dt.datetime) -> list[tuple]:
        """Each month end from `end` up to the clock."""
        actions: list[tuple] = []
        while end <= self.as_of:
            actions.append((end, RANK_PERIOD_END, (), "period_end", end))
            end = add_months(end, 1)
        return actions

    def act_at(self, at: dt.datetime, group: list[tuple], resume_at: dt.datetime | None) -> None:
        """Everything at one instant, in the same-instant order (contract §4): period end,
        expiries, grants (with the rollovers those expiries made), voids, refunds, grant
        amendments, usage."""
        is_period_end = any(a[3] == "period_end" for a in group)
        # The state before anything here acts; a resumed walk has the one it resumed from.
        if is_period_end and (resume_at is None or at > resume_at):
            self.take_checkpoint(at)
        self.flush_dynamic_expiries(before=at)
        # A segment of debits before any instant is placed at the epoch; it acts when
        # its first debit does.
        acts = min((a[4][0].first_at if a[3] == "usage" else at) for a in group)
        self.first_act = acts if self.first_act is None else min(self.first_act, acts)
        # An amendment may have moved a grant's expiry away from this instant.
        expiring = list(
            {id(a[4]): a[4] for a in group if a[3] == "expiry" and a[4].expires_at == at}.values()
        )
        expiring += [e[2] for e in self.dynamic_expiries if e[0] == at]
        self.dynamic_expiries = [e for e in self.dynamic_expiries if e[0] != at]
        for a in group:
            if a[3] == "period_end":
                self.period_end(at)
        rollovers = self.expire_at(at, expiring, is_period_end) if expiring else []
        arriving = [a[4] for a in group if a[3] == "grant"] + rollovers
        if arriving:  # most instants only debit: no call for them
            self.arrive(at, arriving)
        for a in group:
            if a[3] == "void":
                self.void(a[4])
        for a in group:
            if a[3] == "refund":
                self.refund(a[4])
        for a in group:
            if a[3] == "amend":
                self.amend(a[4])
        for a in group:
            if a[3] == "usage":
                self.run_usage(a[4])

    def arrive(self, at: dt.datetime, grants: list[Grant]) -> None:
        """Grants taking effect at `at`: positive ones in consumption order, then negative
        adjustments. A rollover is one the walk made, known from now on."""
        for g in sorted(grants, key=lambda g: (g.credits < 0, g.key)):
            if g.credits > 0:
                if g.kind == "rollover":
                    self.created(g)
                    self.schedule_expiry(g)
                self.take_effect(at, g)
            elif g.credits < 0:
                self.adjust(at, -g.credits, g.grant_id)

    def created(self, grant: Grant) -> None:
        """A grant the walk made (a top-up or a rollover): an output, and known from now on."""
        self.out.created.append(grant)
        self.created_all.append(grant)
        self.grants_by_id[grant.grant_id] = grant

    # --- checkpoints (docs/incremental.md) --------------------------------------------------

    def take_checkpoint(self, at: dt.datetime) -> None:
        """The state before anything at `at` (a period end) happens, when anything happened
        before it: what a later build needs to walk on from there and nowhere earlier."""
        self.flush_dynamic_expiries(before=at)
        if self.first_act is None or self.first_act >= at:
            return
        active = {id(g) for _, g in self.active}
        created = {g.grant_id for g in self.created_all}

        def state(g: Grant) -> dict:
            return {
                "remaining": str(g.remaining),
                "closed": g.closed,
                "active": id(g) in active,
                "expires_at": _text(g.expires_at),  # an amendment may have moved it
            }

        self.out.checkpoints.append(
            {
                "at": at.isoformat(),
                "inputs": inputs_before(self.data, at),
                "balance": str(self.balance),
                "seq": self.seq,
                "spans_emitted": self.spans_emitted,
                "topup_count": self.topup_count,
                "topups_by_period": dict(self.topups_by_period),
                "grants": {
                    g.grant_id: state(g)
                    for g in self.data.grants
                    if g.effective_at < at and g.grant_id not in created
                },
                "created": [
                    {**{f: _text(getattr(g, f)) for f in GRANT_FIELDS}, **state(g)}
                    for g in self.created_all
                ],
                "owed": [
                    {
                        "kind": o.kind,
                        "segment_start": _text(o.segment_start),
                        "spans": [[str(a), str(b)] for a, b in o.spans],
                        "eligibility": o.eligibility,
                    }
                    for o in self.owed
                ],
            }
        )

    def restore(self, checkpoint: dict) -> dt.datetime:
        """Take up the state a checkpoint kept; returns its instant."""
        at = dt.datetime.fromisoformat(checkpoint["at"])
        if inputs_before(self.data, at) != checkpoint["inputs"]:
            raise CheckpointMismatch(
                f"customer {self.data.customer_id}: a grant, void, refund, subscription, "
                f"top-up setting or grant amendment dated before {at.isoformat()} (a closed "
                "period) differs from what the last close saw; closed periods never change"
            )
        self.first_act = dt.datetime.min  # the checkpoint stands for what acted before
        self.balance = Decimal(checkpoint["balance"])
        self.seq = checkpoint["seq"]
        self.spans_emitted = checkpoint["spans_emitted"]
        self.topup_count = checkpoint["topup_count"]
        self.topups_by_period = dict(checkpoint["topups_by_period"])
        for row in checkpoint["created"]:
            grant = Grant(
                grant_id=row["grant_id"],
                customer_id=row["customer_id"],
                kind=row["kind"],
                credits=Decimal(row["credits"]),
                effective_at=_instant(row["effective_at"]),
                expires_at=_instant(row["expires_at"]),
                priority=int(row["priority"]),
                cost_basis_per_credit=Decimal(row["cost_basis_per_credit"]),
                currency=row["currency"],
                paid_amount=None if row["paid_amount"] is None else int(row["paid_amount"]),
                source_type=row["source_type"],
                source_id=row["source_id"],
                applies_to=row["applies_to"],
            )
            self.created_all.append(grant)
            self.grants_by_id[grant.grant_id] = grant
        states = {**checkpoint["grants"], **{r["grant_id"]: r for r in checkpoint["created"]}}
        for grant_id, st in states.items():
            grant = self.grants_by_id[grant_id]
            grant.remaining = Decimal(st["remaining"])
            grant.closed = st["closed"]
            if "expires_at" in st:
                grant.expires_at = _instant(st["expires_at"])
            if st["active"]:
                bisect.insort(self.active, (grant.key, grant), key=lambda item: item[0])
        for grant in self.created_all:
            if (
                grant.expires_at is not None
                and grant.expires_at >= at
                and states[grant.grant_id]["active"]
            ):
                self.schedule_expiry(grant)
        self.owed = deque(
            Owed(
                o["kind"],
                _instant(o["segment_start"]),
                [[Decimal(a), Decimal(b)] for a, b in o["spans"]],
                o["eligibility"],
            )
            for o in checkpoint["owed"]
        )
        for key, spans in self.data.prior_spans.items():
            if key in self.keep_spans:
                self.spans_by_segment[key] = list(spans)
        return at

    def flush_dynamic_expiries(self, before: dt.datetime, inclusive: bool = False) -> None:
        """Expire top-up grants whose expiry falls strictly between processed instants."""
        while self.dynamic_expiries and (
            self.dynamic_expiries[0][0] < before
            or (inclusive and self.dynamic_expiries[0][0] <= before)
        ):
            at, _, grant = self.dynamic_expiries.pop(0)
            self.expire_at(at, [grant], is_period_end=False)


def walk_customer(
    data: CustomerInput, as_of: dt.datetime, resume_from: dt.datetime | None = None
) -> WalkOutput:
    """The ledger of one customer as of the clock: entries, segment spans, created grants,
    and the state at each period end, for a later build to resume from. With
    `data.checkpoint`, the walk starts at that checkpoint instead of the beginning.

    `resume_from` says the build resumes there: `data.segments` then start there, and a
    customer without a checkpoint must have nothing acting before it."""
    if resume_from is not None and data.checkpoint is None and _acts_before(data, resume_from):
        raise CheckpointMismatch(
            f"customer {data.customer_id}: a grant, void, refund or grant amendment dated before "
            f"{resume_from.isoformat()} (a closed period) arrived after the close; "
            "closed periods never change"
        )
    return Walk(data, as_of).run()


def _acts_before(data: CustomerInput, at: dt.datetime) -> bool:
    """Whether a customer's grants, voids, refunds or grant amendments act before `at`."""
    return (
        any(g.effective_at < at for g in data.grants)
        or any(v.voided_at < at for v in data.voids)
        or any(r.refunded_at < at for r in data.refunds)
        or any(m.effective_at < at for m in data.amendments)
    )
