"""Documents (statements, invoices, credit notes) rendered to PDF; a library with no Dagster
imports."""

from credits_warehouse.documents.chart import balance_chart_svg
from credits_warehouse.documents.parallel import (
    default_workers,
    write_documents,
    write_documents_parallel,
)
from credits_warehouse.documents.render import (
    DOCUMENT_TEMPLATES,
    REPORTS_ROOT,
    DocumentRenderer,
    SafeURLFetcher,
    UnsafeURLError,
    document_folders,
    document_locale,
    format_credits,
    format_long_date,
    format_money,
    format_rate,
    invoice_path,
    locale_for,
    make_environment,
    safe_filename,
    safe_url_fetcher,
    statement_path,
)
from credits_warehouse.documents.samples import (
    load_sample_contexts,
    sample_credit_note_context,
    sample_invoice_context,
    sample_statement_context,
)

__all__ = [
    "DOCUMENT_TEMPLATES",
    "REPORTS_ROOT",
    "DocumentRenderer",
    "SafeURLFetcher",
    "UnsafeURLError",
    "balance_chart_svg",
    "default_workers",
    "document_folders",
    "document_locale",
    "format_credits",
    "format_long_date",
    "format_money",
    "format_rate",
    "invoice_path",
    "load_sample_contexts",
    "locale_for",
    "make_environment",
    "safe_filename",
    "safe_url_fetcher",
    "sample_credit_note_context",
    "sample_invoice_context",
    "sample_statement_context",
    "statement_path",
    "write_documents",
    "write_documents_parallel",
]
