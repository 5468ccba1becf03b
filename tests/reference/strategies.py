"""Random customers for the ledger tests: one generator, driven two ways.

`generate_customer(customer_id, choose)` builds one customer's `Scenario` from a source of
choices. Two sources exist:
- `customer_scenario(customer_id)`: a hypothesis strategy, every choice a hypothesis draw,
  so failures shrink. The reference's property tests use it.
- `seeded_customer(customer_id, seed)`: a `random.Random(seed)`. A comparison against the
  warehouse draws hundreds of customers into one dbt build, which is far more choices than
  one hypothesis example may hold (its buffer is 8 KiB of choices), so there hypothesis
  draws one master seed and each customer is `seeded_customer(id, f"{master}:{i}")`,
  reproducible from the seed printed on failure.

Instants sit on a whole-hour grid inside [2026-01-01, 2026-04-01] and are often pulled onto
"special" instants (period boundaries, plan changes, grant starts and expiries) so that
the same-instant rules are exercised.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol, TypeVar

from hypothesis import strategies as st

from .scenario import (
    AutoTopup,
    Customer,
    Event,
    FeedGrant,
    GrantAmendment,
    Purchase,
    Refund,
    Scenario,
    Subscription,
    Void,
)

T = TypeVar("T")

START = dt.datetime(2026, 1, 1)
AS_OF = dt.datetime(2026, 4, 1)
HOURS = int((AS_OF - START).total_seconds() // 3600)
MONTH_STARTS = [dt.datetime(2026, m, 1) for m in (1, 2, 3, 4)]

PLANS = ("free", "pro", "rollover_pro", "trial", "fast_plan")
# Billed plans weigh more so that overage is as common as unfunded usage.
PLAN_MIX = ("free", "pro", "rollover_pro", "rollover_pro", "trial", "fast_plan")
BUNDLE_PRICES = {  # the test catalog's prices, for realistic amounts paid
    "pack_1k": {"USD": 1000, "EUR": 950},
    "pack_5k": {"USD": 4500, "EUR": 4200},
    "topup_small": {"USD": 333, "EUR": 310},
    "fast_pack": {"USD": 150, "EUR": 140},  # applies to fast_tokens only
    "ultra_topup": {"USD": 120, "EUR": 110},  # ultra_tokens and priority_requests
}
BUNDLE_DAYS = {
    "pack_1k": 30,
    "pack_5k": None,
    "topup_small": 90,
    "fast_pack": 30,
    "ultra_topup": 60,
}
PLAN_ALLOWANCE_DAYS = {"trial": 20}
MODELS = ("nova-fast", "nova-ultra", "nova-pro")
# The grants feed's applies_to (contract §8.1): mostly every aggregator; the scopes name an
# aggregator, a credit product, or several ids (in no particular order).
FEED_SCOPES = (
    "", "", "", "fast_tokens", "ai_credits", "ultra_tokens|priority_requests",
    "pro_tokens|fast_tokens",
)  # fmt: skip


class Choices(Protocol):
    def pick(self, options: Sequence[T]) -> T: ...
    def integer(self, low: int, high: int) -> int: ...
    def chance(self, percent: int) -> bool: ...


class RandomChoices:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def pick(self, options):
        return options[self.rng.randrange(len(options))]

    def integer(self, low, high):
        return self.rng.randint(low, high)

    def chance(self, percent):
        return self.rng.randrange(100) < percent


class HypothesisChoices:
    def __init__(self, draw):
        self.draw = draw

    def pick(self, options):
        return self.draw(st.sampled_from(list(options)))

    def integer(self, low, high):
        return self.draw(st.integers(low, high))

    def chance(self, percent):
        # Shrinks towards 0, i.e. towards "no".
        return self.draw(st.integers(0, 99)) >= 100 - percent


def _grid(choose: Choices, specials: Sequence[dt.datetime] = ()) -> dt.datetime:
    """An instant on the hour grid, or (one time in three) a special instant."""
    inside = sorted({s for s in specials if START <= s <= AS_OF})
    if inside and choose.chance(33):
        return choose.pick(inside)
    return START + dt.timedelta(hours=choose.integer(0, HOURS))


def _after(choose: Choices, at: dt.datetime, specials: Sequence[dt.datetime]) -> dt.datetime:
    """An instant strictly after `at`, ≤ the clock when possible (special or on the grid)."""
    later = sorted({s for s in specials if at < s <= AS_OF})
    if later and choose.chance(40):
        return choose.pick(later)
    return at + dt.timedelta(hours=choose.integer(1, 24 * choose.pick((1, 7, 30, 60))))


def _spells(customer_id: str, choose: Choices) -> list[Subscription]:
    shape = choose.pick(("none", "one", "one", "one", "change", "change"))
    if shape == "none":
        return []
    first = _grid(choose, MONTH_STARTS[:3])
    if first >= AS_OF:
        first = AS_OF - dt.timedelta(hours=1)
    plan = choose.pick(PLAN_MIX)
    if shape == "one":
        ended = _after(choose, first, MONTH_STARTS) if choose.chance(25) else None
        return [Subscription(customer_id, plan, first, ended)]
    change = _after(choose, first, MONTH_STARTS)
    other = choose.pick([p for p in PLANS if p != plan])
    ended = _after(choose, change, MONTH_STARTS) if choose.chance(20) else None
    return [
        Subscription(customer_id, plan, first, change),
        Subscription(customer_id, other, change, ended),
    ]


def _allowance_instants(spells: list[Subscription]) -> list[dt.datetime]:
    """Where allowances start and expire (approximately: enough to aim events at)."""
    out = []
    for spell in spells:
        out.append(spell.started_at)
        if spell.ended_at:
            out.append(spell.ended_at)
        days = PLAN_ALLOWANCE_DAYS.get(spell.plan_id)
        if days:
            out.append(spell.started_at + dt.timedelta(days=days))
            out.extend(m + dt.timedelta(days=days) for m in MONTH_STARTS)
    return out


def generate_customer(customer_id: str, choose: Choices) -> Scenario:
    """One random customer (see the module docstring)."""
    currency = choose.pick(("USD", "USD", "EUR", None))
    spells = _spells(customer_id, choose)
    specials = [*MONTH_STARTS, *_allowance_instants(spells)]

    purchases, refunds = [], []
    for i in range(choose.integer(0, 3)):
        bundle = choose.pick(tuple(BUNDLE_PRICES))
        quantity = choose.pick((1, 1, 2))
        at = _grid(choose, specials)
        paid_currency = currency or "USD"
        amount = choose.pick((BUNDLE_PRICES[bundle][paid_currency] * quantity, 0, 777, 1001))
        status = choose.pick(("succeeded", "succeeded", "refunded", "failed"))
        purchase_id = f"{customer_id}-p{i}"
        purchases.append(
            Purchase(purchase_id, customer_id, bundle, quantity, at, amount, paid_currency, status)
        )
        specials.append(at)
        if BUNDLE_DAYS[bundle]:
            specials.append(at + dt.timedelta(days=BUNDLE_DAYS[bundle]))
        if status == "refunded":
            refunded_at = at if choose.chance(10) else _after(choose, at, specials)
            refunds.append(Refund(f"{customer_id}-r{i}", purchase_id, refunded_at))

    grants = []
    for i in range(choose.integer(0, 3)):
        kind = choose.pick(("promotional", "promotional", "starting_balance", "compensation"))
        effective = _grid(choose, specials)
        if kind == "promotional" or choose.chance(30):
            expires = _after(choose, effective, specials)
        else:
            expires = None
        grants.append(
            FeedGrant(
                grant_id=f"{customer_id}-g{i}",
                customer_id=customer_id,
                kind=kind,
                credits=Decimal(choose.pick(("50", "100", "250.5", "1000", "3000"))),
                effective_at=effective,
                expires_at=expires,
                priority=choose.pick((None, None, 10, 50, 90)),
                cost_basis_per_credit=choose.pick((None, None, Decimal("0"), Decimal("0.5"))),
                applies_to=choose.pick(FEED_SCOPES),
            )
        )
        specials.append(effective)
        if expires:
            specials.append(expires)
    if choose.chance(30):
        grants.append(
            FeedGrant(
                grant_id=f"{customer_id}-adj",
                customer_id=customer_id,
                kind="adjustment",
                credits=-Decimal(choose.pick(("10", "75.25", "400"))),
                effective_at=_grid(choose, specials),
                applies_to=choose.pick(FEED_SCOPES),
            )
        )

    topups = []
    if choose.chance(35):
        enabled_from = START if choose.chance(50) else _grid(choose, specials)
        enabled_to = _after(choose, enabled_from, specials) if choose.chance(25) else None
        topups.append(
            AutoTopup(
                customer_id=customer_id,
                threshold=Decimal(choose.pick(("0", "50", "200", "1000"))),
                bundle_id=choose.pick(("topup_small", "topup_small", "pack_1k", "ultra_topup")),
                max_per_period=choose.pick((None, 1, 2, 3)),
                enabled_from=enabled_from,
                enabled_to=enabled_to,
            )
        )
        if choose.chance(20) and enabled_from < AS_OF:
            # A later setting overlapping the first: the latest enabled_from wins.
            topups.append(
                AutoTopup(
                    customer_id=customer_id,
                    threshold=Decimal(choose.pick(("100", "500"))),
                    bundle_id="topup_small",
                    max_per_period=choose.pick((None, 1)),
                    enabled_from=_after(choose, enabled_from, specials),
                )
            )

    events = []
    for i in range(choose.integer(0, 40)):
        model = choose.pick(MODELS)
        tokens = choose.integer(0, 2_000) if choose.chance(60) else choose.integer(0, 60_000)
        properties: dict[str, object] = {"model": model, "tokens": tokens, "user_id": "u1"}
        if choose.chance(15):
            properties["priority"] = "high"
        event_type = "api_request" if choose.chance(5) else "llm_token_usage"
        events.append(
            Event(
                f"{customer_id}-e{i:02d}",
                customer_id,
                event_type,
                _grid(choose, specials),
                properties,
            )
        )

    voids = []
    if events:
        for _ in range(choose.integer(0, 2)):
            event = choose.pick(events)
            if event.timestamp >= AS_OF or any(v.event_id == event.event_id for v in voids):
                continue
            voids.append(
                Void(event.event_id, min(AS_OF, _after(choose, event.timestamp, specials)))
            )

    # Drawn last, so that the choices above are those of a customer without amendments.
    amendments = _amendments(customer_id, choose, spells, purchases, grants, specials)

    return Scenario(
        customers=[Customer(customer_id, currency=currency, name=f"Customer {customer_id}")],
        subscriptions=spells,
        purchases=purchases,
        grants=grants,
        auto_topups=topups,
        voids=voids,
        refunds=refunds,
        events=events,
        grant_amendments=amendments,
    )


def _amendable(customer_id, spells, purchases, grants) -> list[tuple[str, dt.datetime]]:
    """The customer's grants an amendment may name: (grant_id, effective_at)."""
    out = [(f"purchase:{p.purchase_id}", p.purchased_at) for p in purchases if p.status != "failed"]
    out += [(g.grant_id, g.effective_at) for g in grants if g.credits > 0]
    for spell in spells:
        starts = [spell.started_at] + [
            m
            for m in MONTH_STARTS
            if spell.started_at < m and (not spell.ended_at or m < spell.ended_at)
        ]
        out += [
            (f"subscription:{spell.plan_id}:{customer_id}:{m:%Y-%m-%dT%H:%M:%S}", m)
            for m in starts
            if m <= AS_OF
        ]
    return out


