"""SQL text made from the product's own constants, never from input."""

from __future__ import annotations


def sql_list(values: tuple[str, ...]) -> str:
    """Values as a SQL list literal: ('a', 'b')."""
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"
