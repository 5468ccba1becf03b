"""Where a run reads and writes, and its clock: flag, then environment, then the contract's default.

Resolved when a run starts, never at import, so `definitions.py` reads no environment.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULTS = {
    "landing": "data/landing",
    "catalog": "data/catalog.yml",
    "warehouse": "data/warehouse.duckdb",
    "reports": "reports/out",
}
ENV_VARS = {
    "landing": "CREDITS_LANDING",
    "catalog": "CREDITS_CATALOG",
    "warehouse": "CREDITS_WAREHOUSE",
    "reports": "CREDITS_REPORTS",
    "as_of": "CREDITS_AS_OF",
}


class SettingsError(ValueError):
    """A setting that cannot be used, such as an unparseable --as-of."""


def parse_as_of(text: str) -> dt.datetime:
    """An RFC 3339 or ISO date/time as a naive UTC datetime (naive input is UTC)."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SettingsError(f"--as-of {text!r} is not an ISO 8601 date or timestamp") from None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


@dataclass(frozen=True)
class Settings:
    landing: Path
    catalog: Path
    warehouse: Path
    reports: Path
    as_of: dt.datetime

    @property
    def as_of_iso(self) -> str:
        return self.as_of.isoformat(timespec="seconds")


def resolve_settings(
    landing: str | None = None,
    catalog: str | None = None,
    warehouse: str | None = None,
    reports: str | None = None,
    as_of: str | None = None,
) -> Settings:
    given = {"landing": landing, "catalog": catalog, "warehouse": warehouse, "reports": reports}
    paths = {
        key: Path(value or os.environ.get(ENV_VARS[key]) or DEFAULTS[key]).expanduser().resolve()
        for key, value in given.items()
    }
    clock_text = as_of or os.environ.get(ENV_VARS["as_of"])
    clock = (
        parse_as_of(clock_text)
        if clock_text
        else dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    )
    return Settings(as_of=clock, **paths)