def _amendments(customer_id, choose, spells, purchases, grants, specials) -> list[GrantAmendment]:
    """A few voids and new expiries, dated before, at or after their grant takes effect (a
    new expiry sometimes before the amendment itself: the grant then expires at once), and
    now and then one naming no grant (quarantined)."""
    targets = _amendable(customer_id, spells, purchases, grants)
    out: list[GrantAmendment] = []
    if not targets or not choose.chance(40):
        return out
    for i in range(choose.integer(1, 3)):
        grant_id, effective = choose.pick(targets)
        action = choose.pick(("void", "set_expiry", "set_expiry"))
        when = choose.pick(("before", "at", "after", "after"))
        if when == "before":
            at = effective - dt.timedelta(hours=choose.integer(1, 72))
        elif when == "at":
            at = effective
        else:
            at = _after(choose, effective, specials)
        new = _after(choose, effective, specials) if action == "set_expiry" else None
        out.append(GrantAmendment(f"{customer_id}-m{i}", grant_id, action, at, new))
    if choose.chance(10):
        out.append(GrantAmendment(f"{customer_id}-m9", f"{customer_id}-nope", "void", AS_OF))
    return out


@st.composite
def customer_scenario(draw, customer_id: str = "c0001") -> Scenario:
    """One random customer, every choice a hypothesis draw (shrinkable)."""
    return generate_customer(customer_id, HypothesisChoices(draw))


def seeded_customer(customer_id: str, seed: str) -> Scenario:
    """One random customer from a seed: `seeded_customer(id, seed)` reproduces it exactly."""
    return generate_customer(customer_id, RandomChoices(random.Random(seed)))
