"""Turn a statement context into a PDF, safely and reproducibly, without a warehouse.

This module is a plain library: Jinja2 renders HTML from `reports/templates`, WeasyPrint
lays it out with the CSS from `reports/static/css`. It knows nothing about Dagster or
DuckDB; the caller builds the context dict (see `sample_statement_context` for its shape).

Three promises hold for every document:
- Customer data is text, never markup: autoescape is on, and the URL fetcher only serves
  files from `reports/static` (and `data:` URIs), so nothing else can be embedded.
- The same context gives byte-identical PDFs: the metadata dates and the embedded fonts'
  timestamps come from the context's `document_date` (see `_fonts_dated`), and the
  PDF /ID is a hash of the content.
- A PDF appears at its final path complete or not at all (temp file + `os.replace`).
"""

from __future__ import annotations

import mimetypes
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import jinja2
from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency, format_decimal, get_currency_precision
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

REPORTS_ROOT = Path(__file__).resolve().parents[2] / "reports"
TEMPLATES_DIR = REPORTS_ROOT / "templates"
STATIC_DIR = REPORTS_ROOT / "static"
CSS_DIR = STATIC_DIR / "css"

DEFAULT_LOCALE = "en_GB"

# Display precision only: the ledger keeps its own exact decimals (SPEC §4).
CREDITS_DISPLAY_QUANTUM = Decimal("0.000001")
# Wide enough that quantizing any realistic balance never raises InvalidOperation.
_DISPLAY_CONTEXT = Context(prec=60)

_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9._-]")
MAX_FILENAME_LENGTH = 120

# Stylesheets per document template, in cascade order.
DOCUMENT_STYLESHEETS = {
    "statement.html.j2": ("base.css", "statement.css"),
}


# --------------------------------------------------------------------------- formatting


def _check_exact_number(value: Any) -> Decimal:
    # Floats (and bools, which are ints) would silently corrupt money and credits.
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise TypeError(f"expected int or Decimal, got {type(value).__name__}: {value!r}")
    return Decimal(value)


def format_money(amount_minor: int, currency: str, locale: str | None = None) -> str:
    """Format integer minor units (cents) as a currency amount, e.g. 123456 USD -> US$1,234.56.

    The number of minor digits comes from babel's currency data (JPY has 0, KWD has 3).
    """
    amount = _check_exact_number(amount_minor)
    if amount != amount.to_integral_value():
        raise ValueError(f"money amounts are integer minor units, got {amount_minor!r}")
    digits = get_currency_precision(currency)
    return format_currency(amount.scaleb(-digits), currency, locale=locale or DEFAULT_LOCALE)


def format_credits(value: int | Decimal, locale: str | None = None) -> str:
    """Format credits (or any exact quantity) for reading: 4700.000000 -> "4,700".

    Grouped thousands, at most 6 fractional digits (half-even), trailing zeros dropped,
    and never "-0".
    """
    quantized = _check_exact_number(value).quantize(
        CREDITS_DISPLAY_QUANTUM, rounding=ROUND_HALF_EVEN, context=_DISPLAY_CONTEXT
    )
    if quantized.is_zero():
        quantized = Decimal(0)
    return format_decimal(quantized, format="#,##0.######", locale=locale or DEFAULT_LOCALE)


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise TypeError(f"expected date, datetime or ISO string, got {type(value).__name__}")


def format_long_date(value: date | datetime | str, locale: str | None = None) -> str:
    """Format a date for people, e.g. 31 Mar 2026 (babel "medium" in the given locale)."""
    return babel_format_date(_as_date(value), format="medium", locale=locale or DEFAULT_LOCALE)


