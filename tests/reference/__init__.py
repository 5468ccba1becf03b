"""The slow, obviously correct reference of the credit ledger (docs/ledger.md) and the
scenario model it reads; tests compare the warehouse against it."""
