"""The price list: the catalog YAML turned into validated pydantic models (contract §3).

Everything downstream reads the catalog through `load_catalog`, so an invalid file stops a
run before anything is written. The catalog reaches dbt as data (`catalog_tables`), never as
values spliced into SQL text.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import yaml
from babel import Locale
from babel.numbers import list_currencies
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

ISO_CURRENCIES = frozenset(list_currencies())
# ISO 3166-1 alpha-2: CLDR's two-letter territories less those ISO does not assign
# (reserved codes such as AC or EA, groupings such as EU and UN, private use such as XK).
_NOT_ISO_COUNTRIES = frozenset(
    "AC CP CQ DG EA EU EZ IC QO TA UN XA XB XK ZZ".split()
)  # fmt: skip
ISO_COUNTRIES = frozenset(
    code
    for code in Locale.parse("en").territories
    if len(code) == 2 and code.isalpha() and code not in _NOT_ISO_COUNTRIES
)

# Units are kept to 6 fractional digits and rates (weight / per) must be exact at 6 digits, so
# credits = units × rate is exact at 12 digits with no division anywhere. The dbt macro
# `credits_type` mirrors CREDIT_SCALE; tests/unit/test_catalog.py asserts they agree.
UNIT_SCALE = 6
RATE_SCALE = 6
CREDIT_SCALE = UNIT_SCALE + RATE_SCALE

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
PropertyName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^$/]")]
FilterValue = str | int | bool | Decimal


# What a bundle, plan or promotion applies to (contract §8.1): aggregator or credit product
# ids; empty means every aggregator.
AppliesTo = list[Id]


def applies_to_text(ids: list[str] | tuple[str, ...]) -> str:
    """The one spelling of a scope (fct_grants.applies_to, the walk's inputs): the ids
    sorted, without repeats, joined by `|`; empty for every aggregator. The grants feed's
    column is normalised to the same text in dbt (int_grants_feed_validated)."""
    return "|".join(sorted(set(ids)))


class CatalogError(ValueError):
    """An invalid catalog; `str()` is one line naming the key path and the problem."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _currency_map(value: dict[str, object]) -> dict[str, object]:
    for code in value:
        if code not in ISO_CURRENCIES:
            raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return value


class Aggregator(_Model):
    id: Id
    event_type: Annotated[str, Field(min_length=1)]
    operation: Literal["sum", "count"]
    property: PropertyName | None = None
    filters: dict[PropertyName, FilterValue | list[FilterValue]] = Field(default_factory=dict)
    dimensions: list[PropertyName] = Field(default_factory=list)

    @model_validator(mode="after")
    def _property_for_sum(self) -> Aggregator:
        if self.operation == "sum" and not self.property:
            raise ValueError("property is required when operation is sum")
        return self

    @field_validator("filters")
    @classmethod
    def _non_empty_lists(cls, value: dict) -> dict:
        for key, v in value.items():
            if isinstance(v, list) and not v:
                raise ValueError(f"filter {key!r} has an empty list")
        return value


class WeightStep(_Model):
    effective_from: dt.datetime | dt.date
    weight: Annotated[Decimal, Field(ge=0)]


class ProductAggregator(_Model):
    aggregator: Id
    per: Annotated[Decimal, Field(gt=0)] = Decimal(1)
    weight: Annotated[Decimal, Field(ge=0)] | list[WeightStep]

    def weight_steps(self) -> list[tuple[dt.datetime | None, Decimal]]:
        """The weight schedule as (effective_from UTC or None for "always", weight)."""
        if not isinstance(self.weight, list):
            return [(None, self.weight)]
        return [(_utc(step.effective_from), step.weight) for step in self.weight]

    @field_validator("weight")
    @classmethod
    def _steps_ordered(cls, value):
        if isinstance(value, list):
            if not value:
                raise ValueError("weight list is empty")
            starts = [_utc(s.effective_from) for s in value]
            if starts != sorted(starts) or len(set(starts)) != len(starts):
                raise ValueError("weight steps must have strictly increasing effective_from")
        return value

    @model_validator(mode="after")
    def _exact_rate(self) -> ProductAggregator:
        for _, weight in self.weight_steps():
            rate = weight / self.per
            if rate != rate.quantize(Decimal(1).scaleb(-RATE_SCALE)):
                raise ValueError(
                    f"weight {weight} / per {self.per} is not exact at {RATE_SCALE} decimal places"
                )
        return self


class CreditProduct(_Model):
    id: Id
    aggregators: Annotated[list[ProductAggregator], Field(min_length=1)]


class Bundle(_Model):
    id: Id
    credits: Annotated[Decimal, Field(gt=0)]
    bonus_credits: Annotated[Decimal, Field(ge=0)] = Decimal(0)
    prices: dict[str, Annotated[int, Field(ge=0)]]
    expires_after_days: Annotated[int, Field(gt=0)] | None = None
    priority: int = 50
    applies_to: AppliesTo = Field(default_factory=list)

    _currencies = field_validator("prices")(_currency_map)


class Rollover(_Model):
    max_credits: Annotated[Decimal, Field(ge=0)] = Decimal(0)
    expires_after_periods: Annotated[int, Field(ge=1)] = 1


class UserLimits(_Model):
    """A monthly cap on each user's credits under a plan (contract §8.4): a user whose
    credits in a calendar month go past `monthly_credits` raises one `user_limit` alert.
    It blocks no usage. The user is the value of `dimension`, one of the aggregators'
    dimensions."""

    dimension: PropertyName = "user_id"
    monthly_credits: Annotated[Decimal, Field(gt=0)]

    @field_validator("monthly_credits")
    @classmethod
    def _exact_credits(cls, value: Decimal) -> Decimal:
        if value != value.quantize(Decimal(1).scaleb(-CREDIT_SCALE)):
            raise ValueError(f"must be exact at {CREDIT_SCALE} decimal places, got {value}")
        return value


class Plan(_Model):
    id: Id
    fees: dict[str, Annotated[int, Field(ge=0)]]
    included_credits: Annotated[Decimal, Field(ge=0)]
    allowance_expires: Literal["period_end"] | Annotated[int, Field(gt=0)] = "period_end"
    rollover: Rollover = Field(default_factory=Rollover)
    overage: Literal["bill", "none"] = "none"
    overage_price_per_credit: dict[str, Annotated[Decimal, Field(ge=0)]] = Field(
        default_factory=dict
    )
    warning_limit: Annotated[Decimal, Field(ge=0)] = Decimal(0)
    priority: int = 50
    user_limits: UserLimits | None = None
    applies_to: AppliesTo = Field(default_factory=list)

    _fee_currencies = field_validator("fees")(_currency_map)
    _overage_currencies = field_validator("overage_price_per_credit")(_currency_map)

    @model_validator(mode="after")
    def _overage_priced(self) -> Plan:
        if self.overage == "bill" and not self.overage_price_per_credit:
            raise ValueError("overage_price_per_credit is required when overage is bill")
        return self


class Promotion(_Model):
    id: Id
    credits: Annotated[Decimal, Field(gt=0)]
    expires_after_days: Annotated[int, Field(gt=0)] | None = None
    priority: int = 50
    applies_to: AppliesTo = Field(default_factory=list)


def _iso_country(value: str) -> str:
    if value not in ISO_COUNTRIES:
        raise ValueError(f"{value!r} is not an ISO 3166 alpha-2 country code")
    return value


CountryCode = Annotated[str, AfterValidator(_iso_country)]


class Seller(_Model):
    name: str
    address: str = ""
    # ISO 3166 alpha-2; e-invoices (settings.facturx_countries) need it, and tax_id.
    country: CountryCode | None = None
    email: str = ""
    tax_id: str = ""
    payment_terms_days: Annotated[int, Field(ge=0)] = 14


class CatalogSettings(_Model):
    """Switches that hold for the whole catalog."""

    # Customers in these countries (ISO 3166 alpha-2) get their invoices and credit
    # notes as Factur-X e-invoices: PDF/A-3b with the CII XML embedded
    # (credits_warehouse/documents/facturx.py).
    facturx_countries: list[CountryCode] = Field(default_factory=list)
    # When breakage (paid credits that expire unused) is recognized as revenue
    # (docs/ledger.md "Breakage"): `at_expiry`, when the credits expire, or `proportional`,
    # estimated from past cohorts as credits are consumed and trued up at expiry.
    breakage_policy: Literal["at_expiry", "proportional"] = "at_expiry"


class AlertSettings(_Model):
    """Thresholds of the customer notifications in fct_alerts."""

    usage_spike_factor: Annotated[Decimal, Field(gt=1)] = Decimal(3)
    expiring_days: list[Annotated[int, Field(gt=0)]] = Field(default_factory=lambda: [30, 7, 1])


class Catalog(_Model):
    currency: str = "USD"
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    seller: Seller = Field(default_factory=lambda: Seller(name="Seller"))
    settings: CatalogSettings = Field(default_factory=CatalogSettings)
    aggregators: Annotated[list[Aggregator], Field(min_length=1)]
    credit_products: list[CreditProduct] = Field(default_factory=list)
    bundles: list[Bundle] = Field(default_factory=list)
    plans: list[Plan] = Field(default_factory=list)
    promotions: list[Promotion] = Field(default_factory=list)

    @field_validator("currency")
    @classmethod
    def _iso(cls, value: str) -> str:
        if value not in ISO_CURRENCIES:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return value

    @model_validator(mode="after")
    def _references(self) -> Catalog:
        for name in ("aggregators", "credit_products", "bundles", "plans", "promotions"):
            seen: set[str] = set()
            for i, item in enumerate(getattr(self, name)):
                if item.id in seen:
                    raise _PathError(f"{name}[{i}].id", f"duplicate id {item.id!r}")
                seen.add(item.id)
        known = {a.id for a in self.aggregators}
        priced: set[str] = set()
        for p, product in enumerate(self.credit_products):
            for a, entry in enumerate(product.aggregators):
                path = f"credit_products[{p}].aggregators[{a}].aggregator"
                if entry.aggregator not in known:
                    raise _PathError(path, f"unknown aggregator {entry.aggregator!r}")
                if entry.aggregator in priced:
                    raise _PathError(path, f"aggregator {entry.aggregator!r} is priced twice")
                priced.add(entry.aggregator)
        dimensions = {d for a in self.aggregators for d in a.dimensions}
        for p, plan in enumerate(self.plans):
            if plan.user_limits and plan.user_limits.dimension not in dimensions:
                raise _PathError(
                    f"plans[{p}].user_limits.dimension",
                    f"unknown dimension {plan.user_limits.dimension!r}:"
                    " no aggregator keeps it in its dimensions",
                )
        self._scopes_known(known | {p.id for p in self.credit_products})
        if self.settings.facturx_countries:
            # Factur-X (EN 16931) names the seller's country and VAT number.
            for field in ("country", "tax_id"):
                if not getattr(self.seller, field):
                    raise _PathError(
                        f"seller.{field}", "is required when settings.facturx_countries is set"
                    )
        return self

    def _scopes_known(self, ids: set[str]) -> None:
        """Every id of an `applies_to` names an aggregator or a credit product."""
        for name in ("bundles", "plans", "promotions"):
            for i, item in enumerate(getattr(self, name)):
                for j, scope_id in enumerate(item.applies_to):
                    if scope_id not in ids:
                        raise _PathError(
                            f"{name}[{i}].applies_to[{j}]",
                            f"unknown aggregator or credit product {scope_id!r}",
                        )

    def bundle(self, bundle_id: str) -> Bundle:
        return next(b for b in self.bundles if b.id == bundle_id)

    def plan(self, plan_id: str) -> Plan:
        return next(p for p in self.plans if p.id == plan_id)


class _PathError(ValueError):
    def __init__(self, path: str, problem: str):
        super().__init__(problem)
        self.path = path
        self.problem = problem


def _utc(value: dt.datetime | dt.date) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _first_error_line(source: str, err: ValidationError) -> str:
    first = err.errors()[0]
    path = _format_loc(first["loc"])
    message = first["msg"]
    ctx_error = (first.get("ctx") or {}).get("error")
    if isinstance(ctx_error, _PathError):
        path = ".".join(p for p in (path, ctx_error.path) if p)
        message = ctx_error.problem
    else:
        message = message.removeprefix("Value error, ")
    return f"invalid catalog {source}: {path or '<root>'}: {message}"


def _format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and (part.startswith("function-") or "[" in part):
            continue  # pydantic's internal union branch names are noise to a user
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_catalog(data: object, source: str = "<catalog>") -> Catalog:
    if not isinstance(data, dict):
        raise CatalogError(f"invalid catalog {source}: <root>: must be a mapping")
    try:
        return Catalog.model_validate(data)
    except ValidationError as err:
        raise CatalogError(_first_error_line(source, err)) from None


def load_catalog(path: str | Path) -> Catalog:
    """Read and validate a catalog file; raises CatalogError with one line on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise CatalogError(f"cannot read catalog {path}: {err.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise CatalogError(f"invalid catalog {path}:{where}: not valid YAML") from None
    return parse_catalog(data, str(path))


def _filter_text(value: FilterValue) -> str:
    """A filter value as the text DuckDB's `->>` gives for the matching JSON scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _aggregator_tables(catalog: Catalog) -> dict[str, list[dict]]:
    aggregators = [
        {
            "aggregator_id": a.id,
            "event_type": a.event_type,
            "operation": a.operation,
            "property_name": a.property,
            "filter_count": len(a.filters),
        }
        for a in catalog.aggregators
    ]
    filters = [
        {"aggregator_id": a.id, "property_name": key, "property_value": _filter_text(v)}
        for a in catalog.aggregators
        for key, value in a.filters.items()
        for v in (value if isinstance(value, list) else [value])
    ]
    dimensions = [
        {"aggregator_id": a.id, "dimension_name": d, "dimension_position": i}
        for a in catalog.aggregators
        for i, d in enumerate(a.dimensions)
    ]
    return {
        "catalog_aggregators": aggregators,
        "catalog_aggregator_filters": filters,
        "catalog_aggregator_dimensions": dimensions,
    }


def _rate_rows(catalog: Catalog) -> list[dict]:
    """Each credit product's weight per aggregator, one row per step of its weight history."""
    rates = []
    for product in catalog.credit_products:
        for entry in product.aggregators:
            steps = entry.weight_steps()
            for i, (start, weight) in enumerate(steps):
                end = steps[i + 1][0] if i + 1 < len(steps) else None
                rates.append(
                    {
                        "credit_product_id": product.id,
                        "aggregator_id": entry.aggregator,
                        "per_units": entry.per,
                        "weight": weight,
                        "credits_per_unit": weight / entry.per,
                        "effective_from": start,
                        "effective_to": end,
                    }
                )
    return rates


def _offer_tables(catalog: Catalog) -> dict[str, list[dict]]:
    """What a customer can buy or be given: bundles, plans and promotions, with prices."""
    bundles = [
        {
            "bundle_id": b.id,
            "credits": b.credits,
            "bonus_credits": b.bonus_credits,
            "expires_after_days": b.expires_after_days,
            "priority": b.priority,
            "applies_to": applies_to_text(b.applies_to),
        }
        for b in catalog.bundles
    ]
    bundle_prices = [
        {"bundle_id": b.id, "currency": cur, "price_amount": amount}
        for b in catalog.bundles
        for cur, amount in b.prices.items()
    ]
    plans = [
        {
            "plan_id": p.id,
            "included_credits": p.included_credits,
            "allowance_expires_after_days": (
                None if p.allowance_expires == "period_end" else p.allowance_expires
            ),
            "rollover_max_credits": p.rollover.max_credits,
            "rollover_expires_after_periods": p.rollover.expires_after_periods,
            "overage": p.overage,
            "warning_limit": p.warning_limit,
            "priority": p.priority,
            "applies_to": applies_to_text(p.applies_to),
        }
        for p in catalog.plans
    ]
    plan_prices = [
        {
            "plan_id": p.id,
            "currency": cur,
            "fee_amount": p.fees.get(cur),
            "overage_price_per_credit": p.overage_price_per_credit.get(cur),
        }
        for p in catalog.plans
        for cur in sorted(set(p.fees) | set(p.overage_price_per_credit))
    ]
    user_limits = [
        {
            "plan_id": p.id,
            "dimension_name": p.user_limits.dimension,
            "monthly_credits": p.user_limits.monthly_credits,
        }
        for p in catalog.plans
        if p.user_limits
    ]
    promotions = [
        {
            "promotion_id": p.id,
            "credits": p.credits,
            "expires_after_days": p.expires_after_days,
            "priority": p.priority,
            "applies_to": applies_to_text(p.applies_to),
        }
        for p in catalog.promotions
    ]
    return {
        "catalog_bundles": bundles,
        "catalog_bundle_prices": bundle_prices,
        "catalog_plans": plans,
        "catalog_plan_prices": plan_prices,
        "catalog_plan_user_limits": user_limits,
        "catalog_promotions": promotions,
    }


def catalog_tables(catalog: Catalog) -> dict[str, list[dict]]:
    """The catalog flattened to rows, one list per `raw.catalog_*` table dbt reads."""
    settings = [
        {"setting": "default_currency", "value": catalog.currency},
        {"setting": "usage_spike_factor", "value": str(catalog.alerts.usage_spike_factor)},
        {"setting": "payment_terms_days", "value": str(catalog.seller.payment_terms_days)},
        {"setting": "breakage_policy", "value": catalog.settings.breakage_policy},
    ]
    expiring_days = [{"days_before": d} for d in sorted(set(catalog.alerts.expiring_days))]
    return {
        **_aggregator_tables(catalog),
        "catalog_rates": _rate_rows(catalog),
        **_offer_tables(catalog),
        "catalog_settings": settings,
        "catalog_alert_expiring_days": expiring_days,
    }
