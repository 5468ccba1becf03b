"""Sample document contexts from `reports/sample_context.yaml`, to render every template
without a warehouse (previews and tests).

YAML knows dates and timestamps but not exact decimals, so the loader reads every number
written with a decimal point as a Decimal (never a float), and turns the credit fields
(CREDIT_KEYS) into Decimal even when written as integers, like the warehouse returns them.
Money stays integer minor units.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from credits_warehouse.documents.render import REPORTS_ROOT

SAMPLE_CONTEXT_PATH = REPORTS_ROOT / "sample_context.yaml"

# Fields that hold credits (or other exact quantities) rather than money or counts.
CREDIT_KEYS = frozenset(
    {
        "opening_balance",
        "granted",
        "consumed",
        "expired",
        "refunded",
        "settled",
        "closing_balance",
        "voided",
        "late_usage",
        "units",
        "credits",
        "closing_credits",
        "tax_rate",
        "description_quantity",
        "usage_credits_at_close",
        "usage_credits_now",
        "usage_credits_delta",
    }
)


class _DecimalLoader(yaml.SafeLoader):
    """SafeLoader whose floats are Decimals, parsed from the text as written."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    return Decimal(loader.construct_scalar(node).replace("_", ""))


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def _exact(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        if key == "expiring":
            return {str(k): Decimal(v) for k, v in value.items()}
        return {k: _exact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v, key) for v in value]
    if key in CREDIT_KEYS and isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def load_sample_contexts(path: Path = SAMPLE_CONTEXT_PATH) -> dict[str, dict]:
    """Every context in a sample YAML file, by document kind (statement, invoice, ...)."""
    return copy.deepcopy(_load(Path(path)))


@lru_cache(maxsize=4)
def _load(path: Path) -> dict[str, dict]:
    with path.open(encoding="utf-8") as handle:
        raw = yaml.load(handle, Loader=_DecimalLoader)  # noqa: S506 - a SafeLoader subclass
    return {kind: _exact(context) for kind, context in raw.items() if kind != "seller"}


def sample_statement_context() -> dict:
    """A complete statement context (see the worked numbers in sample_context.yaml)."""
    return load_sample_contexts()["statement"]


def sample_invoice_context() -> dict:
    """A finalized purchase invoice for a German customer, in EUR."""
    return load_sample_contexts()["invoice"]


def sample_credit_note_context() -> dict:
    """A finalized credit note for a French customer, in EUR."""
    return load_sample_contexts()["credit_note"]
