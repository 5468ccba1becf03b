"""The entry-type groups are defined once per language: dbt/macros/entry_types.sql and
credits_warehouse/entry_types.py. Rendered with plain Jinja, the macros must list exactly the
Python groups, and every type they name must be a ledger entry type."""

from __future__ import annotations

import ast

import jinja2
import pytest

from credits_warehouse.entry_types import (
    CONSUMED_ENTRY_TYPES,
    DRAWN_ENTRY_TYPES,
    ENTRY_TYPES,
    EXPIRED_ENTRY_TYPES,
    SETTLED_ENTRY_TYPES,
    USAGE_ENTRIES,
    WITHDRAWN_ENTRY_TYPES,
)
from credits_warehouse.sql import sql_list
from dagster_project.resources import DBT_PROJECT_DIR

MACROS = (DBT_PROJECT_DIR / "macros" / "entry_types.sql").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("macro", "python"),
    [
        ("consumed_entry_types", CONSUMED_ENTRY_TYPES),
        ("drawn_entry_types", DRAWN_ENTRY_TYPES),
        ("expired_entry_types", EXPIRED_ENTRY_TYPES),
        ("settled_entry_types", SETTLED_ENTRY_TYPES),
        ("withdrawn_entry_types", WITHDRAWN_ENTRY_TYPES),
        ("usage_entry_types", USAGE_ENTRIES),
    ],
)
def test_sql_and_python_groups_agree(macro, python):
    rendered = jinja2.Environment().from_string(MACROS + "{{ " + macro + "() }}").render().strip()
    assert ast.literal_eval(rendered) == python
    assert rendered == sql_list(python)
    assert set(python) <= set(ENTRY_TYPES)
