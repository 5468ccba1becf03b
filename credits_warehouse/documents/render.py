"""Turn a document context (statement, invoice, credit note) into a PDF, safely and
reproducibly, without a warehouse.

This module is a plain library: Jinja2 renders HTML from `reports/templates`, WeasyPrint
lays it out with the CSS from `reports/static/css`. It knows nothing about Dagster or
DuckDB; the caller builds the context dict (see `reports/sample_context.yaml` for the
shapes, loaded by `credits_warehouse.documents.samples`).

Three promises hold for every document:
- Customer data is text, never markup: autoescape is on, and the URL fetcher only serves
  files from `reports/static` (and `data:` URIs), so nothing else can be embedded.
- The same context gives byte-identical PDFs: the metadata dates and the embedded fonts'
  timestamps come from the context's `document_date` (see `_fonts_dated`), and the
  PDF /ID is a hash of the content.
- A PDF appears at its final path complete or not at all
  (`credits_warehouse.atomic_files.write_atomically`).

Speed (bench/render.py, bench/render_results.md): build one DocumentRenderer and reuse it
(parsed CSS, loaded fonts); the renderer parses with expat, uses a lean user-agent
stylesheet and pauses the garbage collector during a render; the committed font is a
small subset; and `parallel.write_documents_parallel` runs one renderer per core.
"""

from __future__ import annotations

import gc
import hashlib
import mimetypes
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname
from xml.etree import ElementTree

import cssselect2
import jinja2
from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_date as babel_format_date
from babel.numbers import (
    format_currency,
    format_decimal,
    format_percent,
    get_currency_precision,
)
from markupsafe import Markup
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from credits_warehouse.atomic_files import write_atomically
from credits_warehouse.documents.chart import balance_chart_svg

REPORTS_ROOT = Path(__file__).resolve().parents[2] / "reports"
TEMPLATES_DIR = REPORTS_ROOT / "templates"
STATIC_DIR = REPORTS_ROOT / "static"
CSS_DIR = STATIC_DIR / "css"

DEFAULT_LOCALE = "en_GB"

# Display precision only: the ledger keeps its own exact decimals (contract §4).
CREDITS_DISPLAY_QUANTUM = Decimal("0.000001")
# Wide enough that quantizing any realistic balance never raises InvalidOperation.
_DISPLAY_CONTEXT = Context(prec=60)

_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9._-]")
MAX_FILENAME_LENGTH = 120

# Replaces WeasyPrint's HTML5 user-agent stylesheet (see the file for why).
UA_STYLESHEET = "ua.css"

# Stylesheets per document template, in cascade order.
DOCUMENT_STYLESHEETS = {
    "statement.html.j2": ("fonts.css", "base.css", "statement.css"),
    "invoice.html.j2": ("fonts.css", "base.css", "invoice.css"),
    "simulation.html.j2": ("fonts.css", "base.css", "simulation.css"),
    "restatements.html.j2": ("fonts.css", "base.css", "restatements.css"),
}

# Document kinds (as callers name them) and the template each renders with. A credit note
# is an invoice whose `invoice_type` is "credit_note"; the template titles it.
DOCUMENT_TEMPLATES = {
    "statement": "statement.html.j2",
    "invoice": "invoice.html.j2",
    "credit_note": "invoice.html.j2",
    "restatements": "restatements.html.j2",
}


# --------------------------------------------------------------------------- locale


