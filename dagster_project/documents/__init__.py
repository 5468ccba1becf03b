"""Documents (statements, later invoices) rendered to PDF; a library with no Dagster imports."""

from dagster_project.documents.render import (
    REPORTS_ROOT,
    DocumentRenderer,
    SafeURLFetcher,
    UnsafeURLError,
    format_credits,
    format_long_date,
    format_money,
    make_environment,
    safe_filename,
    safe_url_fetcher,
    sample_statement_context,
    statement_path,
)

__all__ = [
    "REPORTS_ROOT",
    "DocumentRenderer",
    "SafeURLFetcher",
    "UnsafeURLError",
    "format_credits",
    "format_long_date",
    "format_money",
    "make_environment",
    "safe_filename",
    "safe_url_fetcher",
    "sample_statement_context",
    "statement_path",
]
