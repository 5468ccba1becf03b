"""The reference feeds of the synthetic landing (customers, subscriptions, purchases,
refunds, grants, auto top-ups) and the world the events are drawn from.

A few rows are broken on purpose, so that ingest has something to quarantine: a negative
low-balance threshold, a purchase of an unknown bundle, one in a non-ISO currency, and a
grant for a customer that does not exist.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from credits_warehouse.catalog import Bundle, Catalog, Plan
from credits_warehouse.ingest import FEED_COLUMNS, OPTIONAL_FEED_COLUMNS
from credits_warehouse.sample_data.common import (
    DAY,
    NON_BILLABLE_SHARE,
    TOKENS_MEDIAN,
    TOKENS_SIGMA,
    World,
    credit_rates,
    epoch,
    iso,
    model_mix,
)
from credits_warehouse.sample_data.names import address, company, slug

PARETO_ALPHA = 1.3  # the top 5% of customers make about half of the events

COUNTRIES = ("GB", "US", "DE", "FR", "NL")
COUNTRY_P = (0.25, 0.35, 0.15, 0.12, 0.13)
TAX_RATE = {"GB": "0.2", "US": "0", "DE": "0.19", "FR": "0.2", "NL": "0.21"}
CURRENCY = {"GB": "USD", "US": "USD", "DE": "EUR", "FR": "EUR", "NL": "EUR"}

# Customers that set their own low-balance threshold: every LOW_BALANCE_EVERY-th, cycling
# through thresholds above both plans' warning_limit, between them, and 0 (alert only when
# the balance goes negative). Chosen by index, not drawn, so other data stay as they were.
LOW_BALANCE_EVERY = 8
LOW_BALANCE_THRESHOLDS = ("5000", "250", "0")
CUSTOMER_SETTINGS = "customers.jsonl"  # loads after customers.csv (path order): later versions


def _customer_weights(rng: np.random.Generator, n: int) -> np.ndarray:
    # Pareto quantiles, randomly assigned: the shape does not depend on the draw.
    quantiles = (np.arange(n) + 0.5) / n
    weights = quantiles ** (-1.0 / PARETO_ALPHA)
    weights = weights[rng.permutation(n)]
    return weights / weights.sum()


def _plans(catalog: Catalog) -> tuple[str | None, str | None]:
    """The cheapest plan ("free") and the dearest ("pro"), by fee then included credits."""
    if not catalog.plans:
        return None, None

    def cost(plan) -> tuple:
        return (max(plan.fees.values(), default=0), plan.included_credits, plan.id)

    ordered = sorted(catalog.plans, key=cost)
    return ordered[0].id, (ordered[-1].id if len(ordered) > 1 else None)


@dataclass(frozen=True)
class _Population:
    """The customers as drawn, before any feed row: what the feeds and the world share."""

    start: int  # epoch seconds
    end: int  # exclusive
    width: int  # digits of a customer number
    ids: list[str]
    unknown: str  # a customer id that no feed defines
    countries: list[str]
    currency: list[str]
    weight: np.ndarray  # share of events
    rank: np.ndarray  # by weight, 0 = heaviest
    is_new: np.ndarray  # starts some days after `start`
    users: np.ndarray  # user_ids per customer
    active_from: np.ndarray  # epoch seconds; events start here
    created_at: np.ndarray  # epoch seconds

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def span(self) -> int:
        return self.end - self.start


def _draw_population(rng: np.random.Generator, n: int, start: int, end: int) -> _Population:
    """Draw each customer's weight, country and users, and when they were created and start."""
    span = end - start
    width = max(5, len(str(n)))
    weight = _customer_weights(rng, n)
    countries = [COUNTRIES[i] for i in rng.choice(len(COUNTRIES), n, p=COUNTRY_P)]
    is_new = rng.random(n) < 0.35
    if is_new.all():
        is_new[int(np.argmax(weight))] = False
    users = rng.integers(2, 9, n)

    # Activity: existing customers from the start; new ones some days later, business hours.
    max_delay_days = max(0, min(21, span // DAY // 3))
    delay = rng.integers(0, max_delay_days + 1, n) * DAY + rng.integers(8 * 3600, 18 * 3600, n)
    active_from = np.where(is_new, start + delay, start).astype(np.int64)
    created_at = np.where(
        is_new,
        np.minimum(start, active_from - rng.integers(0, 3 * DAY, n)),
        start - rng.integers(14 * DAY, 730 * DAY, n),
    )
    return _Population(
        start=start,
        end=end,
        width=width,
        ids=[f"cus_{i + 1:0{width}d}" for i in range(n)],
        unknown="cus_" + "9" * width if n < 10**width - 1 else f"cus_unknown_{n + 1}",
        countries=countries,
        currency=[CURRENCY[country] for country in countries],
        weight=weight,
        rank=np.argsort(np.argsort(-weight)),
        is_new=is_new,
        users=users,
        active_from=active_from,
        created_at=np.minimum(created_at, start),
    )


def _customer_row(rng: np.random.Generator, people: _Population, i: int) -> list[object]:
    """Customer i's row of customers.csv; the external id is the name's first word and i."""
    country = people.countries[i]
    name = company(rng, i, country)
    first = slug(name.split()[0].split("'")[0]) or "customer"
    local = ("billing", "finance", "accounts", "ap", "ops")[int(rng.integers(5))]
    email = f"{local}@{slug(' '.join(name.split()[:2]))}.example"
    return [
        people.ids[i],
        f"{first}-{i + 1:0{people.width}d}",
        name,
        email,
        address(rng, country),
        country,
        CURRENCY[country],
        TAX_RATE[country],
        iso(people.created_at[i]),
    ]


def _customer_settings(customers: list[list[object]]) -> tuple[list[str], list[list[object]]]:
    """Columns and rows of customers.jsonl: later versions of a few customers with the
    optional low_balance_threshold set, and one with a negative threshold (quarantined, so
    its customers.csv version stays current)."""
    columns = [*FEED_COLUMNS["customers"], *OPTIONAL_FEED_COLUMNS["customers"]]
    settings = [
        [*customers[i], LOW_BALANCE_THRESHOLDS[k % len(LOW_BALANCE_THRESHOLDS)]]
        for k, i in enumerate(range(2, len(customers), LOW_BALANCE_EVERY))
    ]
    settings.append([*customers[0], "-100"])
    return columns, settings


def _first_plans(
    rng: np.random.Generator, people: _Population, free: str | None, pro: str | None
) -> dict[int, str | None]:
    """Each subscribed customer's first plan: ~10% have none; heavy customers mostly pro."""
    n = people.n
    has_sub = rng.random(n) >= 0.10
    pro_p = np.where(people.rank < max(1, n // 5), 0.75, 0.35)
    on_pro = rng.random(n) < pro_p
    if free is None:
        has_sub[:] = False
    if pro is None:
        on_pro[:] = False
    plan_of = {}
    for i in range(n):
        if has_sub[i]:
            plan_of[i] = pro if on_pro[i] else free
    return plan_of


def _subscriptions(
    rng: np.random.Generator, catalog: Catalog, people: _Population
) -> tuple[dict[int, str | None], list[list[object]]]:
    """Each customer's plan and the subscriptions feed; ~10% of customers upgrade free -> pro."""
    n, end, ids, active_from = people.n, people.end, people.ids, people.active_from
    free, pro = _plans(catalog)
    plan_of = _first_plans(rng, people, free, pro)
    upgrade = np.zeros(n, dtype=bool)
    free_subs = np.array([i for i, p in plan_of.items() if p == free and pro is not None])
    if len(free_subs):
        k = min(len(free_subs), max(1, round(0.10 * n)))
        upgrade[rng.choice(free_subs, k, replace=False)] = True
    change_at = active_from + ((end - active_from) * rng.uniform(0.2, 0.8, n)).astype(np.int64)
    subscriptions = []
    for i in range(n):
        if i not in plan_of:
            continue
        if upgrade[i]:
            subscriptions.append([ids[i], free, iso(active_from[i]), iso(change_at[i])])
            subscriptions.append([ids[i], pro, iso(change_at[i]), None])
        else:
            subscriptions.append([ids[i], plan_of[i], iso(active_from[i]), None])
    return plan_of, subscriptions


def _bundles_by_size(catalog: Catalog) -> list[Bundle]:
    return sorted(catalog.bundles, key=lambda b: (b.credits + b.bonus_credits, b.id))


def _expected_credits(catalog: Catalog, people: _Population, events: int) -> np.ndarray:
    """Credits each customer's events will cost over the whole range (floats are fine here)."""
    rates = credit_rates(catalog)
    models, model_p = model_mix(catalog)
    mean_tokens = TOKENS_MEDIAN * math.exp(TOKENS_SIGMA**2 / 2)
    credits_per_event = mean_tokens * sum(
        p * rates.get(m, 0.0) for m, p in zip(models, model_p, strict=True)
    )
    return people.weight * events * (1 - NON_BILLABLE_SHARE) * credits_per_event


def _buy_probability(plan: Plan | None, need: float) -> float:
    """How likely a customer buys bundles: always without a plan, mostly when short."""
    if plan is None:
        return 1.0
    if need > 0:
        return 0.9 if plan.overage == "none" else 0.5
    return 0.12


def _bundle_for(affordable: list[Bundle], need: float) -> Bundle:
    """The last (largest) bundle that fits into `need` twice, else the smallest."""
    bundle = affordable[0]
    for b in affordable:
        if float(b.credits + b.bonus_credits) * 2 <= need:
            bundle = b
    return bundle


def _purchase_times(
    rng: np.random.Generator, people: _Population, i: int, bundle: Bundle, need: float
) -> list[tuple[int, int, str, str]]:
    """Customer i's purchases of `bundle`, enough to cover `need` (at most 24), the first
    soon after they start."""
    end, active_from = people.end, people.active_from
    size = float(bundle.credits + bundle.bonus_credits)
    count = int(min(24, max(1, math.ceil(max(need, 0.0) / size))))
    last = end - DAY if end - DAY > active_from[i] else end - 60
    times = np.sort(rng.integers(active_from[i], max(active_from[i] + 1, last), count))
    times[0] = min(int(times[0]), int(active_from[i]) + int(rng.integers(60, 3 * 3600)))
    times = np.minimum(times, end - 120)
    return [(int(at), i, bundle.id, people.currency[i]) for at in times]


def _planned_purchases(
    rng: np.random.Generator,
    catalog: Catalog,
    bundles: list[Bundle],
    people: _Population,
    plan_of: dict[int, str | None],
    events: int,
) -> list[tuple[int, int, str, str]]:
    """(at, customer, bundle, currency) of every purchase in time order, sized to cover the
    usage the plan does not."""
    usage = _expected_credits(catalog, people, events)
    months = max(1.0, people.span / (30.44 * DAY))
    planned: list[tuple[int, int, str, str]] = []
    for i in range(people.n):
        plan_id = plan_of.get(i)
        plan = catalog.plan(plan_id) if plan_id else None
        included = float(plan.included_credits) * months if plan else 0.0
        need = usage[i] - included
        affordable = [b for b in bundles if people.currency[i] in b.prices]
        if not affordable or rng.random() >= _buy_probability(plan, need):
            continue
        planned += _purchase_times(rng, people, i, _bundle_for(affordable, need), need)
    planned.sort()
    return planned


def _purchase_statuses(rng: np.random.Generator, count: int) -> np.ndarray:
    """0 succeeded, 1 failed, 2 refunded; from three purchases on, each status occurs."""
    statuses = rng.choice(3, count, p=[0.93, 0.05, 0.02])
    if count >= 3:
        pick = rng.choice(count, 2, replace=False)
        if not (statuses == 1).any():
            statuses[pick[0]] = 1
        if not (statuses == 2).any():
            statuses[pick[1]] = 2
    return statuses


def _refund(rng: np.random.Generator, purchase_id: str, at: int, end: int) -> list[object]:
    """A refund within ten days of the purchase; its id is set once all refunds are sorted."""
    refunded_at = min(at + int(rng.integers(3600, 10 * DAY)), end - 60)
    reason = ("customer request", "duplicate charge", "accidental purchase")[int(rng.integers(3))]
    return [None, purchase_id, iso(max(refunded_at, at + 1)), reason]


def _purchase_rows(
    rng: np.random.Generator,
    catalog: Catalog,
    people: _Population,
    planned: list[tuple[int, int, str, str]],
) -> tuple[list[list[object]], list[list[object]]]:
    """The purchases and refunds feeds for the planned purchases; ~10% buy two at once."""
    statuses = _purchase_statuses(rng, len(planned))
    quantities = np.where(rng.random(len(planned)) < 0.1, 2, 1)
    purchases = []
    refunds = []
    rows = zip(planned, statuses, quantities, strict=True)
    for number, ((at, i, bundle_id, cur), status, qty) in enumerate(rows, start=1):
        purchase_id = f"pur_{number:06d}"
        price = catalog.bundle(bundle_id).prices[cur] * int(qty)
        status_name = ("succeeded", "failed", "refunded")[int(status)]
        purchases.append(
            [purchase_id, people.ids[i], bundle_id, int(qty), iso(at), price, cur, status_name]
        )
        if status_name == "refunded":
            refunds.append(_refund(rng, purchase_id, at, people.end))
    refunds.sort(key=lambda r: (r[2], r[1]))
    for k, row in enumerate(refunds, start=1):
        row[0] = f"ref_{k:06d}"
    return purchases, refunds


def _broken_purchases(
    rng: np.random.Generator, bundles: list[Bundle], people: _Population, number: int
) -> list[list[object]]:
    """Deliberately broken purchases, numbered from `number`: an unknown bundle and a
    non-ISO currency. Nothing without bundles."""
    if not bundles:
        return []
    buyer = people.ids[int(rng.integers(people.n))]
    at = people.start + int(rng.integers(0, max(1, people.span - DAY)))
    usd = bundles[0].prices.get("USD", next(iter(bundles[0].prices.values())))
    return [
        [f"pur_{number:06d}", buyer, "pack_unknown", 1, iso(at), 5000, "USD", "succeeded"],
        [f"pur_{number + 1:06d}", buyer, bundles[0].id, 1, iso(at + 600), usd, "usd", "succeeded"],
    ]


# A grant is drawn as (kind, credits, at, expires after days, priority, cost, reason, by).
_GrantArgs = tuple[str, str, int, int | None, int | None, str | None, str, str]
_GRANT_KINDS = frozenset(
    {"promotional", "compensation", "referral", "starting_balance", "adjustment"}
)


def _welcome_grant(catalog: Catalog) -> tuple[str, int]:
    """Credits and lifetime in days of a welcome grant: the `welcome` promotion's, else the
    first promotion's, else 500 for 30 days."""
    promo = next((p for p in catalog.promotions if p.id == "welcome"), None) or (
        catalog.promotions[0] if catalog.promotions else None
    )
    welcome_credits = str(promo.credits) if promo else "500"
    welcome_days = (promo.expires_after_days if promo else 30) or 30
    return welcome_credits, welcome_days


def _grant_row(people: _Population, i: int, grant: _GrantArgs) -> list[object]:
    """A grants row for customer i, `at` first so that rows sort by time; numbered later."""
    kind, credits, at, expires_days, priority, cost, reason, by = grant
    expires = iso(at + expires_days * DAY) if expires_days else None
    return [at, people.ids[i], kind, credits, expires, priority, cost, reason, by]


def _random_time(rng: np.random.Generator, people: _Population, i: int) -> int:
    """A moment between customer i's start and a day before the end."""
    lo = int(people.active_from[i])
    return lo + int(rng.integers(0, max(1, people.end - DAY - lo)))


def _customer_grants(
    rng: np.random.Generator, people: _Population, i: int, welcome: tuple[str, int]
) -> list[_GrantArgs]:
    """Customer i's grants: welcome credits for most new customers, and now and then a launch
    promotion, a referral, a compensation, a migrated balance or an adjustment."""
    welcome_credits, welcome_days = welcome
    grants: list[_GrantArgs] = []
    if people.is_new[i] and rng.random() < 0.85:
        at = int(people.active_from[i])
        grants.append(
            ("promotional", welcome_credits, at, welcome_days, None, None, "welcome", "system")
        )
    if rng.random() < 0.08:
        credits = ("1000", "2500")[int(rng.integers(2))]
        at = _random_time(rng, people, i)
        grants.append(("promotional", credits, at, 60, 10, None, "launch promo", "marketing"))
    if rng.random() < 0.05:
        other = people.ids[int(rng.integers(people.n))]
        at = _random_time(rng, people, i)
        grants.append(("referral", "1000", at, 90, None, None, f"referred {other}", "system"))
    if rng.random() < 0.03:
        credits = str(int(rng.integers(5, 100)) * 50)
        incident = f"INC-{int(rng.integers(100, 999))}"
        at = _random_time(rng, people, i)
        grants.append(("compensation", credits, at, None, None, "0", incident, "support"))
    if not people.is_new[i] and rng.random() < 0.20:
        credits = str(int(rng.integers(10, 500)) * 100)
        cost = "0.8" if rng.random() < 0.5 else None
        at = people.start
        grants.append(("starting_balance", credits, at, None, None, cost, "migrated", "migration"))
    if rng.random() < 0.03:
        cents = int(rng.integers(1, 5000)) * (1 if rng.random() < 0.5 else -1)
        credits = f"{cents / 100:.2f}"
        at = _random_time(rng, people, i)
        grants.append(("adjustment", credits, at, None, None, None, "correction", "finance"))
    return grants


def _missing_grant(rng: np.random.Generator, people: _Population, kind: str) -> list[object]:
    """A grant of `kind` for a random customer, for a kind that no customer drew."""
    i = int(rng.integers(people.n))
    if kind == "starting_balance":
        grant = (kind, "5000", people.start, None, None, "0.8", "migrated", "migration")
        return _grant_row(people, i, grant)
    at = _random_time(rng, people, i)
    if kind == "adjustment":
        grant = (kind, "-25.50", at, None, None, None, "correction", "finance")
    elif kind == "promotional":
        grant = (kind, "1000", at, 60, 10, None, "launch promo", "marketing")
    elif kind == "referral":
        grant = (kind, "1000", at, 90, None, None, "referral", "system")
    else:
        grant = (kind, "750", at, None, None, "0", "INC-101", "support")
    return _grant_row(people, i, grant)


def _grants(
    rng: np.random.Generator,
    catalog: Catalog,
    people: _Population,
    scoped: list[list[object]] | None = None,
) -> list[list[object]]:
    """The grants feed in time order, every kind at least once, and last a grant for a
    customer that does not exist. With `scoped` rows (`_scoped_promos`), every row has the
    optional applies_to column last."""
    welcome = _welcome_grant(catalog)
    drawn = []
    for i in range(people.n):
        drawn += [_grant_row(people, i, g) for g in _customer_grants(rng, people, i, welcome)]
    for kind in sorted(_GRANT_KINDS - {g[2] for g in drawn}):
        drawn.append(_missing_grant(rng, people, kind))
    scope_cell = [] if scoped is None else [""]
    if scoped is not None:
        drawn = [[*g, *scope_cell] for g in drawn] + scoped
    drawn.sort(key=lambda g: (g[0], g[1], g[2]))
    grants = [[f"gr_{k:06d}", *g[1:3], g[3], iso(g[0]), *g[4:]] for k, g in enumerate(drawn, 1)]
    # A grant for a customer that does not exist.
    grants.append(
        [
            f"gr_{len(grants) + 1:06d}",
            people.unknown,
            "promotional",
            "500",
            iso(people.start + people.span // 2),
            None,
            None,
            None,
            "welcome",
            "system",
            *scope_cell,
        ]
    )
    return grants


# Scoped promotions (contract §8.1, `credits generate --scoped-promos`): a quarter of the
# customers get a launch promotion that applies to one aggregator only, drawn first.
SCOPED_PROMO_SHARE = 0.25
SCOPED_PROMO = ("2000", 30, 10)  # credits, days, priority


def _scoped_aggregator(catalog: Catalog) -> str:
    """What a scoped promotion applies to: the catalog's first priced aggregator (fast
    tokens in the shipped catalog, the most used model)."""
    priced = {entry.aggregator for p in catalog.credit_products for entry in p.aggregators}
    return next(a.id for a in catalog.aggregators if a.id in priced)


def _scoped_promos(
    rng: np.random.Generator, catalog: Catalog, people: _Population
) -> list[list[object]]:
    """Grants rows (as `_grant_row` draws them, with applies_to last) of a launch promotion
    for SCOPED_PROMO_SHARE of the customers, at a random moment of their activity. It has
    its own generator, so every other row is the one a run without them writes."""
    credits, days, priority = SCOPED_PROMO
    scope = _scoped_aggregator(catalog)
    k = max(1, round(SCOPED_PROMO_SHARE * people.n))
    chosen = np.sort(rng.choice(people.n, k, replace=False))
    return [
        [
            *_grant_row(
                people,
                int(i),
                (
                    "promotional",
                    credits,
                    _random_time(rng, people, int(i)),
                    days,
                    priority,
                    None,
                    "launch promo",
                    "marketing",
                ),
            ),  # fmt: skip
            scope,
        ]
        for i in chosen
    ]


def _auto_topup(
    rng: np.random.Generator, bundles: list[Bundle], people: _Population, i: int
) -> list[object]:
    """Customer i's auto top-up: a bundle in their currency bought below a threshold; ~20%
    switch it off again."""
    end = people.end
    affordable = [b for b in bundles if people.currency[i] in b.prices] or bundles
    bundle = affordable[int(rng.integers(len(affordable)))]
    threshold = (500, 1000, 2000, 5000)[int(rng.integers(4))]
    enabled_from = int(people.active_from[i]) + int(rng.integers(0, 2 * DAY))
    enabled_to = None
    if rng.random() < 0.2 and end - enabled_from > 2 * DAY:
        enabled_to = iso(enabled_from + int(rng.integers(DAY, end - enabled_from - DAY)))
    quantity = int(rng.integers(1, 5))
    return [
        people.ids[i],
        threshold,
        bundle.id,
        quantity,
        iso(min(enabled_from, end - DAY)),
        enabled_to,
    ]


def _auto_topups(
    rng: np.random.Generator, bundles: list[Bundle], people: _Population, buyers: set[int]
) -> list[list[object]]:
    """Auto top-ups of ~15% of customers, mostly those who buy bundles."""
    if not bundles:
        return []
    n = people.n
    k = max(1, round(0.15 * n))
    p = np.array([4.0 if i in buyers else 1.0 for i in range(n)])
    chosen = np.sort(rng.choice(n, k, replace=False, p=p / p.sum()))
    return [_auto_topup(rng, bundles, people, i) for i in chosen]


def _world(people: _Population, customers: list[list[object]]) -> World:
    return World(
        start=people.start,
        end=people.end,
        customer_ids=people.ids,
        external_ids=[row[1] for row in customers],
        currency=people.currency,
        weight=people.weight,
        users=people.users,
        active_from=people.active_from,
        existing=np.flatnonzero(~people.is_new),
        unknown_customer=people.unknown,
    )


def reference_feeds(
    rng: np.random.Generator,
    catalog: Catalog,
    n: int,
    start_day: dt.date,
    end_day: dt.date,
    events: int,
    scoped_rng: np.random.Generator | None = None,
) -> tuple[World, dict[str, tuple[list[str], list[list[object]]]], dict[str, int]]:
    """The reference feeds (header and rows of each), the world the events are drawn from,
    and how many rows of each feed are deliberately broken. With `scoped_rng`, a quarter of
    the customers also get a scoped promotion (`_scoped_promos`)."""
    # One generator makes every draw: calling these in another order changes the output.
    people = _draw_population(rng, n, epoch(start_day), epoch(end_day))
    customers = [_customer_row(rng, people, i) for i in range(n)]
    plan_of, subscriptions = _subscriptions(rng, catalog, people)
    bundles = _bundles_by_size(catalog)
    planned = _planned_purchases(rng, catalog, bundles, people, plan_of, events)
    purchases, refunds = _purchase_rows(rng, catalog, people, planned)
    broken = _broken_purchases(rng, bundles, people, len(purchases) + 1)
    scoped = None if scoped_rng is None else _scoped_promos(scoped_rng, catalog, people)
    grants = _grants(rng, catalog, people, scoped)
    auto_topups = _auto_topups(rng, bundles, people, {p[1] for p in planned})
    # Each feed's header is its contract §2.2 columns, as ingest defines them.
    rows = {
        "customers": customers,
        "subscriptions": subscriptions,
        "purchases": purchases + broken,
        "grants": grants,
        "auto_topups": auto_topups,
        "refunds": refunds,
    }
    feeds = {
        **{feed: (FEED_COLUMNS[feed], feed_rows) for feed, feed_rows in rows.items()},
        CUSTOMER_SETTINGS: _customer_settings(customers),
    }
    if scoped is not None:
        feeds["grants"] = ([*FEED_COLUMNS["grants"], *OPTIONAL_FEED_COLUMNS["grants"]], grants)
    # Broken on purpose: the negative threshold, those purchases, the unknown customer's grant.
    reference_quarantine = {"customers": 1, "purchases": len(broken), "grants": 1}
    return _world(people, customers), feeds, reference_quarantine


def _instant(text: str) -> int:
    return int(dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp())


def grant_amendment_rows(
    rng: np.random.Generator, catalog: Catalog, feeds: dict, end: int
) -> list[list[object]]:
    """The grant amendments feed (contract §8.3), drawn on a generator of its own so that
    the other feeds and the events stay as they were without it: about 5% of the positive
    grants of the grants feed and of the succeeded purchases voided one to ten days after
    they take effect, 5% given a new expiry then (a week or a month on), in time order; and
    last one naming a grant nobody made (quarantined as unknown_grant)."""
    bundles = {b.id for b in catalog.bundles}
    candidates = [
        (row[0], _instant(row[4]))
        for row in feeds["grants"][1][:-1]  # the last row is the unknown customer's
        if float(row[3]) > 0
    ]
    candidates += [
        (f"purchase:{row[0]}", _instant(row[4]))
        for row in feeds["purchases"][1]
        if row[7] == "succeeded" and row[2] in bundles and str(row[6]).isupper()
    ]
    drawn = []
    for grant_id, start in candidates:
        draw = rng.random()
        at = start + int(rng.integers(DAY, 10 * DAY))
        if draw >= 0.1 or at >= end - 60:
            continue
        if draw < 0.05:
            drawn.append([at, grant_id, "void", None, "goodwill reversal", "finance"])
        else:
            days = (7, 30)[int(rng.integers(2))]
            drawn.append([at, grant_id, "set_expiry", iso(at + days * DAY), "policy change", "ops"])
    drawn.sort(key=lambda r: (r[0], r[1]))
    rows = [
        [f"am_{k:06d}", g, action, iso(at), new, why, by]
        for k, (at, g, action, new, why, by) in enumerate(drawn, 1)
    ]
    rows.append(
        [f"am_{len(rows) + 1:06d}", "gr_nobody", "void", iso(end - DAY), None, "typo", "ops"]
    )
    return rows
