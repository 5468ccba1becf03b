"""Where a run reads and writes, and its clock: flag, then environment, then the contract's default;
and the SMTP server `credits deliver` sends through (environment only).

Resolved when a run starts, never at import, so `definitions.py` reads no environment.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
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


# --- SMTP, for `credits deliver` ---------------------------------------------------------

SMTP_ENV_VARS = {
    "host": "CREDITS_SMTP_HOST",
    "port": "CREDITS_SMTP_PORT",
    "user": "CREDITS_SMTP_USER",
    "password": "CREDITS_SMTP_PASSWORD",
    "sender": "CREDITS_SMTP_FROM",
    "starttls": "CREDITS_SMTP_STARTTLS",
    "timeout": "CREDITS_SMTP_TIMEOUT",
}
DEFAULT_SMTP_PORT = 587
DEFAULT_SMTP_TIMEOUT_SECONDS = 60
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class SmtpSettings:
    """Where `credits deliver` sends mail: the server, its login, and the From address."""

    host: str
    port: int
    user: str | None
    password: str | None = field(repr=False)
    sender: str  # the From header as given: `billing@example.com` or `Billing <billing@…>`
    sender_address: str  # the bare address of `sender` (the envelope sender)
    starttls: bool
    timeout_seconds: int


def resolve_smtp_settings(environ: Mapping[str, str] | None = None) -> SmtpSettings:
    """The SMTP settings from the environment (CREDITS_SMTP_*), read when a delivery starts.

    HOST and FROM are required; PORT defaults to 587 and STARTTLS to true (a plain
    connection only when set to false, say for a relay on localhost); USER and PASSWORD are
    given together or not at all. A bad or missing value raises a one-line SettingsError.
    """
    env = os.environ if environ is None else environ

    def text(key: str) -> str:
        return env.get(SMTP_ENV_VARS[key], "").strip()

    host = text("host")
    if not host:
        raise SettingsError(
            f"{SMTP_ENV_VARS['host']} is not set: the SMTP server to deliver through"
        )
    sender = text("sender")
    if not sender:
        raise SettingsError(f"{SMTP_ENV_VARS['sender']} is not set: the From address of the emails")
    _, sender_address = parseaddr(sender)
    if not is_plain_address(sender_address):
        raise SettingsError(f"{SMTP_ENV_VARS['sender']} {sender!r} is not an email address")
    user, password = text("user") or None, env.get(SMTP_ENV_VARS["password"]) or None
    if (user is None) != (password is None):
        raise SettingsError(
            f"{SMTP_ENV_VARS['user']} and {SMTP_ENV_VARS['password']} go together: set both or neither"
        )
    starttls = text("starttls").lower() or "true"
    if starttls not in _TRUE | _FALSE:
        raise SettingsError(f"{SMTP_ENV_VARS['starttls']} must be true or false, not {starttls!r}")
    return SmtpSettings(
        host=host,
        port=_positive(SMTP_ENV_VARS["port"], text("port"), DEFAULT_SMTP_PORT, maximum=65535),
        user=user,
        password=password,
        sender=sender,
        sender_address=sender_address,
        starttls=starttls in _TRUE,
        timeout_seconds=_positive(
            SMTP_ENV_VARS["timeout"], text("timeout"), DEFAULT_SMTP_TIMEOUT_SECONDS
        ),
    )


def _positive(variable: str, text: str, default: int, maximum: int | None = None) -> int:
    if not text:
        return default
    if not text.isdigit() or int(text) <= 0 or (maximum is not None and int(text) > maximum):
        limit = f" up to {maximum}" if maximum else ""
        raise SettingsError(f"{variable} must be a positive whole number{limit}, not {text!r}")
    return int(text)


# One address, as a customer feed or a setting gives it: no display name, no spaces or
# control characters (nothing that could end a header), one @ and a dotted domain.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def is_plain_address(text: str | None) -> bool:
    """Whether `text` is one bare email address that is safe to put in a header."""
    return bool(text) and len(text) <= 254 and _PLAIN_ADDRESS.fullmatch(text) is not None
