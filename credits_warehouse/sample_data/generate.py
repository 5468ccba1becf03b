"""Synthetic landing data for demos, tests and benchmarks (`credits generate`, SPEC §2 and §7).

`generate` writes a landing directory shaped like SPEC §2: reference feeds as CSV at the
landing root and usage events under `events/` in every accepted format (JSONL, gzipped JSONL,
a Hyperline-style JSON envelope, flat Parquet and Parquet with JSON-string properties). The
data is deliberately dirty so that every quarantine reason of SPEC §2.1 occurs, and a share
of each month's events arrives late, in the next month's folder.

Output is a pure function of the arguments: the same arguments give byte-identical files.
Randomness comes from `numpy.random.default_rng` seeded from `seed`; the wall clock is never
read. Events are generated and formatted a month at a time with numpy and polars (no Python
loop per event), so ten million events fit in bounded memory.

Layout (relative to `out_dir`):

    catalog.yml                                     copy of the catalog
    landing/customers.csv, subscriptions.csv, purchases.csv, grants.csv,
            auto_topups.csv, voids.csv, refunds.csv
    landing/customers.jsonl                         later versions of a few customers that set
                                                    the optional `low_balance_threshold`, and
                                                    one invalid (negative) threshold
    landing/events/YYYY/MM/events-YYYY-MM-part-NNN.jsonl.gz   odd parts
    landing/events/YYYY/MM/events-YYYY-MM-part-NNN.jsonl      even parts
    landing/events/YYYY/MM/events-YYYY-MM-part-NNN.parquet    flat form, one per month;
                                                              in the first month one more
                                                              with `properties` as JSON text
    landing/events/YYYY/MM/late-from-YYYY-MM.jsonl            the previous month's late events
    landing/events/api/batch-0001.json                        {"events": [...]}
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import math
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from credits_warehouse.catalog import Bundle, Catalog, Plan, load_catalog
from credits_warehouse.ingest import FEED_COLUMNS, OPTIONAL_FEED_COLUMNS
from credits_warehouse.quarantine import EVENT_REASONS

DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "data" / "catalog.yml"

DAY = 86_400
EVENT_TYPE = "llm_token_usage"
OTHER_EVENT_TYPE = "api_request"  # matches no aggregator: accepted, not billable
DEFAULT_MODEL_MIX = {"nova-fast": 0.6, "nova-pro": 0.3, "nova-ultra": 0.1}
TOKENS_MEDIAN = 1_200
TOKENS_SIGMA = 1.0

# Shares of valid events.
NON_BILLABLE_SHARE = 0.02
EXTERNAL_ID_SHARE = 0.10
IDEMPOTENCY_SHARE = 0.20
OFFSET_TS_SHARE = 0.08  # written as +02:00
NAIVE_TS_SHARE = 0.02  # written without an offset (UTC)
LATE_SHARE = 0.005
FLAT_PARQUET_SHARE = 0.15
JSON_PARQUET_SHARE = 0.05
DUPLICATE_SHARE = 0.01
DIRTY_RATE = 2e-5  # per dirty kind per month, at least one of each
JSONL_PART_ROWS = 250_000
API_BATCH_ROWS = 300
GZIP_LEVEL = 3  # 6 is ~15% smaller and twice as slow

WEEKEND_FACTOR = 0.4
HOUR_WEIGHTS = np.array(
    [1.0, 0.8, 0.6, 0.5, 0.5, 0.6, 0.9, 1.5, 2.4, 3.3, 3.8, 4.0]
    + [3.6, 3.8, 4.0, 3.9, 3.5, 3.0, 2.5, 2.2, 2.0, 1.8, 1.5, 1.2]
)
HOUR_P = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()
PARETO_ALPHA = 1.3  # the top 5% of customers make about half of the events

COUNTRIES = ("GB", "US", "DE", "FR", "NL")
COUNTRY_P = (0.25, 0.35, 0.15, 0.12, 0.13)
TAX_RATE = {"GB": "0.2", "US": "0", "DE": "0.19", "FR": "0.2", "NL": "0.21"}
CURRENCY = {"GB": "USD", "US": "USD", "DE": "EUR", "FR": "EUR", "NL": "EUR"}

ENDPOINTS = ("/v1/chat", "/v1/embeddings", "/v1/models", "/v1/files")

FEEDS = ("customers", "subscriptions", "purchases", "grants", "auto_topups", "voids", "refunds")
# Customers that set their own low-balance threshold: every LOW_BALANCE_EVERY-th, cycling
# through thresholds above both plans' warning_limit, between them, and 0 (alert only when
# the balance goes negative). Chosen by index, not drawn, so other data stay as they were.
LOW_BALANCE_EVERY = 8
LOW_BALANCE_THRESHOLDS = ("5000", "250", "0")
CUSTOMER_SETTINGS = "customers.jsonl"  # loads after customers.csv (path order): later versions


@dataclass(frozen=True)
class GenerateSummary:
    """What `generate` wrote. Event counts are what a correct ingest (SPEC §2.1) will find."""

    landing: Path
    catalog: Path
    start: dt.date
    end: dt.date  # exclusive
    feeds: dict[str, int]  # rows per reference feed, deliberately broken rows included
    events: int  # valid events: accepted on ingest (late and non-billable included)
    non_billable: int  # valid events of a type no aggregator matches
    late: int  # valid events written into the next month's folder
    duplicates: int  # exact copies of a valid line
    conflicting_duplicates: int  # same event_id as a valid line, different tokens
    malformed: int  # rows that break a rule other than the dedup rules
    quarantine: dict[str, int]  # expected event quarantine count per SPEC §2.1 reason
    reference_quarantine: dict[str, int]  # deliberately broken rows per reference feed
    files: tuple[str, ...] = field(default=())  # written files, relative to the output dir

    @property
    def event_rows(self) -> int:
        """Every event row written, valid or not."""
        return self.events + sum(self.quarantine.values())


# --------------------------------------------------------------------------------------------
# Small helpers


def _iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(int(seconds), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: a bijection on uint64, so distinct inputs give distinct ids."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _hex16(values: np.ndarray) -> pl.Series:
    """uint64 values as 16 lower-case hex digits, vectorised."""
    values = values.astype(np.uint64)
    nibbles = np.empty((len(values), 16), dtype=np.uint8)
    for i in range(16):
        nibbles[:, i] = (values >> np.uint64(60 - 4 * i)) & np.uint64(15)
    return pl.Series(_HEX[nibbles].view("S16").ravel()).cast(pl.String)


def _prefixed(prefix: str, hexes: pl.Series) -> pl.Series:
    return hexes.to_frame("h").select(pl.concat_str([pl.lit(prefix), pl.col("h")]).alias("h"))["h"]


def _write_csv(path: Path, header: Sequence[str], rows: list[list[object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])


def _write_lines(path: Path, lines: pl.Series) -> None:
    frame = lines.to_frame("line")
    if path.name.endswith(".gz"):
        buffer = io.BytesIO()
        frame.write_csv(buffer, include_header=False, quote_style="never", line_terminator="\n")
        path.write_bytes(gzip.compress(buffer.getvalue(), compresslevel=GZIP_LEVEL, mtime=0))
    else:
        frame.write_csv(path, include_header=False, quote_style="never", line_terminator="\n")


def _write_parquet(path: Path, frame: pl.DataFrame) -> None:
    table = frame.to_arrow()
    schema = pa.schema(
        [
            pa.field(f.name, pa.string() if pa.types.is_large_string(f.type) else f.type)
            for f in table.schema
        ]
    )
    pq.write_table(table.cast(schema), path, compression="snappy")


# --------------------------------------------------------------------------------------------
# Names and addresses

_BRANDS = (
    "Acme Aperture Bluefin Cobalt Contoso Cyberdyne Driftwood Ember Fabrikam Globex Granite "
    "Harbor Helix Hooli Initech Juniper Kestrel Lumen Meridian Monarch Northwind Nimbus Orbit "
    "Pinecone Quartz Redwood Saffron Sterling Summit Tidal Umbrella Vandelay Vertex Willow "
    "Wonka Zephyr Atlas Beacon Copper Falcon"
).split()
_SECTORS = (
    "Analytics Labs Systems Robotics Health Logistics Media Software Foods Energy Capital "
    "Dynamics Studios Networks Biotech Consulting Security Learning Mobility Insights"
).split()
_SURNAMES = (
    "Smith Jones Baker Meyer Dubois Jansen Miller Schmidt Martin Bakker O'Neill D'Arcy "
    "Taylor Fischer Laurent Visser Brown Weber Bernard O'Brien"
).split()
_LEGAL = {"GB": "Ltd", "US": "Inc.", "DE": "GmbH", "FR": "SAS", "NL": "B.V."}
_CITIES = {
    "GB": (("London", "EC2A 4NE"), ("Manchester", "M1 1AE"), ("Bristol", "BS1 4DJ")),
    "US": (("New York, NY", "10001"), ("Austin, TX", "78701"), ("Seattle, WA", "98101")),
    "DE": (("Berlin", "10115"), ("München", "80331"), ("Hamburg", "20095")),
    "FR": (("Paris", "75002"), ("Lyon", "69002"), ("Nantes", "44000")),
    "NL": (("Amsterdam", "1012 AB"), ("Rotterdam", "3011 AD"), ("Utrecht", "3511 AB")),
}
_COUNTRY_NAME = {
    "GB": "United Kingdom",
    "US": "United States",
    "DE": "Germany",
    "FR": "France",
    "NL": "Netherlands",
}
_STREETS = {
    "GB": ("{n} High Street", "{n} King's Road", "{n} Station Road"),
    "US": ("{n} Main Street", "{n} Market Street", "{n} 5th Avenue"),
    "DE": ("Hauptstraße {n}", "Bahnhofstraße {n}", "Gartenweg {n}"),
    "FR": ("{n} rue de la Paix", "{n} avenue Victor Hugo", "{n} boulevard Voltaire"),
    "NL": ("Keizersgracht {n}", "Damrak {n}", "Stationsplein {n}"),
}


def _slug(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def _company(rng: np.random.Generator, i: int, country: str) -> str:
    legal = _LEGAL[country]
    style = i % 12
    if style == 3:
        a, b = rng.choice(len(_SURNAMES), 2, replace=False)
        return f"{_SURNAMES[a]} & {_SURNAMES[b]} {legal}"
    if style == 7:
        return (
            f"{_SURNAMES[rng.integers(len(_SURNAMES))]}'s {_SECTORS[rng.integers(len(_SECTORS))]}"
        )
    if style == 10:
        brand = _BRANDS[rng.integers(len(_BRANDS))]
        return f"{brand} Research & Development {legal}"
    brand = _BRANDS[rng.integers(len(_BRANDS))]
    return f"{brand} {_SECTORS[rng.integers(len(_SECTORS))]} {legal}"


def _address(rng: np.random.Generator, country: str) -> str:
    street = _STREETS[country][rng.integers(3)].format(n=int(rng.integers(1, 250)))
    city, post = _CITIES[country][rng.integers(3)]
    if country in ("US", "GB"):
        return f"{street}, {city} {post}, {_COUNTRY_NAME[country]}"
    return f"{street}, {post} {city}, {_COUNTRY_NAME[country]}"


# --------------------------------------------------------------------------------------------
# The world: customers and their commercial setup


@dataclass
class _World:
    start: int  # epoch seconds
    end: int  # exclusive
    customer_ids: list[str]
    external_ids: list[str]
    currency: list[str]
    weight: np.ndarray  # share of events
    users: np.ndarray  # user_ids per customer
    active_from: np.ndarray  # epoch seconds; events start here
    existing: np.ndarray  # indices of customers active from the start
    unknown_customer: str


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


def _rates(catalog: Catalog) -> dict[str, float]:
    """Credits per token for each model, for sizing purchases (floats are fine here)."""
    per_aggregator: dict[str, float] = {}
    for product in catalog.credit_products:
        for entry in product.aggregators:
            weight = entry.weight_steps()[-1][1]
            per_aggregator[entry.aggregator] = float(weight / entry.per)
    rates: dict[str, float] = {}
    for aggregator in catalog.aggregators:
        model = aggregator.filters.get("model")
        if aggregator.event_type == EVENT_TYPE and isinstance(model, str):
            rates[model] = per_aggregator.get(aggregator.id, 0.0)
    return rates


def _model_mix(catalog: Catalog) -> tuple[list[str], np.ndarray]:
    models = list(_rates(catalog))
    if not models or set(models) == set(DEFAULT_MODEL_MIX):
        models = list(DEFAULT_MODEL_MIX)
        return models, np.array([DEFAULT_MODEL_MIX[m] for m in models])
    weights = 0.5 ** np.arange(len(models))
    return models, weights / weights.sum()


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
    name = _company(rng, i, country)
    first = _slug(name.split()[0].split("'")[0]) or "customer"
    local = ("billing", "finance", "accounts", "ap", "ops")[int(rng.integers(5))]
    email = f"{local}@{_slug(' '.join(name.split()[:2]))}.example"
    return [
        people.ids[i],
        f"{first}-{i + 1:0{people.width}d}",
        name,
        email,
        _address(rng, country),
        country,
        CURRENCY[country],
        TAX_RATE[country],
        _iso(people.created_at[i]),
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
            subscriptions.append([ids[i], free, _iso(active_from[i]), _iso(change_at[i])])
            subscriptions.append([ids[i], pro, _iso(change_at[i]), None])
        else:
            subscriptions.append([ids[i], plan_of[i], _iso(active_from[i]), None])
    return plan_of, subscriptions


def _bundles_by_size(catalog: Catalog) -> list[Bundle]:
    return sorted(catalog.bundles, key=lambda b: (b.credits + b.bonus_credits, b.id))


def _expected_credits(catalog: Catalog, people: _Population, events: int) -> np.ndarray:
    """Credits each customer's events will cost over the whole range (floats are fine here)."""
    rates = _rates(catalog)
    models, model_p = _model_mix(catalog)
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
    return [None, purchase_id, _iso(max(refunded_at, at + 1)), reason]


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
            [purchase_id, people.ids[i], bundle_id, int(qty), _iso(at), price, cur, status_name]
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
        [f"pur_{number:06d}", buyer, "pack_unknown", 1, _iso(at), 5000, "USD", "succeeded"],
        [f"pur_{number + 1:06d}", buyer, bundles[0].id, 1, _iso(at + 600), usd, "usd", "succeeded"],
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
    expires = _iso(at + expires_days * DAY) if expires_days else None
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


