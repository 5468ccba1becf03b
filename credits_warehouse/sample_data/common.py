"""What the reference feeds (reference.py) and the events (events.py) of the synthetic
landing share: the clock, the usage the events make, and the world they are drawn from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from credits_warehouse.catalog import Catalog

DAY = 86_400
EVENT_TYPE = "llm_token_usage"
DEFAULT_MODEL_MIX = {"nova-fast": 0.6, "nova-pro": 0.3, "nova-ultra": 0.1}
TOKENS_MEDIAN = 1_200
TOKENS_SIGMA = 1.0
# Share of valid events of a type no aggregator matches; purchases are sized without them.
NON_BILLABLE_SHARE = 0.02


def iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(int(seconds), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


@dataclass
class World:
    """The customers as the events see them."""

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


def credit_rates(catalog: Catalog) -> dict[str, float]:
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


def model_mix(catalog: Catalog) -> tuple[list[str], np.ndarray]:
    """The models of token-usage events and the share of each."""
    models = list(credit_rates(catalog))
    if not models or set(models) == set(DEFAULT_MODEL_MIX):
        models = list(DEFAULT_MODEL_MIX)
        return models, np.array([DEFAULT_MODEL_MIX[m] for m in models])
    weights = 0.5 ** np.arange(len(models))
    return models, weights / weights.sum()