def _as_utc_datetime(value: date | datetime | str) -> datetime:
    # Naive timestamps are UTC, like every timestamp in the warehouse (SPEC §4 periods).
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def w3c_datetime(value: date | datetime | str) -> str:
    """Format a timestamp as a W3C datetime in UTC, as WeasyPrint wants for PDF metadata."""
    return _as_utc_datetime(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def last_day(period_end: date | datetime) -> date:
    """Turn an exclusive period end into the last day it covers, for display."""
    return _as_date(period_end) - timedelta(days=1)


def _context_locale(ctx: jinja2.runtime.Context, value: Any, locale: str | None) -> str:
    if isinstance(value, jinja2.Undefined):
        # Let StrictUndefined name the missing key instead of a TypeError about its type.
        str(value)
    return locale or ctx.get("locale") or DEFAULT_LOCALE


@jinja2.pass_context
def _money_filter(ctx, amount_minor, currency, locale=None):
    return format_money(amount_minor, currency, _context_locale(ctx, amount_minor, locale))


@jinja2.pass_context
def _credits_filter(ctx, value, locale=None):
    return format_credits(value, _context_locale(ctx, value, locale))


@jinja2.pass_context
def _date_filter(ctx, value, locale=None):
    return format_long_date(value, _context_locale(ctx, value, locale))


def make_environment() -> jinja2.Environment:
    """Build the Jinja environment every document template is rendered with."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=_money_filter,
        credits=_credits_filter,
        # Event counts and units read like credits: grouped, exact, no trailing zeros.
        number=_credits_filter,
        date=_date_filter,
        last_day=last_day,
        w3c_datetime=w3c_datetime,
    )
    return env


# --------------------------------------------------------------------------- paths


def safe_filename(name: str) -> str:
    """Make one path component from untrusted text (a customer id, an invoice number).

    Every character outside [A-Za-z0-9._-] becomes "_", leading dots are dropped (no
    hidden files, no "..") and the result is 1 to 120 characters long.
    """
    cleaned = _UNSAFE_FILENAME_CHARS.sub("_", str(name)).lstrip(".")
    return cleaned[:MAX_FILENAME_LENGTH] or "_"


def statement_path(reports_dir: Path, period: str, customer_id: str) -> Path:
    """Where a customer's statement for a period lives (SPEC §6.2)."""
    reports_dir = Path(reports_dir)
    path = reports_dir / safe_filename(period) / "statements" / f"{safe_filename(customer_id)}.pdf"
    # A real check, not an `assert`: it must survive `python -O`.
    if not path.resolve().is_relative_to(reports_dir.resolve()):
        raise ValueError(f"statement path {path} escapes {reports_dir}")
    return path


# --------------------------------------------------------------------------- URL fetcher


class UnsafeURLError(ValueError):
    """A document asked for a resource outside `reports/static`."""


class SafeURLFetcher(URLFetcher):
    """WeasyPrint URL fetcher that serves only local static files and `data:` URIs.

    `file:` URLs must resolve (after symlinks) to a regular file inside `static_root`;
    everything else, http(s) included, raises `UnsafeURLError`, which WeasyPrint logs and
    skips, so nothing is embedded. WeasyPrint 70 wants a `URLFetcher` subclass (it reads
    private attributes of the fetcher), hence a class rather than a bare function.
    """

    def __init__(self, static_root: Path = STATIC_DIR) -> None:
        super().__init__(allowed_protocols=("file", "data"))
        self.static_root = Path(static_root).resolve()

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme != "file":
            raise UnsafeURLError(f"refused non-local URL: {url}")
        if parts.netloc not in ("", "localhost"):
            raise UnsafeURLError(f"refused remote file URL: {url}")
        try:
            path = Path(url2pathname(parts.path)).resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            raise UnsafeURLError(f"refused missing file: {url}") from exc
        if not path.is_relative_to(self.static_root) or not path.is_file():
            raise UnsafeURLError(f"refused file outside {self.static_root}: {url}")
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(
            path.as_uri(), body=path.read_bytes(), headers={"Content-Type": content_type}
        )


safe_url_fetcher = SafeURLFetcher()


# --------------------------------------------------------------------------- renderer

_SOURCE_DATE_LOCK = threading.Lock()


@contextmanager
def _fonts_dated(document_date: date | datetime | str) -> Iterator[None]:
    """Stamp subset fonts with the document date instead of the wall clock.

    Without libharfbuzz-subset, WeasyPrint subsets fonts with fontTools, which writes
    "now" into each font's `head.modified`, so two renders a second apart differ.
    fontTools honours SOURCE_DATE_EPOCH (the reproducible-builds convention), which is
    process-wide state: the lock keeps concurrent renders from seeing each other's date
    (and from sharing the renderer's FontConfiguration at the same time). Rendering is
    CPU-bound under the GIL anyway, so serializing threads costs nothing.
    """
    epoch = int(_as_utc_datetime(document_date).timestamp())
    with _SOURCE_DATE_LOCK:
        previous = os.environ.get("SOURCE_DATE_EPOCH")
        os.environ["SOURCE_DATE_EPOCH"] = str(epoch)
        try:
            yield
        finally:
            if previous is None:
                del os.environ["SOURCE_DATE_EPOCH"]
            else:
                os.environ["SOURCE_DATE_EPOCH"] = previous


class DocumentRenderer:
    """Renders documents to HTML and PDF; build once and reuse for many documents.

    Construction compiles the CSS and sets up fonts, which is most of the fixed cost.
    """

    def __init__(self, url_fetcher: SafeURLFetcher = safe_url_fetcher) -> None:
        self.env = make_environment()
        self.url_fetcher = url_fetcher
        self.font_config = FontConfiguration()
        self.base_url = STATIC_DIR.as_uri() + "/"
        self.stylesheets = {
            template: [
                CSS(
                    filename=CSS_DIR / name,
                    url_fetcher=url_fetcher,
                    font_config=self.font_config,
                )
                for name in names
            ]
            for template, names in DOCUMENT_STYLESHEETS.items()
        }

    def render_html(self, template: str, context: dict) -> str:
        return self.env.get_template(template).render(context)

    def render_pdf_bytes(self, template: str, context: dict) -> bytes:
        html = HTML(
            string=self.render_html(template, context),
            base_url=self.base_url,
            url_fetcher=self.url_fetcher,
        )
        with _fonts_dated(context["document_date"]):
            return html.write_pdf(
                stylesheets=self.stylesheets[template],
                font_config=self.font_config,
                # A hash of the content rather than a random id, so reruns are identical.
                pdf_identifier=True,
            )

    def write_pdf(self, template: str, context: dict, out_path: Path) -> Path:
        out_path = Path(out_path)
        pdf = self.render_pdf_bytes(template, context)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = out_path.with_suffix(f".pdf.tmp-{os.getpid()}")
        try:
            tmp_path.write_bytes(pdf)
            os.replace(tmp_path, out_path)
        finally:
            tmp_path.unlink(missing_ok=True)
        return out_path

    def render_statement_html(self, context: dict) -> str:
        return self.render_html("statement.html.j2", context)

    def render_statement_pdf(self, context: dict, out_path: Path) -> Path:
        return self.write_pdf("statement.html.j2", context, out_path)


# --------------------------------------------------------------------------- sample


def sample_statement_context() -> dict:
    """A complete statement context, to render the template without a warehouse.

    The numbers are seed 000's month: 10,000 credits granted, then
    2,000,000 nova-fast tokens / 1000 * 1  = 2,000 credits
      450,000 nova-pro tokens  / 1000 * 4  = 1,800 credits
      100,000 nova-ultra tokens / 1000 * 15 = 1,500 credits
    so consumed = 5,300 and closing = 0 + 10,000 - 5,300 - 0 = 4,700.
    """
    return {
        "document_date": "2026-04-01T00:00:00",
        "seller": {
            "name": "Nova AI Platform Ltd",
            "address": "1 Example Street\nLondon EC1A 1AA\nUnited Kingdom",
            "email": "billing@nova.example",
            "tax_id": "GB123456789",
        },
        "customer": {
            "customer_id": "cus_000001",
            "name": "Acme Robotics Ltd",
            "email": "finance@acme.example",
            "address": "42 Sample Road\nManchester M1 1AA",
            "country": "GB",
            "currency": "USD",
        },
        "period": "2026-03",
        "period_start": date(2026, 3, 1),
        "period_end": date(2026, 4, 1),
        "opening_balance": Decimal("0"),
        "granted": Decimal("10000.000000"),
        "consumed": Decimal("5300.000000"),
        "expired": Decimal("0"),
        "refunded": Decimal("0"),
        "settled": Decimal("0"),
        "closing_balance": Decimal("4700.000000000000"),
        "usage": [
            {
                "aggregator_id": "nova_fast_tokens",
                "events": 1200,
                "units": Decimal("2000000"),
                "credits": Decimal("2000.000000"),
            },
            {
                "aggregator_id": "nova_pro_tokens",
                "events": 300,
                "units": Decimal("450000"),
                "credits": Decimal("1800.000000"),
            },
            {
                "aggregator_id": "nova_ultra_tokens",
                "events": 50,
                "units": Decimal("100000"),
                "credits": Decimal("1500.000000"),
            },
        ],
        "grants": [
            {
                "grant_id": "grt_pack_10k_0001",
                "kind": "purchase",
                "effective_at": datetime(2026, 3, 1, 9, 30),
                "expires_at": datetime(2027, 3, 1, 9, 30),
                "credits": Decimal("10000.000000"),
            },
        ],
        "locale": DEFAULT_LOCALE,
    }


if __name__ == "__main__":  # pragma: no cover - manual preview
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "statement-sample.pdf")
    print(DocumentRenderer().render_statement_pdf(sample_statement_context(), target))