@lru_cache(maxsize=512)
def locale_for(country: str | None) -> str:
    """The formatting locale for a customer's country (ISO 3166 alpha-2), e.g. DE -> de_DE.

    The country's most likely language comes from CLDR (via babel): GB -> en_GB,
    US -> en_US, DE -> de_DE, FR -> fr_FR, NL -> nl_NL, CH -> de_CH. The documents' words are
    English, so only languages written in Latin script with Western digits are taken as
    they are; elsewhere English for that country is used where CLDR has it (IN -> en_IN),
    else the default en_GB. Unknown or empty countries get en_GB too.
    """
    code = (country or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        return DEFAULT_LOCALE
    try:
        likely = Locale.parse(f"und_{code}")
    except (UnknownLocaleError, ValueError):
        return DEFAULT_LOCALE
    script = get_global("likely_subtags").get(likely.language, "").split("_")
    if "Latn" in script and likely.default_numbering_system == "latn":
        return f"{likely.language}_{code}"
    try:
        return str(Locale.parse(f"en_{code}"))
    except (UnknownLocaleError, ValueError):
        return DEFAULT_LOCALE


def document_locale(context: dict) -> str:
    """The context's explicit `locale`, else the one for its customer's country."""
    explicit = context.get("locale")
    if explicit:
        return str(explicit)
    customer = context.get("customer") or {}
    return locale_for(customer.get("country"))


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


def line_description(line: Mapping[str, Any], locale: str | None = None) -> str:
    """An invoice line's words: its `description_template` with the `{quantity}` slot filled
    in the locale ("Credit bundle pack_10k (10.000 credits)" in de_DE)."""
    template = line["description_template"]
    quantity = line["description_quantity"]
    if quantity is None:
        return template
    return template.replace("{quantity}", format_credits(quantity, locale))


def format_rate(rate: int | Decimal, locale: str | None = None) -> str:
    """Format a tax rate given as a fraction: 0.2 -> "20%", 0.075 -> "7.5%" (de_DE: "7,5 %").

    The locale's own percent pattern, without rounding away fractional digits.
    """
    return format_percent(
        _check_exact_number(rate), locale=locale or DEFAULT_LOCALE, decimal_quantization=False
    )


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
    # Naive timestamps are UTC, like every timestamp in the warehouse (contract §4 periods).
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


def add_days(value: date | datetime | str, days: int) -> date:
    return _as_date(value) + timedelta(days=days)


def country_name(code: str | None) -> str:
    """English name of an ISO country code (the documents are in English); else the code."""
    code = (code or "").strip().upper()
    return Locale.parse("en").territories.get(code, code)


def address_lines(address: str | None) -> list[str]:
    """Split a postal address into lines: its own line breaks, else its comma-separated parts."""
    text = (address or "").strip()
    if "\n" in text:
        parts = text.splitlines()
    else:
        parts = text.split(",")
    return [part.strip() for part in parts if part.strip()]


# Labels that the generic rule in `humanize` would get wrong.
_LABELS = {"auto_topup": "Auto top-up", "topup": "Top-up"}


def humanize(value: str | None) -> str:
    """An identifier-like word for reading: "credit_note" -> "Credit note"."""
    text = str(value or "").strip()
    if text in _LABELS:
        return _LABELS[text]
    text = text.replace("_", " ")
    return text[:1].upper() + text[1:]


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
def _percent_filter(ctx, value, locale=None):
    return format_rate(value, _context_locale(ctx, value, locale))


@jinja2.pass_context
def _line_description_filter(ctx, line, locale=None):
    return line_description(line, _context_locale(ctx, line, locale))


@jinja2.pass_context
def _date_filter(ctx, value, locale=None):
    return format_long_date(value, _context_locale(ctx, value, locale))


@jinja2.pass_context
def _balance_chart_filter(ctx, daily_balances, locale=None):
    return balance_chart_svg(daily_balances, _context_locale(ctx, daily_balances, locale))


# Characters that have no place in a printed document and that XML (see _parse_document)
# refuses: C0/C1 controls other than tab and newlines, lone surrogates, U+FFFE/U+FFFF.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NOT_CHARACTERS = re.compile("[\ud800-\udfff\ufffe\uffff]")


def printable(value: Any) -> Any:
    """Drop control characters from text bound for a document; mark invalid code points.

    The environment's `finalize`: it sees every `{{ ... }}` value before escaping, so no
    customer string can put a control character (an invisible .notdef box at best) into
    a PDF. Markup we generated ourselves passes untouched.
    """
    if isinstance(value, str) and not isinstance(value, Markup):
        return _NOT_CHARACTERS.sub("\ufffd", _UNPRINTABLE.sub("", value))
    return value


def make_environment() -> jinja2.Environment:
    """Build the Jinja environment every document template is rendered with."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=printable,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=_money_filter,
        credits=_credits_filter,
        # Event counts and units read like credits: grouped, exact, no trailing zeros.
        number=_credits_filter,
        percent=_percent_filter,
        line_description=_line_description_filter,
        date=_date_filter,
        balance_chart=_balance_chart_filter,
        last_day=last_day,
        add_days=add_days,
        w3c_datetime=w3c_datetime,
        country_name=country_name,
        address_lines=address_lines,
        humanize=humanize,
    )
    return env


# --------------------------------------------------------------------------- paths


def safe_filename(name: str) -> str:
    """Make one path component from untrusted text (a customer id, an invoice number).

    Every character outside [A-Za-z0-9._-] becomes "_", leading dots are dropped (no
    hidden files, no "..") and the result is 1 to 120 characters long. A name that had to
    change ends in 8 hex digits of its hash, so `a/b` and `a_b` never share a file; a
    name that is already safe is kept as it is.
    """
    name = str(name)
    cleaned = _UNSAFE_FILENAME_CHARS.sub("_", name).lstrip(".")
    if cleaned == name and 0 < len(name) <= MAX_FILENAME_LENGTH:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{cleaned[: MAX_FILENAME_LENGTH - 9]}-{digest}".lstrip("-")


def _document_path(reports_dir: Path, period: str, folder: str, name: str) -> Path:
    reports_dir = Path(reports_dir)
    path = reports_dir / safe_filename(period) / folder / f"{safe_filename(name)}.pdf"
    # A real check, not an `assert`: it must survive `python -O`.
    if not path.resolve().is_relative_to(reports_dir.resolve()):
        raise ValueError(f"document path {path} escapes {reports_dir}")
    return path


# A period's documents: <reports>/<period>/statements/ and <reports>/<period>/invoices/.
STATEMENTS_FOLDER = "statements"
INVOICES_FOLDER = "invoices"


def statement_path(reports_dir: Path, period: str, customer_id: str) -> Path:
    """Where a customer's statement for a period lives (contract §6.2)."""
    return _document_path(reports_dir, period, STATEMENTS_FOLDER, customer_id)


def invoice_path(reports_dir: Path, period: str, invoice_number: str) -> Path:
    """Where a finalized invoice or credit note lives (contract §6.2), by its number."""
    return _document_path(reports_dir, period, INVOICES_FOLDER, invoice_number)


def document_folders(reports_dir: Path) -> dict[str, list[Path]]:
    """The document folders under `reports_dir` that exist, by the period they hold
    (folders whose name is no period, YYYY-MM, are not documents')."""
    folders: dict[str, list[Path]] = {}
    for period_dir in sorted(Path(reports_dir).glob("[0-9][0-9][0-9][0-9]-[0-9][0-9]")):
        for name in (STATEMENTS_FOLDER, INVOICES_FOLDER):
            if (period_dir / name).is_dir():
                folders.setdefault(period_dir.name, []).append(period_dir / name)
    return folders


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


class _DocumentHTML(HTML):
    """WeasyPrint's HTML with our user-agent stylesheet, `reports/static/css/ua.css`.

    `_ua_stylesheets` is a private hook of WeasyPrint 70 (pinned). Should a later version
    drop it, the built-in stylesheet applies again: the templates reset what they use, so
    documents look the same and are only slower.
    """

    ua_stylesheet: CSS | None = None

    def _ua_stylesheets(self, forms: bool = False) -> list:
        if self.ua_stylesheet is None:
            return super()._ua_stylesheets(forms)
        return [self.ua_stylesheet]


def _parse_document(source: str, base_url: str, url_fetcher: URLFetcher) -> _DocumentHTML:
    """Parse rendered HTML for WeasyPrint, with the C XML parser when the source allows.

    WeasyPrint parses HTML with tinyhtml5, in pure Python: about a tenth of a statement's
    render time. The templates emit well-formed XHTML-style markup (self-closed void
    elements, explicit <tbody>, no HTML-only entities), so expat (`xml.etree`) builds the
    same tree in a fraction of that; tests/reports check that both parses give
    byte-identical PDFs. The source is our own template output with every value escaped
    (and made `printable`), so it holds no DTD or entity declarations. Anything expat
    still refuses takes WeasyPrint's own HTML parser instead.

    The fast path fills the attributes WeasyPrint 70's `HTML.__init__` sets (a pinned
    version); the fallback is the public constructor.
    """
    try:
        root = ElementTree.fromstring(source)  # noqa: S314 - escaped template output
    except (ElementTree.ParseError, UnicodeError):
        return _DocumentHTML(string=source, base_url=base_url, url_fetcher=url_fetcher)
    html = _DocumentHTML.__new__(_DocumentHTML)
    html.base_url = base_url
    html.url_fetcher = url_fetcher
    html.media_type = "print"
    html.wrapper_element = cssselect2.ElementWrapper.from_html_root(root, content_language=None)
    html.etree_element = html.wrapper_element.etree_element
    return html


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector for one render, then collect its young garbage.

    A render allocates hundreds of thousands of short-lived objects, so the collector
    would run hundreds of times mid-render; measured, that is about a tenth of a typical
    statement's render time. Pausing it and collecting the young generations afterwards
    frees the same cycles, once.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            gc.collect(1)


class DocumentRenderer:
    """Renders documents to HTML and PDF; build once and reuse for many documents.

    Construction compiles the CSS and loads the fonts, which is most of the fixed cost;
    a PDF does not depend on what the renderer rendered before it.
    """

    def __init__(self, url_fetcher: SafeURLFetcher = safe_url_fetcher) -> None:
        self.env = make_environment()
        self.url_fetcher = url_fetcher
        self.font_config = FontConfiguration()
        self.base_url = STATIC_DIR.as_uri() + "/"
        # Parsed once per renderer: the same file (fonts.css, base.css) shared by two
        # templates is one CSS object, so its @font-face rules load the fonts once.
        parsed: dict[str, CSS] = {}
        for names in DOCUMENT_STYLESHEETS.values():
            for name in names:
                if name not in parsed:
                    parsed[name] = CSS(
                        filename=CSS_DIR / name,
                        url_fetcher=url_fetcher,
                        font_config=self.font_config,
                    )
        self.stylesheets = {
            template: [parsed[name] for name in names]
            for template, names in DOCUMENT_STYLESHEETS.items()
        }
        self.ua_stylesheet = CSS(
            filename=CSS_DIR / UA_STYLESHEET, url_fetcher=url_fetcher, font_config=self.font_config
        )

    def parse(self, source: str) -> HTML:
        """Parse rendered HTML into a WeasyPrint document (see `_parse_document`)."""
        html = _parse_document(source, self.base_url, self.url_fetcher)
        html.ua_stylesheet = self.ua_stylesheet
        return html

    def render_html(self, template: str, context: dict) -> str:
        context = {**context, "locale": document_locale(context)}
        return self.env.get_template(template).render(context)

    def render_pdf_bytes(self, template: str, context: dict) -> bytes:
        """The document's PDF; an invoice or credit note whose context says `facturx` is
        a Factur-X PDF/A-3b with its CII XML embedded (`documents/facturx.py`)."""
        source = self.render_html(template, context)
        options = {}
        if context.get("facturx"):
            # Imported here: facturx builds on this module's formatting helpers.
            from credits_warehouse.documents import facturx

            if facturx.applies(context):
                options = facturx.pdf_options(context)
        with _gc_paused(), _fonts_dated(context["document_date"]):
            html = self.parse(source)
            return html.write_pdf(
                stylesheets=self.stylesheets[template],
                font_config=self.font_config,
                # A hash of the content rather than a random id, so reruns are identical.
                pdf_identifier=True,
                **options,
            )

    def write_pdf(self, template: str, context: dict, out_path: Path) -> Path:
        return write_atomically(self.render_pdf_bytes(template, context), out_path)

    def render_document(self, kind: str, context: dict, out_path: Path) -> Path:
        """Write one document of a kind from DOCUMENT_TEMPLATES ("statement", "invoice", ...)."""
        try:
            template = DOCUMENT_TEMPLATES[kind]
        except KeyError:
            raise ValueError(f"unknown document kind {kind!r}") from None
        return self.write_pdf(template, context, out_path)

    def render_statement_html(self, context: dict) -> str:
        return self.render_html("statement.html.j2", context)

    def render_statement_pdf(self, context: dict, out_path: Path) -> Path:
        return self.write_pdf("statement.html.j2", context, out_path)

    def render_invoice_html(self, context: dict) -> str:
        """An invoice or, when `invoice.invoice_type` is "credit_note", a credit note."""
        return self.render_html("invoice.html.j2", context)

    def render_invoice_pdf(self, context: dict, out_path: Path) -> Path:
        return self.write_pdf("invoice.html.j2", context, out_path)
