"""The quarantine reasons, written once for Python (docs: README "Rejected rows").

The dbt models decide them (int_events_validated.sql and the int_*_validated models of the
reference feeds); fct_event_quarantine's accepted_values test, the pandera check and the
README list every one of them, and tests/unit/test_quarantine_reasons.py holds those lists
equal to these tuples.
"""

from __future__ import annotations

# Events (contract §2.1), in the order the checks apply; dedup comes last, over the rows that
# pass every other check. unreadable_file: a file ingest refused (credits_warehouse/ingest.py
# RefusedFile), landed as one row without a payload; it applies to every feed.
# quantity_out_of_range: a quantity of a quadrillion units or more (dbt max_event_units).
EVENT_REASONS = (
    "unreadable_file", "malformed", "missing_field", "unknown_customer", "bad_timestamp",
    "negative_quantity", "non_numeric_quantity", "quantity_out_of_range", "future_timestamp",
    "duplicate", "conflicting_duplicate",
)  # fmt: skip
# Reference feeds (contract §2.2, §8.3) add these. unknown_grant: a grant amendment naming no
# grant of the inputs; closed_period: one dated in a period already closed when it was loaded.
REFERENCE_REASONS = (
    "invalid_currency", "invalid_value", "unknown_plan", "unknown_bundle", "unknown_event",
    "unknown_purchase", "unknown_grant", "closed_period",
)  # fmt: skip
QUARANTINE_REASONS = EVENT_REASONS + REFERENCE_REASONS