def _grants(rng: np.random.Generator, catalog: Catalog, people: _Population) -> list[list[object]]:
    """The grants feed in time order, every kind at least once, and last a grant for a
    customer that does not exist."""
    welcome = _welcome_grant(catalog)
    drawn = []
    for i in range(people.n):
        drawn += [_grant_row(people, i, g) for g in _customer_grants(rng, people, i, welcome)]
    for kind in sorted(_GRANT_KINDS - {g[2] for g in drawn}):
        drawn.append(_missing_grant(rng, people, kind))
    drawn.sort(key=lambda g: (g[0], g[1], g[2]))
    grants = [[f"gr_{k:06d}", *g[1:3], g[3], _iso(g[0]), *g[4:]] for k, g in enumerate(drawn, 1)]
    # A grant for a customer that does not exist.
    grants.append(
        [
            f"gr_{len(grants) + 1:06d}",
            people.unknown,
            "promotional",
            "500",
            _iso(people.start + people.span // 2),
            None,
            None,
            None,
            "welcome",
            "system",
        ]
    )
    return grants


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
        enabled_to = _iso(enabled_from + int(rng.integers(DAY, end - enabled_from - DAY)))
    quantity = int(rng.integers(1, 5))
    return [
        people.ids[i],
        threshold,
        bundle.id,
        quantity,
        _iso(min(enabled_from, end - DAY)),
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


def _world(people: _Population, customers: list[list[object]]) -> _World:
    return _World(
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


def _reference_feeds(
    rng: np.random.Generator,
    catalog: Catalog,
    n: int,
    start_day: dt.date,
    end_day: dt.date,
    events: int,
) -> tuple[_World, dict[str, tuple[list[str], list[list[object]]]], dict[str, int]]:
    """The reference feeds (header and rows of each), the world the events are drawn from,
    and how many rows of each feed are deliberately broken."""
    # One generator makes every draw: calling these in another order changes the output.
    people = _draw_population(rng, n, _epoch(start_day), _epoch(end_day))
    customers = [_customer_row(rng, people, i) for i in range(n)]
    plan_of, subscriptions = _subscriptions(rng, catalog, people)
    bundles = _bundles_by_size(catalog)
    planned = _planned_purchases(rng, catalog, bundles, people, plan_of, events)
    purchases, refunds = _purchase_rows(rng, catalog, people, planned)
    broken = _broken_purchases(rng, bundles, people, len(purchases) + 1)
    grants = _grants(rng, catalog, people)
    auto_topups = _auto_topups(rng, bundles, people, {p[1] for p in planned})
    # Each feed's header is its SPEC §2.2 columns, as ingest defines them.
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
    # Broken on purpose: the negative threshold, those purchases, the unknown customer's grant.
    reference_quarantine = {"customers": 1, "purchases": len(broken), "grants": 1}
    return _world(people, customers), feeds, reference_quarantine


# --------------------------------------------------------------------------------------------
# Events


def _format_events(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `props` (JSON text) and `line` (the JSONL line) to a frame of event columns."""
    llm_props = pl.concat_str(
        [
            pl.lit('{"model": "'),
            pl.col("model"),
            pl.lit('", "tokens": '),
            pl.col("tokens").cast(pl.String),
            pl.lit(', "user_id": "'),
            pl.col("user_id"),
            pl.lit('"}'),
        ]
    )
    other_props = pl.concat_str(
        [
            pl.lit('{"endpoint": "'),
            pl.col("endpoint"),
            pl.lit('", "status_code": 200, "cached": '),
            pl.when(pl.col("tokens") % 3 == 0).then(pl.lit("true")).otherwise(pl.lit("false")),
            pl.lit(', "user_id": "'),
            pl.col("user_id"),
            pl.lit('"}'),
        ]
    )
    props = pl.when(pl.col("event_type") == EVENT_TYPE).then(llm_props).otherwise(other_props)
    idem = (
        pl.when(pl.col("idempotency_key").is_not_null())
        .then(
            pl.concat_str(
                [pl.lit(', "idempotency_key": "'), pl.col("idempotency_key"), pl.lit('"')]
            )
        )
        .otherwise(pl.lit(""))
    )
    frame = frame.with_columns(props.alias("props"))
    return frame.with_columns(
        pl.concat_str(
            [
                pl.lit('{"event_id": "'),
                pl.col("event_id"),
                pl.lit('"'),
                idem,
                pl.lit(', "customer_id": "'),
                pl.col("customer_id"),
                pl.lit('", "event_type": "'),
                pl.col("event_type"),
                pl.lit('", "timestamp": "'),
                pl.col("timestamp"),
                pl.lit('", "properties": '),
                pl.col("props"),
                pl.lit("}"),
            ]
        ).alias("line")
    )


@dataclass
class _Month:
    first: dt.date  # first day of the calendar month
    lo: int  # epoch seconds, inclusive
    hi: int  # exclusive
    day_lo: int  # day indices into the range
    day_hi: int

    @property
    def tag(self) -> str:
        return f"{self.first:%Y-%m}"

    @property
    def folder(self) -> str:
        return f"{self.first:%Y/%m}"


def _months(start: dt.date, end: dt.date) -> list[_Month]:
    out = []
    first = start.replace(day=1)
    while first < end:
        nxt = _add_months(first, 1)
        lo, hi = max(first, start), min(nxt, end)
        out.append(_Month(first, _epoch(lo), _epoch(hi), (lo - start).days, (hi - start).days))
        first = nxt
    return out


def _day_counts(rng: np.random.Generator, start: dt.date, days: int, events: int) -> np.ndarray:
    weekday = (np.arange(days) + start.weekday()) % 7
    weights = np.where(weekday >= 5, WEEKEND_FACTOR, 1.0)
    weights = weights * (1 + 0.02 * np.arange(days) / 30.44)  # slow growth
    weights = weights * rng.gamma(50.0, 1 / 50.0, days)  # day-to-day noise
    return rng.multinomial(events, weights / weights.sum())


# Where a valid event goes (the `dest` column).
_TO_JSONL, _TO_LATE, _TO_FLAT_PARQUET, _TO_JSON_PARQUET, _TO_API = range(5)


@dataclass
class _MonthPlan:
    """One month's drawn rows and where each goes, before anything is written."""

    valid: pl.DataFrame | None  # valid events with dest, part and seq; None without events
    extra: pl.DataFrame  # copies and dirty rows: line, part, pos, seq
    parts: int  # JSONL parts
    late: int  # valid events routed to the next month's folder
    non_billable: int
    duplicates: int
    conflicting_duplicates: int
    dirty: list[str]  # the reason of each dirty row

    @property
    def n(self) -> int:
        return 0 if self.valid is None else self.valid.height


def _copy_lines(
    frame: pl.DataFrame,
    dup_src: np.ndarray,
    conf_src: np.ndarray,
    copies: list[tuple[np.ndarray, np.ndarray]],
) -> list[pl.DataFrame]:
    """Lines of the exact copies and of the conflicting ones (other tokens), each with the
    part it goes into and its position (the original's time plus a delay)."""
    (dup_part, dup_delay), (conf_part, conf_delay) = copies
    conf_frame = _format_events(
        frame[conf_src].with_columns((pl.col("tokens") * 2 + 1).alias("tokens"))
    )
    return [
        pl.DataFrame(
            {
                "line": frame["line"].gather(dup_src),
                "part": dup_part,
                "pos": frame["ts"].gather(dup_src).to_numpy() + dup_delay,
            }
        ),
        pl.DataFrame(
            {
                "line": conf_frame["line"],
                "part": conf_part,
                "pos": conf_frame["ts"].to_numpy() + conf_delay,
            }
        ),
    ]


def _numbered(extra: list[pl.DataFrame], n: int) -> pl.DataFrame:
    """The extra lines in one frame, their `seq` numbered on after the n valid events."""
    frame = pl.concat(
        [e.with_columns(pl.col("part").cast(pl.Int64), pl.col("pos").cast(pl.Int64)) for e in extra]
    )
    return frame.with_columns((pl.int_range(pl.len()) + n).alias("seq"))


def _write_jsonl_parts(
    folder: Path, month: _Month, parts: int, valid: pl.DataFrame | None, extra: pl.DataFrame
) -> list[Path]:
    """Write the month's JSONL parts, gzipped and plain in turn, lines in (pos, seq) order."""
    written = []
    for j in range(parts):
        suffix = "jsonl.gz" if j % 2 == 0 else "jsonl"
        path = folder / f"events-{month.tag}-part-{j + 1:03d}.{suffix}"
        pieces = [extra.filter(pl.col("part") == j).select("line", "pos", "seq")]
        if valid is not None:
            pieces.insert(
                0,
                valid.filter((pl.col("dest") == _TO_JSONL) & (pl.col("part") == j)).select(
                    "line", pl.col("ts").alias("pos"), "seq"
                ),
            )
        lines = pl.concat(pieces).sort("pos", "seq")["line"]
        _write_lines(path, lines)
        written.append(path)
    return written


def _write_flat_parquet(folder: Path, month: _Month, parts: int, valid: pl.DataFrame) -> Path:
    """Write the events routed to flat Parquet, a column per property, after the JSONL parts."""
    path = folder / f"events-{month.tag}-part-{parts + 1:03d}.parquet"
    _write_parquet(
        path,
        valid.filter(pl.col("dest") == _TO_FLAT_PARQUET).select(
            "event_id",
            "idempotency_key",
            "customer_id",
            "event_type",
            "timestamp",
            "model",
            "tokens",
            "user_id",
        ),
    )
    return path


def _write_json_parquet(folder: Path, month: _Month, parts: int, valid: pl.DataFrame) -> Path:
    """Write the events routed to Parquet with `properties` as JSON text."""
    path = folder / f"events-{month.tag}-part-{parts + 2:03d}.parquet"
    _write_parquet(
        path,
        valid.filter(pl.col("dest") == _TO_JSON_PARQUET).select(
            "event_id",
            "idempotency_key",
            "customer_id",
            "event_type",
            "timestamp",
            pl.col("props").alias("properties"),
        ),
    )
    return path


def _write_api_batch(api_dir: Path, valid: pl.DataFrame) -> Path:
    """Write the events routed to the API batch as a Hyperline-style {"events": [...]}."""
    api = valid.filter(pl.col("dest") == _TO_API)["line"].to_list()
    api_dir.mkdir(parents=True, exist_ok=True)
    path = api_dir / "batch-0001.json"
    body = ",\n".join("    " + line for line in api)
    path.write_text('{"events": [\n' + body + "\n]}\n", encoding="utf-8")
    return path


def _write_late(next_folder: Path, month: _Month, valid: pl.DataFrame) -> Path:
    """Write the month's late events into the next month's folder."""
    next_folder.mkdir(parents=True, exist_ok=True)
    path = next_folder / f"late-from-{month.tag}.jsonl"
    _write_lines(path, valid.filter(pl.col("dest") == _TO_LATE)["line"])
    return path


class _EventWriter:
    def __init__(
        self,
        rng: np.random.Generator,
        world: _World,
        catalog: Catalog,
        landing: Path,
        events: int,
        progress: Callable[[str], None] | None,
    ):
        self.rng = rng
        self.world = world
        self.landing = landing
        self.events_total = events
        self.progress = progress
        self.models, self.model_p = _model_mix(catalog)
        keys = rng.integers(0, 2**63, 2, dtype=np.int64).astype(np.uint64)
        self.event_key, self.idem_key = keys[0], keys[1]
        self.counter = 0
        self.cids = pl.Series(world.customer_ids, dtype=pl.String)
        self.exts = pl.Series(world.external_ids, dtype=pl.String)
        existing_w = world.weight[world.existing]
        self.existing_p = existing_w / existing_w.sum()
        self.files: list[Path] = []
        # Every event reason is planted at least once (credits_warehouse/quarantine.py).
        self.quarantine = dict.fromkeys(EVENT_REASONS, 0)
        self.valid = 0
        self.non_billable = 0
        self.late = 0
        self.void_candidates: list[tuple[str, int]] = []
        self.variant: dict[str, int] = {}

    # -- valid events -----------------------------------------------------------------------

    def _valid(self, month: _Month, counts: np.ndarray) -> pl.DataFrame:
        rng, world = self.rng, self.world
        n = int(counts.sum())
        day_starts = world.start + np.arange(month.day_lo, month.day_hi, dtype=np.int64) * DAY
        ts = np.repeat(day_starts, counts)
        ts += rng.choice(24, n, p=HOUR_P).astype(np.int64) * 3600
        ts += rng.integers(0, 3600, n)
        ts = np.clip(ts, month.lo, month.hi - 1)
        ts.sort()
        cust = rng.choice(len(world.customer_ids), n, p=world.weight)
        inactive = np.flatnonzero(ts < world.active_from[cust])
        if len(inactive):
            cust[inactive] = world.existing[
                rng.choice(len(world.existing), len(inactive), p=self.existing_p)
            ]
        other = rng.random(n) < NON_BILLABLE_SHARE
        model = rng.choice(len(self.models), n, p=self.model_p)
        tokens = rng.lognormal(math.log(TOKENS_MEDIAN), TOKENS_SIGMA, n)
        tokens = np.maximum(1, np.rint(tokens)).astype(np.int64)
        user = (rng.random(n) ** 2 * world.users[cust]).astype(np.int64) + 1
        external = rng.random(n) < EXTERNAL_ID_SHARE
        form = rng.choice(
            3, n, p=[1 - OFFSET_TS_SHARE - NAIVE_TS_SHARE, OFFSET_TS_SHARE, NAIVE_TS_SHARE]
        )
        has_idem = rng.random(n) < IDEMPOTENCY_SHARE
        endpoint = rng.integers(0, len(ENDPOINTS), n)
        counters = np.arange(self.counter, self.counter + n, dtype=np.uint64)
        self.counter += n

        shifted = ts + np.where(form == 1, 7200, 0)
        base = pl.from_epoch(pl.Series(shifted), time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%S")
        suffix = pl.Series(["Z", "+02:00", ""]).gather(form)
        event_ids = _prefixed("evt_", _hex16(_mix64(counters ^ self.event_key)))
        idem = _prefixed("req_", _hex16(_mix64(counters ^ self.idem_key)))
        frame = pl.DataFrame(
            {
                "ts": ts,
                "cust": cust,
                "event_id": event_ids,
                "idempotency_key": idem,
                "has_idem": has_idem,
                "external": external,
                "event_type": pl.Series([EVENT_TYPE, OTHER_EVENT_TYPE]).gather(other.view(np.int8)),
                "base": base,
                "suffix": suffix,
                "model": pl.Series(self.models, dtype=pl.String).gather(model),
                "tokens": tokens,
                "user_id": user,
                "endpoint": pl.Series(ENDPOINTS).gather(endpoint),
            }
        )
        frame = frame.with_columns(
            pl.when(pl.col("has_idem")).then(pl.col("idempotency_key")).alias("idempotency_key"),
            pl.when(pl.col("external"))
            .then(self.exts.gather(cust))
            .otherwise(self.cids.gather(cust))
            .alias("customer_id"),
            pl.concat_str([pl.col("base"), pl.col("suffix")]).alias("timestamp"),
            pl.concat_str([pl.lit("u_"), pl.col("user_id").cast(pl.String)]).alias("user_id"),
            pl.when(pl.col("event_type") == EVENT_TYPE).then(pl.col("model")).alias("model"),
        ).drop("base", "suffix", "has_idem", "external")
        return _format_events(frame)

    # -- dirty rows -------------------------------------------------------------------------

    def _dirty(self, month: _Month, n: int, last: bool) -> list[tuple[str, str]]:
        """(reason, line) for rows that break a rule; fresh event ids throughout."""
        rng, world = self.rng, self.world
        k = max(1, round(n * DIRTY_RATE))
        kinds = [
            "malformed",
            "missing_field",
            "unknown_customer",
            "bad_timestamp",
            "negative_quantity",
            "non_numeric_quantity",
        ]
        plan = [(kind, j) for kind in kinds for j in range(k)]
        if last:
            plan += [("future_timestamp", 0), ("future_timestamp", 1)]
        counters = np.arange(self.counter, self.counter + len(plan), dtype=np.uint64)
        self.counter += len(plan)
        event_ids = _prefixed("evt_", _hex16(_mix64(counters ^ self.event_key))).to_list()
        rows = []
        for (kind, _), event_id in zip(plan, event_ids, strict=True):
            j = self.variant[kind] = self.variant.get(kind, -1) + 1  # alternate the variants
            c = int(rng.integers(len(world.customer_ids)))
            if world.active_from[c] >= month.hi:
                c = int(world.existing[rng.integers(len(world.existing))])
            at = int(rng.integers(max(month.lo, int(world.active_from[c])), month.hi))
            event = {
                "event_id": event_id,
                "customer_id": world.customer_ids[c],
                "event_type": EVENT_TYPE,
                "timestamp": _iso(at),
                "properties": {
                    "model": self.models[int(rng.integers(len(self.models)))],
                    "tokens": int(rng.integers(100, 5000)),
                    "user_id": f"u_{int(rng.integers(1, world.users[c] + 1))}",
                },
            }
            if kind == "malformed":
                text = json.dumps(event)
                line = text[: len(text) // 2] if j % 2 == 0 else "not json"
            else:
                if kind == "missing_field":
                    del event["customer_id" if j % 2 == 0 else "timestamp"]
                elif kind == "unknown_customer":
                    event["customer_id"] = world.unknown_customer
                elif kind == "bad_timestamp":
                    event["timestamp"] = "2026-13-45T99:00:00Z"
                elif kind == "negative_quantity":
                    event["properties"]["tokens"] = -event["properties"]["tokens"]
                elif kind == "non_numeric_quantity":
                    event["properties"]["tokens"] = "lots"
                elif kind == "future_timestamp":
                    event["timestamp"] = _iso(world.end + 365 * DAY + int(rng.integers(0, DAY)))
                line = json.dumps(event)
            rows.append((kind, line))
        return rows

    # -- one month ----------------------------------------------------------------------------

    def month(self, index: int, months: list[_Month], counts: np.ndarray, n_voids: int) -> None:
        """Write one month's event files (its late events go into the next month's folder)."""
        month = months[index]
        last = index == len(months) - 1
        events_dir = self.landing / "events"
        folder = events_dir / month.folder
        folder.mkdir(parents=True, exist_ok=True)
        plan = self._draw_month(month, counts, n_voids, first=index == 0, last=last)
        written = _write_jsonl_parts(folder, month, plan.parts, plan.valid, plan.extra)
        if plan.valid is not None:
            written.append(_write_flat_parquet(folder, month, plan.parts, plan.valid))
            if index == 0:
                written.append(_write_json_parquet(folder, month, plan.parts, plan.valid))
                written.append(_write_api_batch(events_dir / "api", plan.valid))
            if not last:
                written.append(
                    _write_late(events_dir / months[index + 1].folder, month, plan.valid)
                )
        self._tally(month, plan, written)

    def _draw_month(
        self, month: _Month, counts: np.ndarray, n_voids: int, first: bool, last: bool
    ) -> _MonthPlan:
        """Draw the month's valid events, where each goes, the copies and dirty rows, and a
        few events for the voids feed to name."""
        # One generator makes every draw: calling these in another order changes the output.
        rng = self.rng
        n = int(counts.sum())
        frame = self._valid(month, counts) if n else None
        is_llm = (frame["event_type"] == EVENT_TYPE).to_numpy() if n else np.zeros(0, bool)
        dest = self._destinations(n, is_llm, first, last)
        jsonl = np.flatnonzero(dest == _TO_JSONL)
        parts = max(2, math.ceil(len(jsonl) / JSONL_PART_ROWS))
        part = rng.integers(0, parts, n)
        dup_src, conf_src = self._copy_sources(n, jsonl, dest, is_llm)
        copies = [self._copy_placement(src, part, parts) for src in (dup_src, conf_src)]
        dirty = self._dirty(month, n, last)
        extra = [self._placed_dirty(dirty, month, parts)]
        if frame is not None:
            picked = np.concatenate([dup_src, conf_src])
            self._keep_void_candidates(frame, month, dest, picked, n_voids)
            frame = frame.with_columns(
                pl.Series("dest", dest), pl.Series("part", part), pl.int_range(n).alias("seq")
            )
            extra = _copy_lines(frame, dup_src, conf_src, copies) + extra
        return _MonthPlan(
            valid=frame,
            extra=_numbered(extra, n),
            parts=parts,
            late=int(np.count_nonzero(dest == _TO_LATE)),
            non_billable=int((~is_llm).sum()),
            duplicates=len(dup_src),
            conflicting_duplicates=len(conf_src),
            dirty=[reason for reason, _ in dirty],
        )

    def _destinations(self, n: int, is_llm: np.ndarray, first: bool, last: bool) -> np.ndarray:
        """Where each valid event goes (_TO_*): late ones not in the last month, Parquet with
        JSON properties and the API batch only in the first."""
        rng = self.rng
        dest = np.zeros(n, dtype=np.int8)
        draw = rng.random(n)
        if not last:
            dest[draw < LATE_SHARE] = _TO_LATE
        flat_hi = LATE_SHARE + FLAT_PARQUET_SHARE
        dest[(draw >= LATE_SHARE) & (draw < flat_hi) & is_llm] = _TO_FLAT_PARQUET
        if first:
            dest[(draw >= flat_hi) & (draw < flat_hi + JSON_PARQUET_SHARE)] = _TO_JSON_PARQUET
            jsonl = np.flatnonzero(dest == _TO_JSONL)
            k_api = min(API_BATCH_ROWS, len(jsonl) // 20)
            if k_api:
                dest[np.sort(rng.choice(jsonl, k_api, replace=False))] = _TO_API
        return dest

    def _copy_sources(
        self, n: int, jsonl: np.ndarray, dest: np.ndarray, is_llm: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The JSONL lines that get an exact duplicate, and those that get a conflicting one."""
        rng = self.rng
        k_dup = min(len(jsonl), round(DUPLICATE_SHARE * n))
        dup_src = np.sort(rng.choice(jsonl, k_dup, replace=False)).astype(np.int64)
        # Conflicting copies change `tokens`, so their sources are token-usage events.
        candidate = (dest == _TO_JSONL) & is_llm
        candidate[dup_src] = False
        rest = np.flatnonzero(candidate)
        k_conf = min(len(rest), max(1, round(n * DIRTY_RATE)))
        conf_src = np.sort(rng.choice(rest, k_conf, replace=False)).astype(np.int64)
        return dup_src, conf_src

    def _copy_placement(
        self, src: np.ndarray, part: np.ndarray, parts: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(part, delay in seconds) of each copy: always after the original, 70% in its part."""
        rng = self.rng
        same = rng.random(len(src)) < 0.7
        later = part[src] + (rng.random(len(src)) * (parts - part[src])).astype(np.int64)
        return (
            np.where(same, part[src], np.minimum(later, parts - 1)),
            rng.integers(1, 7200, len(src)),
        )

    def _placed_dirty(
        self, dirty: list[tuple[str, str]], month: _Month, parts: int
    ) -> pl.DataFrame:
        """The dirty lines, each in a random part at a random time of the month."""
        rng = self.rng
        return pl.DataFrame(
            {
                "line": [line for _, line in dirty],
                "part": rng.integers(0, parts, len(dirty)),
                "pos": rng.integers(month.lo, month.hi, len(dirty)),
            },
            schema={"line": pl.String, "part": pl.Int64, "pos": pl.Int64},
        )

    def _keep_void_candidates(
        self, frame: pl.DataFrame, month: _Month, dest: np.ndarray, picked: np.ndarray, n_voids: int
    ) -> None:
        """Keep a few events the voids feed may name: valid, not late, not the source of a
        copy, and not on the month's last day if that leaves any."""
        ok = dest != _TO_LATE
        ok[picked] = False
        pool = np.flatnonzero(ok & (frame["ts"].to_numpy() < month.hi - DAY))
        if len(pool) == 0:
            pool = np.flatnonzero(ok)
        n = len(dest)
        take = min(len(pool), math.ceil(n_voids * n / max(1, self.events_total)) + 2)
        chosen = np.sort(self.rng.choice(pool, take, replace=False)).astype(np.int64)
        sub = frame[chosen]
        self.void_candidates += list(zip(sub["event_id"], sub["ts"], strict=True))

    def _tally(self, month: _Month, plan: _MonthPlan, written: list[Path]) -> None:
        """Add the month to the totals and report it."""
        self.valid += plan.n
        self.late += plan.late
        self.non_billable += plan.non_billable
        self.quarantine["duplicate"] += plan.duplicates
        self.quarantine["conflicting_duplicate"] += plan.conflicting_duplicates
        for reason in plan.dirty:
            self.quarantine[reason] += 1
        self.files += written
        if self.progress:
            self.progress(
                f"events {month.tag}: {plan.n:,} valid, {plan.duplicates:,} duplicates, "
                f"{len(plan.dirty) + plan.conflicting_duplicates:,} dirty, {len(written)} files"
            )

    def voids(self, n_voids: int) -> list[list[object]]:
        rng, end = self.rng, self.world.end
        if not self.void_candidates or n_voids <= 0:
            return []
        chosen = rng.choice(
            len(self.void_candidates), min(n_voids, len(self.void_candidates)), replace=False
        )
        rows = []
        reasons = ("customer dispute", "test traffic", "duplicate submission", "billing error")
        for k in np.sort(chosen):
            event_id, at = self.void_candidates[int(k)]
            room = max(2, min(10 * DAY, end - 1 - at))
            voided = min(end - 1, at + int(rng.integers(1, room)))
            if voided <= at:
                voided = at + 1
            rows.append([event_id, _iso(voided), reasons[int(rng.integers(len(reasons)))]])
        rows.sort(key=lambda r: (r[1], r[0]))
        return rows


# --------------------------------------------------------------------------------------------


def _check_arguments(customers: int, events: int, months: int) -> None:
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if events < 0:
        raise ValueError("events must not be negative")
    if months < 1:
        raise ValueError("months must be at least 1")


def _prepare_output(out_dir: Path, source: Path, overwrite: bool) -> tuple[Path, Path]:
    """An empty landing directory and a copy of the catalog next to it; a non-empty landing
    directory is refused unless `overwrite` is set, which deletes it first."""
    landing = out_dir / "landing"
    if landing.exists() and any(landing.iterdir()):
        if not overwrite:
            raise FileExistsError(f"landing directory {landing} is not empty")
        shutil.rmtree(landing)
    landing.mkdir(parents=True, exist_ok=True)
    catalog_out = out_dir / "catalog.yml"
    if source.resolve() != catalog_out.resolve():
        shutil.copyfile(source, catalog_out)
    return landing, catalog_out


def _write_events(
    rng: np.random.Generator,
    world: _World,
    catalog: Catalog,
    landing: Path,
    start: dt.date,
    end: dt.date,
    events: int,
    progress: Callable[[str], None] | None,
) -> tuple[_EventWriter, list[list[object]]]:
    """Write the event files month by month; return the writer, which holds what it wrote
    and counted, and the rows of the voids feed (voids name written events)."""
    periods = _months(start, end)
    counts = _day_counts(rng, start, (end - start).days, events)
    writer = _EventWriter(rng, world, catalog, landing, events, progress)
    n_voids = min(60, max(10, events // 1000), events // 20)
    for index, month in enumerate(periods):
        writer.month(index, periods, counts[month.day_lo : month.day_hi], n_voids)
    return writer, writer.voids(n_voids)


def _write_reference_feeds(
    landing: Path, feeds: dict[str, tuple[list[str], list[list[object]]]]
) -> list[Path]:
    """Write each reference feed as CSV, and the later customer versions as JSON lines."""
    files = []
    for name in FEEDS:
        header, rows = feeds[name]
        path = landing / f"{name}.csv"
        _write_csv(path, header, rows)
        files.append(path)
    header, rows = feeds[CUSTOMER_SETTINGS]
    path = landing / CUSTOMER_SETTINGS
    path.write_text(
        "".join(
            json.dumps(dict(zip(header, row, strict=True)), ensure_ascii=False) + "\n"
            for row in rows
        ),
        encoding="utf-8",
    )
    files.append(path)
    return files


def _event_counts(writer: _EventWriter) -> dict[str, object]:
    """The writer's event counts, as GenerateSummary fields."""
    quarantine = dict(writer.quarantine)
    return {
        "events": writer.valid,
        "non_billable": writer.non_billable,
        "late": writer.late,
        "duplicates": quarantine["duplicate"],
        "conflicting_duplicates": quarantine["conflicting_duplicate"],
        "malformed": sum(
            v for k, v in quarantine.items() if k not in ("duplicate", "conflicting_duplicate")
        ),
        "quarantine": quarantine,
    }


def generate(
    out_dir: Path,
    *,
    customers: int = 50,
    events: int = 50_000,
    start: dt.date = dt.date(2026, 1, 1),
    months: int = 3,
    seed: int = 7,
    catalog_path: Path | None = None,
    progress: Callable[[str], None] | None = None,
    overwrite: bool = False,
) -> GenerateSummary:
    """Write a realistic, deliberately dirty landing directory to `out_dir/landing/`.

    The catalog is copied to `out_dir/catalog.yml`. Every valid timestamp falls in
    [start, start + months). The same arguments give byte-identical files. A non-empty
    landing directory is refused unless `overwrite` is set, which deletes it first.
    """
    _check_arguments(customers, events, months)
    out_dir = Path(out_dir)
    source = Path(catalog_path) if catalog_path is not None else DEFAULT_CATALOG
    catalog = load_catalog(source)  # before the landing directory is touched
    landing, catalog_out = _prepare_output(out_dir, source, overwrite)

    end = _add_months(start, months)
    ref_seq, event_seq = np.random.SeedSequence(seed).spawn(2)
    ref_rng = np.random.default_rng(ref_seq)
    event_rng = np.random.default_rng(event_seq)

    world, feeds, reference_quarantine = _reference_feeds(
        ref_rng, catalog, customers, start, end, events
    )
    if progress:
        progress(f"reference feeds: {customers:,} customers")
    writer, voids = _write_events(event_rng, world, catalog, landing, start, end, events, progress)
    feeds["voids"] = (FEED_COLUMNS["voids"], voids)
    files = [catalog_out, *_write_reference_feeds(landing, feeds), *writer.files]

    summary = GenerateSummary(
        landing=landing,
        catalog=catalog_out,
        start=start,
        end=end,
        feeds={name: len(feeds[name][1]) for name in FEEDS},
        reference_quarantine=reference_quarantine,
        files=tuple(sorted(p.relative_to(out_dir).as_posix() for p in files)),
        **_event_counts(writer),
    )
    if progress:
        progress(
            f"wrote {summary.events:,} events ({summary.duplicates:,} duplicates, "
            f"{summary.malformed + summary.conflicting_duplicates:,} dirty, {summary.late:,} late) "
            f"in {len(summary.files)} files"
        )
    return summary
