"""The ledger's entry types and what they mean, for Python callers (docs/ledger.md).

The SQL side is dbt/macros/entry_types.sql; tests/unit/test_entry_types.py holds the two
equal, so a rule changed in one place and not the other fails the tests.
"""

from __future__ import annotations

# By the sign of their credits (+ adds to the balance).
ENTRIES_THAT_ADD = (
    "grant", "overage_repaid", "unfunded_repaid", "overage_settlement", "unfunded_writeoff",
    "void",
)  # fmt: skip
ENTRIES_THAT_TAKE = (
    "usage", "overage", "unfunded", "expiry", "rollover", "repayment", "refund", "adjustment",
    "grant_void",
)  # fmt: skip
ENTRY_TYPES = ENTRIES_THAT_ADD + ENTRIES_THAT_TAKE
SHORTFALLS = ("overage", "unfunded")
USAGE_ENTRIES = ("usage", *SHORTFALLS)

# What a customer consumed: usage however funded, adjustments, and voids, which give back
# what they cancel (statements, daily balances and invoices count consumption so).
CONSUMED_ENTRY_TYPES = ("usage", "overage", "unfunded", "adjustment", "void")
# What a grant paid out: usage it funded, repayments, adjustments, and voids put back.
DRAWN_ENTRY_TYPES = ("usage", "repayment", "adjustment", "void")
# What left a grant unspent at its end: expiry, or its move into a rollover grant.
EXPIRED_ENTRY_TYPES = ("expiry", "rollover")
# What settled a period's shortfalls at its end: overage invoiced, or unfunded written off.
SETTLED_ENTRY_TYPES = ("overage_settlement", "unfunded_writeoff")
# What was taken out of a grant before its end by a decision, neither used nor expired: a
# refund of its purchase, or a void of the grant (contract §8.3).
WITHDRAWN_ENTRY_TYPES = ("refund", "grant_void")
