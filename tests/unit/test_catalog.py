"""The catalog (contract §3): the shipped file loads, and an invalid one stops the run with ONE
line naming the key path and the problem. The Python scale constant and the dbt type agree.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from credits_warehouse.catalog import (
    CREDIT_SCALE,
    RATE_SCALE,
    UNIT_SCALE,
    Catalog,
    CatalogError,
    catalog_tables,
    load_catalog,
    parse_catalog,
)
from dagster_project.resources import DBT_PROJECT_DIR

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED = REPO_ROOT / "data" / "catalog.yml"


@pytest.fixture(scope="module")
def shipped_data() -> dict:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def test_shipped_catalog_loads():
    catalog = load_catalog(SHIPPED)
    assert isinstance(catalog, Catalog)
    assert catalog.currency == "USD"
    assert [a.id for a in catalog.aggregators] == [
        "nova_fast_tokens",
        "nova_pro_tokens",
        "nova_ultra_tokens",
    ]
    # Seed 000's weights: 1, 4 and 15 credits per 1,000 tokens.
    rates = {
        r["aggregator_id"]: r["credits_per_unit"] for r in catalog_tables(catalog)["catalog_rates"]
    }
    assert rates == {
        "nova_fast_tokens": Decimal("0.001"),
        "nova_pro_tokens": Decimal("0.004"),
        "nova_ultra_tokens": Decimal("0.015"),
    }
    assert {b.id for b in catalog.bundles} == {"pack_10k", "pack_50k", "pack_200k"}
    assert {p.id for p in catalog.plans} == {"free", "pro"}


def test_applies_to_names_aggregators_or_credit_products(shipped_data):
    # contract §8.1: absent means every aggregator (written ""); the ids of a scope are
    # written sorted, once each, joined by "|".
    data = copy.deepcopy(shipped_data)
    data["bundles"][0]["applies_to"] = ["nova_pro_tokens", "ai_credits", "nova_pro_tokens"]
    data["promotions"][0]["applies_to"] = ["nova_fast_tokens"]
    tables = catalog_tables(parse_catalog(data))
    assert [b["applies_to"] for b in tables["catalog_bundles"]] == [
        "ai_credits|nova_pro_tokens",
        "",
        "",
    ]
    assert [p["applies_to"] for p in tables["catalog_plans"]] == ["", ""]
    assert [p["applies_to"] for p in tables["catalog_promotions"]] == ["nova_fast_tokens"]


def _drop_sum_property(d: dict) -> None:
    del d["aggregators"][0]["property"]


def _lowercase_currency(d: dict) -> None:
    d["bundles"][0]["prices"] = {"usd": 10000}


def _unknown_aggregator(d: dict) -> None:
    d["credit_products"][0]["aggregators"][1]["aggregator"] = "nova_mega_tokens"


def _inexact_rate(d: dict) -> None:
    # 1 / 3 = 0.333333... is not exact at 6 decimal places.
    d["credit_products"][0]["aggregators"][0]["per"] = 3


def _unknown_scope(d: dict) -> None:
    d["plans"][1]["applies_to"] = ["ai_credits", "nova_mega_tokens"]


def _extra_key(d: dict) -> None:
    d["extra"] = True


def _user_limit_on(d: dict, **limits) -> None:
    d["plans"][1]["user_limits"] = limits


BROKEN: dict[str, tuple[Callable[[dict], None], str, str]] = {
    # name: (mutation, key path the message names, a word of the problem)
    "sum_without_property": (_drop_sum_property, "aggregators[0]", "property"),
    "non_iso_currency": (_lowercase_currency, "bundles[0].prices", "usd"),
    "unknown_aggregator": (
        _unknown_aggregator,
        "credit_products[0].aggregators[1].aggregator",
        "nova_mega_tokens",
    ),
    "inexact_rate": (_inexact_rate, "credit_products[0].aggregators[0]", "exact"),
    "extra_key": (_extra_key, "extra", "not permitted"),
    # user_limits (contract §8.4): a positive exact number of credits, on a known dimension.
    "user_limit_unknown_dimension": (
        lambda d: _user_limit_on(d, dimension="team_id", monthly_credits=100),
        "plans[1].user_limits.dimension",
        "team_id",
    ),
    "user_limit_zero": (
        lambda d: _user_limit_on(d, monthly_credits=0),
        "plans[1].user_limits.monthly_credits",
        "greater than 0",
    ),
    "user_limit_negative": (
        lambda d: _user_limit_on(d, monthly_credits="-5"),
        "plans[1].user_limits.monthly_credits",
        "greater than 0",
    ),
    "user_limit_not_a_number": (
        lambda d: _user_limit_on(d, monthly_credits="lots"),
        "plans[1].user_limits.monthly_credits",
        "decimal",
    ),
    "user_limit_inexact": (
        lambda d: _user_limit_on(d, monthly_credits="0.0000000000001"),
        "plans[1].user_limits.monthly_credits",
        "exact at 12",
    ),
    "user_limit_without_credits": (
        lambda d: _user_limit_on(d, dimension="user_id"),
        "plans[1].user_limits.monthly_credits",
        "required",
    ),
    "unknown_scope": (_unknown_scope, "plans[1].applies_to[1]", "nova_mega_tokens"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_catalog_names_the_key_path(shipped_data, name):
    mutate, path, word = BROKEN[name]
    data = copy.deepcopy(shipped_data)
    mutate(data)
    with pytest.raises(CatalogError) as info:
        parse_catalog(data, "catalog.yml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("invalid catalog catalog.yml: ")
    # The key path comes right after the source, followed by the problem.
    assert f": {path}: " in message, message
    assert word in message


@pytest.mark.parametrize("name", ["sum_without_property", "extra_key"])
def test_broken_catalog_file_fails_on_load(tmp_path, shipped_data, name):
    mutate, path, _ = BROKEN[name]
    data = copy.deepcopy(shipped_data)
    mutate(data)
    file = tmp_path / "catalog.yml"
    file.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(file)
    message = str(info.value)
    assert "\n" not in message
    assert str(file) in message
    assert f": {path}: " in message


def test_invalid_yaml_names_the_file_and_line(tmp_path):
    file = tmp_path / "catalog.yml"
    file.write_text("currency: USD\naggregators: [\n  - id: x\n", encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(file)
    message = str(info.value)
    assert "\n" not in message
    assert str(file) in message
    assert "not valid YAML" in message
    assert re.search(r"line \d+", message)


def test_missing_file_is_one_line(tmp_path):
    file = tmp_path / "nowhere" / "catalog.yml"
    with pytest.raises(CatalogError) as info:
        load_catalog(file)
    message = str(info.value)
    assert "\n" not in message
    assert str(file) in message


def test_non_mapping_catalog_is_rejected():
    with pytest.raises(CatalogError, match="<root>"):
        parse_catalog(["not", "a", "mapping"])


def _decimal_scale(macro_file: str, macro: str) -> int:
    match = re.search(
        r"\{%\s*macro\s+" + macro + r"\(\)\s*%\}\s*decimal\(\s*38\s*,\s*(\d+)\s*\)",
        macro_file,
    )
    assert match, f"macro {macro}() not found as decimal(38, N)"
    return int(match.group(1))


def test_python_constant_and_dbt_type_agree():
    """CREDIT_SCALE (catalog.py) and `credits_type()` (dbt/macros/types.sql) agree, and so do
    the unit and rate scales they are built from."""
    text = (DBT_PROJECT_DIR / "macros" / "types.sql").read_text(encoding="utf-8")
    assert _decimal_scale(text, "credits_type") == CREDIT_SCALE
    assert _decimal_scale(text, "units_type") == UNIT_SCALE
    assert _decimal_scale(text, "rate_type") == RATE_SCALE
    assert CREDIT_SCALE == UNIT_SCALE + RATE_SCALE
    # contract §4: at least 6 fractional digits.
    assert CREDIT_SCALE >= 6


def test_user_limits_reach_dbt_as_a_table_of_their_own(shipped_data):
    """A plan's user_limits become one row of catalog_plan_user_limits; the dimension
    defaults to user_id, and plans without limits have no row."""
    data = copy.deepcopy(shipped_data)
    _user_limit_on(data, monthly_credits="2500.5")
    rows = catalog_tables(parse_catalog(data))["catalog_plan_user_limits"]
    assert rows == [
        {"plan_id": "pro", "dimension_name": "user_id", "monthly_credits": Decimal("2500.5")}
    ]
    assert catalog_tables(parse_catalog(shipped_data))["catalog_plan_user_limits"] == []
