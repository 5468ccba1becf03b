"""Every list of quarantine reasons outside credits_warehouse/quarantine.py is held equal to it:
fct_event_quarantine's accepted_values test, and the README's list in the order the checks
apply. The dbt models that decide the reasons must name each one, and none other."""

from __future__ import annotations

import re

import yaml

from credits_warehouse.quarantine import EVENT_REASONS, QUARANTINE_REASONS, REFERENCE_REASONS
from dagster_project.resources import DBT_PROJECT_DIR

REPO = DBT_PROJECT_DIR.parent


def test_marts_yaml_accepts_exactly_the_reasons():
    marts = yaml.safe_load(
        (DBT_PROJECT_DIR / "models" / "marts" / "_marts__models.yml").read_text()
    )
    (model,) = [m for m in marts["models"] if m["name"] == "fct_event_quarantine"]
    (column,) = [c for c in model["columns"] if c["name"] == "reason"]
    (accepted,) = [
        t["accepted_values"]
        for t in column["data_tests"]
        if isinstance(t, dict) and "accepted_values" in t
    ]
    assert accepted["arguments"]["values"] == list(QUARANTINE_REASONS)


def test_readme_lists_every_reason_in_order():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("Rejected rows go to `marts.fct_event_quarantine`")
    paragraph = readme[start : readme.index("\n\n", start)]
    assert re.findall(r"`([a-z_]+)`", paragraph)[: len(QUARANTINE_REASONS)] == [
        *EVENT_REASONS,
        *REFERENCE_REASONS,
    ]


def test_the_models_name_exactly_the_reasons():
    named = set()
    for path in (DBT_PROJECT_DIR / "models" / "intermediate").rglob("int_*_validated.sql"):
        named |= set(re.findall(r"'([a-z_]+)'", path.read_text(encoding="utf-8")))
    assert set(QUARANTINE_REASONS) <= named
